"""The Procrastinate app: connector, task registry, in-transaction deferral, worker runner."""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.jobs.tasks import build_blueprint


def build_job_app(uri: str) -> procrastinate.App:
    """A job app on the given libpq URI with every hiresync task registered.

    The engine's own connections (a worker taking, finishing or retrying a job) commit
    without waiting for the disk flush: a job state lost to a database server crash only
    makes that job run again, and every task is idempotent by design (the database is
    the source of truth, jobs are triggers). Jobs deferred by the app go through the
    app's own transaction (``defer_in_transaction``), which stays durable. Two flushes
    per job were what bounded a burst of a thousand interviews.
    """
    connector = procrastinate.PsycopgConnector(
        conninfo=uri,
        min_size=1,
        max_size=5,
        kwargs={"options": "-c synchronous_commit=off"},
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(build_blueprint(), namespace="hiresync")
    return app


async def raw_connection(session: AsyncSession) -> Any:
    """The psycopg connection under ``session``, inside its open transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def defer_in_transaction(
    app: procrastinate.App, session: AsyncSession, task_name: str, **options: Any
) -> int | None:
    """Queue a job that becomes visible only if ``session``'s transaction commits.

    ``options`` are ``configure`` options (``lock``, ``queueing_lock``, ``schedule_in``)
    plus the task's keyword arguments under ``args``. A job already waiting under the
    same queueing lock makes this a no-op (None), which is what a burst wants.
    """
    args = options.pop("args", {})
    task = app.tasks[f"hiresync:{task_name}"]
    try:
        async with session.begin_nested():
            # Asked for inside the block: SQLAlchemy emits the SAVEPOINT only when the
            # session next uses its connection, and a refused insert must roll back to it
            # rather than abort the caller's whole transaction.
            connection = await raw_connection(session)
            return await task.configure(connection=connection, **options).defer_async(**args)
    except AlreadyEnqueued:
        return None
