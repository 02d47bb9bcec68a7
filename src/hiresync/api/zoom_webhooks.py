"""``POST /webhooks/zoom``: Zoom's event notifications. Verification, replay protection and
what each event does are in ``services.zoom_webhooks``; this door only reads the raw body
(the signature covers its exact bytes, and no Zoom event is larger than ``MAX_BODY``) and
sends any e-mails after answering."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hiresync.api.deps import RuntimeDep
from hiresync.services import zoom_webhooks

router = APIRouter(include_in_schema=False)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > zoom_webhooks.MAX_BODY:
        raise zoom_webhooks.too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > zoom_webhooks.MAX_BODY:
            raise zoom_webhooks.too_large()
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/zoom")
async def zoom_webhook(request: Request, runtime: RuntimeDep) -> JSONResponse:
    answer = await zoom_webhooks.receive(runtime, request.headers, await _body(request))
    return JSONResponse(answer.body)
