"""``POST /webhooks/microsoft/calendar`` (and ``…/lifecycle``): Microsoft Graph's change and
lifecycle notifications for synced calendars.

A POST with ``?validationToken=…`` is Graph's handshake when a subscription is created: the
token goes back as is, 200 ``text/plain``, before anything else (Graph allows 10 seconds).
Anything else is a notification collection, verified and stored by
``services.calendar_notifications`` and answered 202 at once (Graph allows 3 seconds); a
forged, unknown or malformed one is a 4xx that says why, with nothing stored.

Graph may send thousands a second, so both are plain Starlette routes (FastAPI's dependency
solving cost twice the handler's own work) and the router is included ahead of the API's,
which a request would otherwise be matched against first.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from hiresync.providers.microsoft.notifications import validation_token
from hiresync.runtime import Runtime
from hiresync.services import calendar_notifications
from hiresync.services.calendar_subscriptions import LIFECYCLE_PATH, NOTIFY_PATH

router = APIRouter(include_in_schema=False)


async def _body(request: Request) -> bytes:
    limit = calendar_notifications.MAX_BODY
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise calendar_notifications.TooLarge(f"A notification body is at most {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise calendar_notifications.TooLarge(f"A notification body is at most {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _intake(request: Request, runtime: Runtime) -> calendar_notifications.Intake:
    """One intake per application, so concurrent POSTs share their transactions."""
    intake = getattr(request.app.state, "graph_intake", None)
    if intake is None:
        intake = request.app.state.graph_intake = calendar_notifications.Intake(runtime)
    return intake


async def receive(request: Request) -> Response:
    """The handshake, or a notification collection stored (both URLs take either)."""
    token = validation_token(request.query_params) if request.scope["query_string"] else None
    if token is not None:
        return PlainTextResponse(token)
    intake = _intake(request, request.app.state.runtime)
    receipt = await intake.receive(await _body(request))
    return Response(orjson.dumps(receipt.body), 202, media_type="application/json")


router.add_route(NOTIFY_PATH, receive, methods=["POST"])
router.add_route(LIFECYCLE_PATH, receive, methods=["POST"])
