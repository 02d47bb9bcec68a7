"""Running a job worker: in its own process (``hiresync worker``) or inside the server.

Here rather than beside the web application so that a standalone worker starts
without importing the API, pages and their templates.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from hiresync.runtime import Runtime

log = structlog.get_logger(__name__)


async def run_worker(runtime: Runtime, *, concurrency: int = 4, name: str = "in-process") -> None:
    await runtime.jobs.run_worker_async(
        concurrency=concurrency,
        name=name,
        install_signal_handlers=False,
        additional_context={"runtime": runtime},
        update_heartbeat_interval=5,
        fetch_job_polling_interval=2,
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
