"""Errors a use case reports to its caller; the doors turn them into 4xx answers or CLI exits.

Each carries a stable ``code``, a sentence saying what is wrong, and a ``hint`` saying
how to fix it, because a hiring platform's engineer reads these in logs and UIs.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class AlreadyExists(ServiceError):
    status = 409
    code = "already_exists"


class NotConnected(ServiceError):
    status = 409
    code = "not_connected"


class ConsentFailed(ServiceError):
    """An admin-consent callback that cannot complete (bad state, replay, refusal)."""

    status = 400
    code = "consent_failed"


class UpstreamError(ServiceError):
    """The provider failed in a way the caller can retry later."""

    status = 502
    code = "provider_unavailable"
