"""Running a job worker: in its own process (``hiresync worker``) or inside the server.

A worker is two Procrastinate workers sharing the process and its pools, one per queue
(``jobs.tasks``): calendar syncs (``calendars``) and everything else (``default``), each
with its own number of slots. A sync waits on a remote server for as long as that server
takes, and a company's CalDAV server that stopped answering holds its slot until the
client's timeout; with one shared pool, a few of them would hold every slot while
interview pushes, candidate e-mails and webhooks queued behind them. Each pool fetches
only its own queue, so neither waits for the other.

Here rather than beside the web application so that a standalone worker starts
without importing the API, pages and their templates.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from hiresync.runtime import Runtime

log = structlog.get_logger(__name__)


async def run_worker(
    runtime: Runtime,
    *,
    concurrency: int = 4,
    calendar_concurrency: int = 2,
    name: str = "in-process",
) -> None:
    """Both pools until cancelled; one that stops (the database went away) stops the other,
    and the caller (``supervise_worker``) starts both again."""
    from hiresync.jobs.tasks import CALENDAR_QUEUE, DEFAULT_QUEUE

    pools = {DEFAULT_QUEUE: concurrency, CALENDAR_QUEUE: calendar_concurrency}
    async with asyncio.TaskGroup() as group:
        for queue, slots in pools.items():
            group.create_task(
                runtime.jobs.run_worker_async(
                    queues=[queue],
                    concurrency=slots,
                    name=f"{name}:{queue}",
                    install_signal_handlers=False,
                    additional_context={"runtime": runtime},
                    update_heartbeat_interval=5,
                    fetch_job_polling_interval=2,
                )
            )


async def supervise_worker(runtime: Runtime, *, restart_after: float = 5.0, **options: Any) -> None:
    """Keep a worker running: Procrastinate stops its worker when the database goes away
    (a restart, a failover); jobs are safe in the database, so start again and carry on."""
    while True:
        try:
            await run_worker(runtime, **options)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any worker crash: log it and restart
            log.error(
                "job worker stopped; restarting", error=repr(exc), after_seconds=restart_after
            )
            await asyncio.sleep(restart_after)
