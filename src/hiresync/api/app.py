"""``create_app()``: the one ASGI application (REST API, web pages, OAuth callbacks, health).

The runtime (database, job app, providers) opens in the lifespan; ``serve`` and ``demo``
also run a job worker in the same event loop unless ``HIRESYNC_RUN_WORKER=false``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

import hiresync
from hiresync.api import errors, graph_webhooks, health, zoom_webhooks
from hiresync.api.v1 import router as v1_router
from hiresync.config import Settings, get_settings
from hiresync.jobs.worker import supervise_worker
from hiresync.runtime import Runtime, session_secret

log = structlog.get_logger(__name__)

DESCRIPTION = """
Calendar integrations for hiring platforms. Authenticate with an organization's API key:
`Authorization: Bearer hs_…` (create one with `hiresync apikey create`).
Errors always come as `{"error": {"code", "message", "hint"}}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    mounts: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The application. ``mounts`` adds ASGI apps under path prefixes (the demo mounts the
    provider sandboxes this way)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.build(settings)
        await rt.start()
        app.state.runtime = rt
        worker = asyncio.create_task(supervise_worker(rt)) if settings.run_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            if runtime is None:
                await rt.close()

    app = FastAPI(
        title="hiresync", version=hiresync.__version__, description=DESCRIPTION, lifespan=lifespan
    )
    errors.install(app)
    health.install(app)
    app.include_router(graph_webhooks.router)
    app.include_router(v1_router)
    app.include_router(zoom_webhooks.router)
    from hiresync.web import routes as web_routes

    web_routes.install(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="hiresync_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=12 * 3600,
    )
    for prefix, sub in (mounts or {}).items():
        app.mount(prefix, sub)
    return app
