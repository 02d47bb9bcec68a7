"""The job engine's guarantees hiresync relies on: a job deferred in a transaction exists
only if the transaction commits, bursts collapse into one waiting job without spoiling
the caller's transaction, and a job whose worker died is run again (or closed when a
newer one waits to do the same work)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from hiresync.jobs.engine import defer_in_transaction
from hiresync.jobs.tasks import retry_stalled_jobs
from hiresync.runtime import Runtime


def jobs_for(uri: str, marker: str) -> list[tuple[str, str]]:
    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT status::text, queueing_lock FROM procrastinate_jobs WHERE args->>'organization_id' = %s",
            (marker,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


async def test_job_deferred_in_a_rolled_back_transaction_never_exists(
    runtime: Runtime, stack: Any
) -> None:
    marker = str(uuid.uuid4())

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with runtime.db.transaction() as session:
            await defer_in_transaction(
                runtime.jobs,
                session,
                "refresh_directory",
                args={"organization_id": marker},
                schedule_in={"hours": 1},
            )
            raise Boom
    assert jobs_for(stack.database_uri, marker) == []


async def test_a_burst_of_refreshes_leaves_one_waiting_job(runtime: Runtime, stack: Any) -> None:
    marker = str(uuid.uuid4())
    queued = []
    for _ in range(5):
        async with runtime.db.transaction() as session:
            queued.append(
                await defer_in_transaction(
                    runtime.jobs,
                    session,
                    "refresh_directory",
                    args={"organization_id": marker},
                    queueing_lock=f"directory:{marker}",
                    schedule_in={"hours": 1},
                )
            )
    assert queued[0] is not None and queued[1:] == [None] * 4
    assert jobs_for(stack.database_uri, marker) == [("todo", f"directory:{marker}")]


async def test_a_collapsed_deferral_leaves_the_change_to_commit(
    runtime: Runtime, stack: Any
) -> None:
    """A second request under the same queueing lock is a no-op, and the caller's own
    writes in that transaction still commit (not an aborted transaction and a 500)."""
    marker = str(uuid.uuid4())
    for n in range(2):
        async with runtime.db.transaction() as session:
            await defer_in_transaction(
                runtime.jobs,
                session,
                "refresh_directory",
                args={"organization_id": marker},
                queueing_lock=f"directory:{marker}",
                schedule_in={"hours": 1},
            )
            # the caller goes on in the same transaction after a refused deferral
            assert (await session.execute(text("SELECT :n"), {"n": n})).scalar() == n
    assert jobs_for(stack.database_uri, marker) == [("todo", f"directory:{marker}")]


def _stalled_job(uri: str, marker: str, key: str | None = None) -> int:
    """A job left "doing" by a worker that stopped beating ten minutes ago; ``key`` is
    its queueing lock and lock."""
    with psycopg.connect(uri, autocommit=True) as conn:
        worker = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '10 minutes') RETURNING id"
        ).fetchone()[0]
        return conn.execute(
            "INSERT INTO procrastinate_jobs "
            "(queue_name, task_name, args, status, worker_id, queueing_lock, lock) "
            "VALUES ('default', 'hiresync:refresh_directory', %s, 'doing', %s, %s, %s) "
            "RETURNING id",
            (psycopg.types.json.Jsonb({"organization_id": marker}), worker, key, key),
        ).fetchone()[0]


def _context(runtime: Runtime) -> Any:
    return type(
        "Ctx",
        (),
        {
            "app": runtime.jobs,
            "job": type("J", (), {"id": -1})(),
            "additional_context": {"runtime": runtime},
        },
    )()


async def test_a_dead_job_superseded_by_a_waiting_one_stops_holding_its_lock(
    runtime: Runtime, stack: Any
) -> None:
    """The worker died running a refresh while a newer one waits under the same queueing
    lock: the dead one cannot go back to the queue, so it is closed, and the waiting one
    (which does the same work) is no longer blocked by its lock."""
    marker = str(uuid.uuid4())
    key = f"directory:{marker}"
    dead = _stalled_job(stack.database_uri, marker, key)
    async with runtime.db.transaction() as session:
        waiting = await defer_in_transaction(
            runtime.jobs,
            session,
            "refresh_directory",
            args={"organization_id": marker},
            queueing_lock=key,
            lock=key,
        )
    assert waiting is not None
    await retry_stalled_jobs(_context(runtime), timestamp=0)
    with psycopg.connect(stack.database_uri) as conn:
        states = dict(
            conn.execute(
                "SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(%s)",
                ([dead, waiting],),
            ).fetchall()
        )
    assert states == {dead: "failed", waiting: "todo"}


async def test_job_of_a_dead_worker_is_put_back(runtime: Runtime, stack: Any) -> None:
    marker = str(uuid.uuid4())
    job = _stalled_job(stack.database_uri, marker)
    await retry_stalled_jobs(_context(runtime), timestamp=0)
    with psycopg.connect(stack.database_uri) as conn:
        status, attempts = conn.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs WHERE id = %s", (job,)
        ).fetchone()
    assert status in ("todo", "doing", "succeeded") and attempts >= 1
