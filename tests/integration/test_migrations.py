"""The migrations build exactly the tables the code declares, so a deployment that ran
``hiresync migrate`` never meets a column the code expects but the database lacks."""

from __future__ import annotations

import httpx
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from hiresync.store import migrate
from hiresync.store.db import sqlalchemy_url
from hiresync.store.tables import Base
from tests.conftest import Stack


def test_migrated_database_matches_the_declared_tables(database_uri: str) -> None:
    engine = create_engine(sqlalchemy_url(database_uri))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": False,
                    # The job engine's tables are Procrastinate's, applied from its package.
                    "include_name": lambda name, kind, _parent: (
                        kind != "table" or not (name or "").startswith("procrastinate")
                    ),
                },
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], differences
    assert migrate.pending(database_uri) == []


def test_readiness_knows_the_newest_migration() -> None:
    """``/readyz`` compares the database with ``migrate.HEAD`` instead of loading Alembic:
    the constant must follow every new migration."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(migrate.alembic_config()).get_current_head() == migrate.HEAD


def test_a_migrated_server_says_it_is_ready(stack: Stack) -> None:
    answer = httpx.get(f"{stack.url}/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "migrations": "ok"}
