"""Wire helpers shared by the identity and Graph routes: base URLs, error bodies, timestamps.

Every absolute URL the sandbox returns is built from the incoming request (honouring
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` and the mount prefix), never hard-coded, so
the same app works standalone, mounted under ``/sandbox/microsoft`` and behind MSAL's
https-only transport.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

GRAPH_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


def base_url(request: Request) -> str:
    """Scheme + host + mount prefix of this sandbox, as the client reached it."""
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    root = request.scope.get("root_path", "")
    return f"{proto}://{host.split(',')[0].strip()}{root}"


def graph_root(request: Request) -> str:
    """Base of Graph v1.0 URLs (``…/graph/v1.0``)."""
    return f"{base_url(request)}/graph/v1.0"


def request_ids(request: Request) -> tuple[str, str]:
    """(request-id, client-request-id) for a Graph call; the latter echoes the client's."""
    request_id = str(uuid.uuid4())
    return request_id, request.headers.get("client-request-id") or request_id


def graph_headers(request: Request) -> dict[str, str]:
    request_id, client_request_id = request_ids(request)
    return {
        "request-id": request_id,
        "client-request-id": client_request_id,
        "OData-Version": "4.0",
    }


def graph_json(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A Graph JSON response with Graph's content type and correlation headers."""
    merged = graph_headers(request) | (headers or {})
    return JSONResponse(body, status_code=status, headers=merged, media_type=GRAPH_CONTENT_TYPE)


def graph_error(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Graph's error body: ``{"error": {"code", "message", "innerError": {…}}}``."""
    merged = graph_headers(request) | (headers or {})
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": merged["request-id"],
                "client-request-id": merged["client-request-id"],
            },
        }
    }
    return JSONResponse(body, status_code=status, headers=merged, media_type=GRAPH_CONTENT_TYPE)


def aad_error_body(request: Request, error: str, code: int, message: str) -> dict[str, Any]:
    """The identity platform's token-error JSON (``error_description`` starts with AADSTS)."""
    trace_id, correlation_id = (
        str(uuid.uuid4()),
        (request.headers.get("client-request-id") or str(uuid.uuid4())),
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
    )
    return {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{base_url(request)}/error?code={code}",
    }


def aad_error(request: Request, status: int, error: str, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        aad_error_body(request, error, code, message),
        status_code=status,
        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
    )


def graph_datetime(value: datetime) -> str:
    """Exchange's 7-digit fractional format: ``2019-03-15T12:00:00.0000000``."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
