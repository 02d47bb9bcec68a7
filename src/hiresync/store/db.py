"""Where the database is, and the async engine/session factory every door shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy.ext.asyncio import (
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
        engine = create_async_engine(
            sqlalchemy_url(uri), pool_size=pool_size, max_overflow=10, pool_pre_ping=True
        )
        return cls(
            uri=uri, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False)
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
