"""Pages that refresh themselves: a server-sent event stream that says ``changed`` whenever
a fingerprint of what the page shows moves (issue #6: "the UI refreshes by itself when
something changes; no manual refresh").

The stream polls the fingerprint (one small query a second) rather than listening to
PostgreSQL notifications: the writers are the API, the worker and other processes, and a
poll needs no connection held per open page. It ends when the client goes away (Starlette
cancels it; we also check) or after ``STREAM_SECONDS``, when ``EventSource`` reconnects by
itself with ``Last-Event-ID``, so no change is missed in between. The page's script then
fetches the part that changed and swaps it in place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.runtime import Runtime

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0  # a comment line, so proxies and the server notice a dead client
STREAM_SECONDS = 300.0

Fingerprint = Callable[[AsyncSession], Awaitable[str | None]]


def stream(request: Request, runtime: Runtime, fingerprint: Fingerprint, since: str) -> Response:
    """The event stream for one page: ``changed`` (with the new fingerprint as its id)
    whenever ``fingerprint`` differs from the last one sent, or from ``since``; a
    fingerprint of None (the thing is gone) ends the stream."""
    last = request.headers.get("last-event-id") or since
    return StreamingResponse(
        _changes(request, runtime, fingerprint, last),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _changes(
    request: Request, runtime: Runtime, fingerprint: Fingerprint, last: str
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    started = beat = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        async with runtime.db.sessions() as session:
            version = await fingerprint(session)
        if version is None:
            return
        if version != last:
            last, beat = version, time.monotonic()
            yield f"id: {version}\nevent: changed\ndata: {version}\n\n"
        elif time.monotonic() - beat >= HEARTBEAT_SECONDS:
            beat = time.monotonic()
            yield ": still here\n\n"
        await asyncio.sleep(POLL_SECONDS)
