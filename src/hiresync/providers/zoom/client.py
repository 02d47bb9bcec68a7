"""An HTTP client for Zoom's REST API ``/v2`` on behalf of one user: tokens, retries, rate
limits, paging and error mapping.

Everything that is about the *wire* lives here and nowhere else:

* **Tokens** come from ``get_token(force_refresh) -> str``; the client never sees the OAuth
  grant or the database. A ``401`` (code 124 "Invalid access token." / "Access token is
  expired.") is answered by asking for a fresh token once and repeating the request; a
  second 401 is ``AuthRevoked``.
* **Retries** are bounded (``RetryPolicy``) with exponential backoff and jitter, on 5xx and
  transport errors — but only where repeating cannot do a write twice. ``POST …/meetings``
  has no idempotency key at Zoom, so a create whose request may have reached Zoom (a 5xx, a
  read error, a dropped connection) is never repeated: it raises :class:`OutcomeUnknown`
  and the adapter looks the meeting up by its key instead. A create that never left
  (connection refused, connect timeout) is retried like anything else.
* **429** comes in two kinds, told apart by ``X-RateLimit-Type`` (developers.zoom.us "Rate
  limits"): ``QPS`` (per-second; no ``Retry-After``) is waited out with a short backoff and
  retried; ``Daily-limit`` (among others, 100 meeting creates/updates per user per UTC day,
  ``Retry-After`` = next midnight UTC) raises :class:`DailyLimitReached` at once, saying when
  it resets — a worker never sleeps for hours. The 2023 spec documents the same limit as
  HTTP **300** code 300 ("A maximum of 100 meetings can be created/updated…"); both are read.
* **Errors** ``{code, message[, errors]}`` are translated once, here, into
  ``hiresync.providers.errors`` with messages a recruiter can act on:

  ====================  ==========================================================
  401 (any code)        AuthRevoked (after one refresh)
  404 code 1001         AuthRevoked: the connected Zoom user no longer exists
  400 code 4711         AuthRevoked: the grant lacks the scopes we need
  404 code 3001 / 404   NotFound
  400 code 300          BadRequest naming each field of ``errors[]``
  400 code 3161         BadRequest: the user may not host meetings
  400 code 3002 / 3007  Conflict: in progress / already ended
  400 other (3000 …)    BadRequest with Zoom's message
  300 / 429 Daily       DailyLimitReached (a RateLimited)
  429 QPS               RateLimited after the retries are spent
  5xx                   ProviderUnavailable after the retries are spent
  ====================  ==========================================================

httpx is used directly rather than through Authlib's OAuth client: the bearer token belongs
to the caller (it is stored encrypted and rotated elsewhere), and the retry rules above are
Zoom's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import quote

import anyio
import httpx
import structlog

from hiresync.providers.base import TokenGetter
from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    Conflict,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from hiresync.providers.retry import RetryPolicy as BaseRetryPolicy

from .wire import (
    MeetingCreateWire,
    MeetingListItemWire,
    MeetingListWire,
    MeetingUpdateWire,
    MeetingWire,
    UserSettingsWire,
    UserWire,
)

log = structlog.get_logger(__name__)

PROVIDER = "zoom"
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
RETRYABLE_5XX = frozenset({500, 502, 503, 504})
RECONNECT = "Reconnect Zoom under Settings › Connected applications."
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_DAILY_300 = re.compile(r"maximum of (\d+) meetings can be created/updated", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RetryPolicy(BaseRetryPolicy):
    """Zoom's bounds: fewer, shorter retries than Graph's (its limits are per second)."""

    max_retries: int = 4
    max_delay: float = 10.0
    max_retry_after: float = 60.0
    max_pages: int = 200


class DailyLimitReached(RateLimited):
    """Zoom's per-user daily quota is spent (100 meeting creates/updates a day, or a free
    plan's daily API cap); ``resets_at`` is when it starts again (midnight UTC)."""

    def __init__(self, message: str, *, resets_at: datetime, retry_after: float, **kw: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kw)
        self.resets_at = resets_at


class OutcomeUnknown(ProviderUnavailable):
    """A create whose answer never came back: Zoom may or may not have made the meeting."""


# -- reading Zoom's answers ------------------------------------------------------------------


