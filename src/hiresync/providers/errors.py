"""The small error hierarchy every provider translates its failures into, once, at the edge."""

from __future__ import annotations


class ProviderError(Exception):
    """Base for anything a provider can fail with."""

    def __init__(self, message: str, *, provider: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code


class AuthRevoked(ProviderError):
    """Credentials are no longer accepted (consent revoked, secret expired, token refused)."""


class RateLimited(ProviderError):
    """The provider asked us to slow down; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SyncTokenExpired(ProviderError):
    """An incremental cursor is no longer valid: resynchronise from scratch."""


class NotFound(ProviderError):
    """The resource does not exist (or is not visible to us)."""


class Conflict(ProviderError):
    """A precondition failed: the resource changed underneath us."""


class ProviderUnavailable(ProviderError):
    """A transient failure (5xx, timeout, connection refused) that outlasted our retries."""


class BadRequest(ProviderError):
    """The provider rejected the request as invalid; retrying will not help."""


class UnsupportedCloud(ProviderError):
    """The tenant lives in a national cloud this deployment cannot reach."""

    def __init__(self, message: str, *, cloud: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.cloud = cloud
