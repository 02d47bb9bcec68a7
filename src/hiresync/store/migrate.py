"""Schema migrations (Alembic) for our tables and the job engine's, in one command.

Procrastinate's own schema is applied by a migration of ours, so one ``hiresync
migrate`` brings a database from empty to current, and two processes racing to
migrate are serialised by an advisory lock.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from hiresync.store.db import sqlalchemy_url

_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 724_118_001  # advisory lock key: "hiresync migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(uri: str, revision: str = "head") -> None:
    """Apply every pending migration."""
    engine = create_engine(sqlalchemy_url(uri))
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def pending(uri: str) -> list[str]:
    """Revisions not yet applied (empty when the schema is current)."""
    engine = create_engine(sqlalchemy_url(uri))
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(alembic_config())
    heads = {rev.revision for rev in script.walk_revisions()}
    if current & heads:
        applied = {r.revision for r in script.iterate_revisions(tuple(current), "base")}
        return sorted(heads - applied)
    return sorted(heads)


_checked: set[str] = set()


def pending_async_safe(uri: str) -> list[str]:
    """``pending`` once per process and URI (readiness probes call it often; the schema
    only changes by running ``hiresync migrate``, which restarts nothing we hold)."""
    if uri in _checked:
        return []
    left = pending(uri)
    if not left:
        _checked.add(uri)
    return left