def zoom_error(response: httpx.Response) -> tuple[int | None, str, list[str]]:
    """Zoom's ``code``, ``message`` and ``errors[]`` as "field: message" strings."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, f"HTTP {response.status_code} {response.reason_phrase}".strip(), []
    code = body.get("code") if isinstance(body.get("code"), int) else None
    fields = [
        f"{item.get('field')}: {item.get('message')}"
        for item in body.get("errors") or ()
        if isinstance(item, dict)
    ]
    return code, str(body.get("message") or body.get("reason") or ""), fields


def reset_time(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After`` as an instant: delta-seconds, Zoom's ``yyyy-MM-ddTHH:mm:ssZ`` or an
    HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return now + timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def next_utc_midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def daily_limit(
    response: httpx.Response, now: datetime, *, meeting_write: bool
) -> DailyLimitReached:
    """The daily-quota refusal, with when it resets (``Retry-After``, else midnight UTC)."""
    resets = reset_time(response.headers.get("Retry-After"), now) or next_utc_midnight(now)
    code, message, _ = zoom_error(response)
    limit = response.headers.get("X-RateLimit-Limit")
    if limit is None and (found := _DAILY_300.search(message)):
        limit = found.group(1)
    what = "meeting creations and updates" if meeting_write else "Zoom API requests"
    left = max(0.0, (resets - now).total_seconds())
    hours, minutes = divmod(math.ceil(left / 60), 60)
    then = "the meeting will be created or updated" if meeting_write else "hiresync will try again"
    return DailyLimitReached(
        f"The daily Zoom limit of this host was reached ({f'{limit} ' if limit else ''}{what} "
        f"a day). It resets at {resets.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
        f"(in {hours} h {minutes} min); {then} after that.",
        resets_at=resets,
        retry_after=left,
        provider=PROVIDER,
        code=str(code) if code is not None else None,
    )


def error_for(response: httpx.Response) -> ProviderError:
    """Translate an unsuccessful Zoom answer (other than a daily limit) into our errors."""
    code, message, fields = zoom_error(response)
    status = response.status_code
    kw: dict[str, Any] = {"provider": PROVIDER, "code": str(code) if code is not None else None}
    if status == 401:
        return AuthRevoked(f"Zoom no longer accepts this connection ({message}). {RECONNECT}", **kw)
    if code == 1001:
        return AuthRevoked(
            f"The connected Zoom user no longer exists in its Zoom account ({message}). "
            f"{RECONNECT}",
            **kw,
        )
    if code == 4711:
        return AuthRevoked(
            f"This Zoom connection lacks a permission hiresync needs ({message}). {RECONNECT}",
            **kw,
        )
    if status == 404:
        return NotFound(f"The Zoom meeting no longer exists ({message}).", **kw)
    if status == 429:
        return RateLimited(
            f"Zoom is receiving too many requests for this account ({message}).",
            retry_after=0.0,
            **kw,
        )
    if status >= 500:
        return ProviderUnavailable(f"Zoom is unavailable ({status}: {message}).", **kw)
    if code == 300 and fields:
        return BadRequest(f"Zoom refused the meeting details: {'; '.join(fields)}.", **kw)
    if code == 3161:
        return BadRequest(
            f"This Zoom user may not host or schedule meetings ({message}). "
            "Ask the Zoom account's admin to allow it, or connect another Zoom user.",
            **kw,
        )
    if code in (3002, 3007):
        return Conflict(f"Zoom cannot change this meeting now: {message}", **kw)
    if status in (300, 400):
        return BadRequest(f"Zoom refused the request: {message}", **kw)
    return ProviderError(f"Zoom answered {status}: {message}", **kw)


class ZoomClient:
    """Zoom REST ``/v2`` for the user whose tokens ``get_token`` gives (``me``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        get_token: TokenGetter,
        retry: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = api_url.rstrip("/") + "/v2"
        self._http = http
        self._get_token = get_token
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    # -- the one place requests are sent ---------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> Any:
        """Send one logical request (with retries); its JSON, or None for 204."""
        url = f"{self.base_url}/{path}"
        creates = method == "POST"  # the one call that is not safe to repeat
        retries, refreshed, rejected = 0, False, None
        while True:
            token = await self._token(rejected)
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=_headers(token)
                )
            except httpx.TransportError as exc:
                if creates and not isinstance(exc, _NEVER_SENT):
                    raise OutcomeUnknown(
                        f"Zoom's answer to creating the meeting was lost ({type(exc).__name__}).",
                        provider=PROVIDER,
                    ) from exc
                if retries >= self._retry.max_retries:
                    raise ProviderUnavailable(
                        f"Zoom is unreachable ({type(exc).__name__}).", provider=PROVIDER
                    ) from exc
                await self._backoff(path, retries, self._retry.delay(retries), type(exc).__name__)
                retries += 1
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed, rejected = True, token
                log.info("zoom.token_refresh", path=path)
                continue
            if status == 300 and _DAILY_300.search(zoom_error(response)[1]):
                raise daily_limit(response, self._clock(), meeting_write=True)
            if status == 429:
                if response.headers.get("X-RateLimit-Type", "").lower() == "daily-limit":
                    raise daily_limit(response, self._clock(), meeting_write=_writes(method, path))
                delay = self._retry_after(response) or self._retry.delay(retries)
                if retries >= self._retry.max_retries or delay > self._retry.max_retry_after:
                    error = error_for(response)
                    raise RateLimited(error.message, retry_after=delay, provider=PROVIDER)
                await self._backoff(path, retries, delay, "429 QPS")
                retries += 1
                continue
            if status in RETRYABLE_5XX:
                if creates:
                    raise OutcomeUnknown(error_for(response).message, provider=PROVIDER)
                if retries < self._retry.max_retries:
                    delay = self._retry_after(response) or self._retry.delay(retries)
                    await self._backoff(path, retries, delay, str(status))
                    retries += 1
                    continue
            if not response.is_success:
                raise error_for(response)
            return response.json() if response.content else None

    async def _token(self, rejected: str | None) -> str:
        """The current token; after a 401, a new one unless another request already renewed it."""
        token = await self._get_token(False)
        if rejected is not None and token == rejected:
            token = await self._get_token(True)
        return token

    def _retry_after(self, response: httpx.Response) -> float | None:
        now = self._clock()
        when = reset_time(response.headers.get("Retry-After"), now)
        return None if when is None else max(0.0, (when - now).total_seconds())

    async def _backoff(self, path: str, retries: int, delay: float, reason: str) -> None:
        log.warning(
            "zoom.retry", path=path, attempt=retries + 1, delay=round(delay, 3), reason=reason
        )
        await self._sleep(delay)

    # -- endpoints -------------------------------------------------------------------------

    async def get_user(self, user: str = "me") -> UserWire:
        """``GET /users/{userId}``: who the token belongs to; ``type`` 1 is a Basic user."""
        return cast(UserWire, await self.request("GET", _user(user)))

    async def get_user_settings(self, user: str = "me") -> UserSettingsWire:
        """``GET /users/{userId}/settings``: passcode policy and ``feature.concurrent_meeting``."""
        return cast(UserSettingsWire, await self.request("GET", _user(user, "settings")))

    async def iter_meetings(
        self, user: str = "me", kind: str = "upcoming", page_size: int = 300
    ) -> AsyncIterator[list[MeetingListItemWire]]:
        """``GET /users/{userId}/meetings?type=…``, one page at a time (``next_page_token``)."""
        params = {"type": kind, "page_size": str(page_size)}
        for _ in range(self._retry.max_pages):
            body = cast(
                MeetingListWire, await self.request("GET", _user(user, "meetings"), params=params)
            )
            yield list(body.get("meetings") or [])
            token = body.get("next_page_token")
            if not token:
                return
            params = {**params, "next_page_token": token}
        raise ProviderError(
            f"Zoom's meeting list did not end after {self._retry.max_pages} pages",
            provider=PROVIDER,
        )

    async def create_meeting(self, body: MeetingCreateWire, user: str = "me") -> MeetingWire:
        """``POST /users/{userId}/meetings`` → 201 with ``id``, ``join_url``, ``password``."""
        return cast(MeetingWire, await self.request("POST", _user(user, "meetings"), json=body))

    async def get_meeting(self, meeting_id: str) -> MeetingWire:
        return cast(MeetingWire, await self.request("GET", _meeting(meeting_id)))

    async def update_meeting(self, meeting_id: str, body: MeetingUpdateWire) -> None:
        """``PATCH /meetings/{meetingId}`` → 204 (counts against the daily write quota)."""
        await self.request("PATCH", _meeting(meeting_id), json=body)

    async def delete_meeting(self, meeting_id: str) -> None:
        """``DELETE /meetings/{meetingId}`` → 204."""
        await self.request("DELETE", _meeting(meeting_id))


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _user(user: str, *rest: str) -> str:
    return "/".join(("users", quote(user, safe="@"), *rest))


def _meeting(meeting_id: str) -> str:
    return "meetings/" + quote(str(meeting_id), safe="")


def _writes(method: str, path: str) -> bool:
    """Whether a call counts against the 100 meeting creates/updates a day."""
    return method in ("POST", "PATCH") and "meetings" in path
