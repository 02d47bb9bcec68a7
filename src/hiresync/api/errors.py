"""One JSON error shape for every failure: ``{"error": {"code", "message", "hint"?, "field"?}}``."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hiresync.services.errors import ServiceError
from hiresync.store.crypto import SecretError

log = structlog.get_logger(__name__)


def error_body(code: str, message: str, **extra: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, **extra}}


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where or 'request'}: {first.get('msg', 'is invalid')}", where


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        body = error_body("invalid_input", message, hint="See /docs for the request shape.")
        if field:
            body["error"]["field"] = field
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(
            error_body(code.get(exc.status_code, "http_error"), detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(SecretError)
    async def _secret(request: Request, exc: SecretError) -> JSONResponse:
        log.error("stored secret unreadable", error=str(exc))
        return JSONResponse(
            error_body(
                "secret_unreadable",
                "A stored credential cannot be decrypted.",
                hint="Check HIRESYNC_ENCRYPTION_KEYS still holds the old keys.",
            ),
            status_code=503,
        )
