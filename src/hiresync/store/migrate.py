"""Schema migrations (Alembic) for our tables and the job engine's, in one command.

Procrastinate's own schema is applied by a migration of ours, so one ``hiresync
migrate`` brings a database from empty to current, and two processes racing to
migrate are serialised by an advisory lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from hiresync.store.db import sqlalchemy_url

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision under migrations/versions, so that a server can tell whether its
# database is current without loading Alembic (several MB a process); a test holds it
# to Alembic's own view of the head.
HEAD = "0014"

_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 724_118_001  # advisory lock key: "hiresync migrations"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(uri: str, revision: str = "head") -> None:
    """Apply every pending migration."""
    from alembic import command

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
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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


async def is_current(conn: AsyncConnection) -> bool:
    """Whether the database is at ``HEAD`` (for readiness probes: one cheap query)."""
    try:
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:  # no version table: never migrated
        return False
    return {row[0] for row in rows} == {HEAD}
