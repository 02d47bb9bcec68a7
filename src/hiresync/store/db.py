"""Where the database is, and the async engine/session factory every door shares.

A pooled connection is checked with a ping only when it has been idle for a while
(``_PING_AFTER``): SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout, one extra
round trip per transaction, which was a fifth of a push job's database time. A
connection that dies while busy (a server restart in the middle of a burst) fails that
one statement, and SQLAlchemy then invalidates the pool, as with ``pre_ping``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hiresync.config import Settings
from hiresync.store.embedded import DEFAULT_DATABASE, ensure_database, start_embedded


def libpq_uri(url: str) -> str:
    """A plain ``postgresql://`` URI (what psycopg and Procrastinate take)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    """The same URI with SQLAlchemy's psycopg 3 driver named."""
    return "postgresql+psycopg://" + libpq_uri(url)[len("postgresql://") :]


class DatabaseUnreachable(Exception):
    """The configured database cannot be used: the operator's problem, told plainly."""


def check_reachable(uri: str, timeout: int = 5) -> None:
    """Connect once, so a wrong URL or a stopped server is said at once rather than as a
    connection pool giving up half a minute later."""
    try:
        psycopg.connect(uri, connect_timeout=timeout).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(reason) from exc


def resolve_database_uri(settings: Settings) -> str:
    """The configured server (checked reachable), or the embedded one started on demand
    (libpq form)."""
    if settings.database_url:
        uri = libpq_uri(settings.database_url)
        check_reachable(uri)
        return uri
    return ensure_database(start_embedded(settings.data_dir), DEFAULT_DATABASE)


@dataclass
class Database:
    """One engine and session factory per process."""

    uri: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, uri: str, *, pool_size: int = 10) -> Database:
        engine = create_async_engine(sqlalchemy_url(uri), pool_size=pool_size, max_overflow=10)
        _ping_when_idle(engine)
        return cls(
            uri=uri, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False)
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection where each statement commits by itself: one round trip for a
        statement that is a whole transaction (no BEGIN, no COMMIT)."""
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def dispose(self) -> None:
        await self.engine.dispose()


_PING_AFTER = 5.0  # seconds idle in the pool before a connection is checked on checkout


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < _PING_AFTER:
            return  # new, or back from work a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as error:  # any failure: the pool opens a fresh connection
            raise exc.DisconnectionError(str(error)) from error
