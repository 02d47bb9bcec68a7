"""An HTTP client for Microsoft Graph v1.0: retries, throttling, paging and error mapping.

Everything that is about the *wire* lives here and nowhere else:

* **Tokens** come from a callable ``get_token(force_refresh) -> str``; the client
  never knows about MSAL or the database. A ``401`` is answered by asking for a
  fresh token once and repeating the request, which is how a token that expires
  in the middle of a long query is survived.
* **Retries** are bounded (``RetryPolicy.max_retries``) with exponential backoff and
  jitter. ``Retry-After`` on 429/503/504 is obeyed exactly; a server that asks for
  a longer pause than ``max_retry_after`` gets a ``RateLimited`` back at once so the
  caller (a job) can reschedule instead of holding a worker asleep.
* **Concurrency**: Outlook allows 4 concurrent requests per app per mailbox, so
  every request to ``/users/{id}/…`` holds a slot of a per-mailbox semaphore of 4,
  and every request holds a slot of an overall limiter
  (``microsoft_max_concurrency``). Slots are held only while a request is on the
  wire, never while backing off.
* **Errors** are translated once, here, into ``hiresync.providers.errors``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

import anyio
import httpx
import orjson
import structlog

from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    Conflict,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SyncTokenExpired,
)
from hiresync.providers.retry import RetryPolicy, retry_after_seconds

from .parse import (
    CalendarDelta,
    DeltaPage,
    merge_delta_pages,
    parse_delta_page,
    to_datetime_time_zone,
)
from .wire import (
    DeltaPageWire,
    EventWire,
    GetScheduleRequest,
    ScheduleInformationWire,
    SubscriptionRequest,
    SubscriptionWire,
    UserWire,
)

log = structlog.get_logger(__name__)

PROVIDER = "microsoft"
TokenGetter = Callable[[bool], Awaitable[str]]
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
USER_SELECT = "id,displayName,mail,userPrincipalName,proxyAddresses,accountEnabled"
EVENT_SELECT = "id,subject,start,end,isAllDay,showAs,sensitivity,iCalUId,isCancelled"
WRITTEN_SELECT = "id,iCalUId,subject,start,end,isCancelled,attendees,onlineMeeting"
PREFER_UTC = 'outlook.timezone="UTC"'
PREFER_IMMUTABLE_ID = 'IdType="ImmutableId"'
MAILBOX_CONCURRENCY = 4
EVENT_CHANGES = ("created", "updated", "deleted")
_USER_IN_PATH = re.compile(r"(?:^|/)users/([^/?(]+)", re.IGNORECASE)


class _MailboxSlots:
    """One semaphore per mailbox, created on demand and dropped when idle (no leak)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._slots: dict[str, tuple[anyio.Semaphore, int]] = {}

    def acquire_ref(self, key: str) -> anyio.Semaphore:
        sem, users = self._slots.get(key, (None, 0))
        if sem is None:
            sem = anyio.Semaphore(self._size)
        self._slots[key] = (sem, users + 1)
        return sem

    def release_ref(self, key: str) -> None:
        sem, users = self._slots[key]
        if users <= 1:
            del self._slots[key]
        else:
            self._slots[key] = (sem, users - 1)


def mailbox_of(url: str) -> str | None:
    """The mailbox a Graph URL addresses (the ``{id}`` of ``/users/{id}/…``), lowercased."""
    match = _USER_IN_PATH.search(urlsplit(url).path)
    return unquote(match.group(1)).lower() if match else None


def user_path(user: str, *rest: str) -> str:
    """``users/{user}/…`` with the id or address escaped for a path segment."""
    return "/".join(("users", quote(user, safe="@"), *rest))


def _events_path(user: str, calendar_id: str | None) -> str:
    """A mailbox's events: of one of its calendars, or of the default one."""
    if calendar_id is None:
        return user_path(user, "events")
    return user_path(user, "calendars", quote(calendar_id, safe=""), "events")


def graph_error(response: httpx.Response) -> tuple[str | None, str]:
    """Graph's ``error.code`` and ``error.message`` (the status line for a non-JSON body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message") or error.get("code") or "")
    return None, f"HTTP {response.status_code} {response.reason_phrase}".strip()


def error_for(response: httpx.Response, retry_after: float | None = None) -> ProviderError:
    """Translate an unsuccessful Graph response into the shared error hierarchy."""
    code, message = graph_error(response)
    status = response.status_code
    kw: dict[str, Any] = {"provider": PROVIDER, "code": code}
    if status == 429:
        return RateLimited(message, retry_after=retry_after or 0.0, **kw)
    if status in (401, 403):
        return AuthRevoked(message, **kw)
    if status == 404:
        return NotFound(message, **kw)
    if status in (409, 412):
        return Conflict(message, **kw)
    if status == 410:
        return SyncTokenExpired(message, **kw)
    if status == 400:
        return BadRequest(message, **kw)
    if status >= 500:
        return ProviderUnavailable(message, **kw)
    return ProviderError(message, **kw)


class GraphClient:
    """Microsoft Graph v1.0 for one tenant; ``get_token`` supplies its app-only tokens."""

    def __init__(
        self,
        *,
        graph_url: str,
        get_token: TokenGetter,
        timeout: float = 30.0,
        max_concurrency: int = 16,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self.base_url = graph_url.rstrip("/") + "/v1.0"
        self._get_token = get_token
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._mailboxes = _MailboxSlots(MAILBOX_CONCURRENCY)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            event_hooks=dict(event_hooks or {}),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the one place requests are sent ---------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one logical request (with retries) and return its decoded JSON (None if empty)."""
        retries, refreshed, rejected = 0, False, None
        while True:
            try:
                response, token = await self._send(method, url, rejected, params, json, headers)
                body = await _read(response)
            except httpx.TransportError as exc:
                if retries >= self._retry.max_retries:
                    raise ProviderUnavailable(
                        f"Microsoft Graph unreachable: {exc!r}", provider=PROVIDER
                    ) from exc
                await self._backoff(url, retries, self._retry.delay(retries), type(exc).__name__)
                retries += 1
                continue
            if response.status_code == 401 and not refreshed:
                refreshed, rejected = True, token
                log.info("graph.token_refresh", url=_loggable(url))
                continue
            if response.status_code in RETRYABLE_STATUS:
                header = retry_after_seconds(response)
                delay = header if header is not None else self._retry.delay(retries)
                if retries >= self._retry.max_retries or delay > self._retry.max_retry_after:
                    raise error_for(response, retry_after=delay)
                await self._backoff(url, retries, delay, str(response.status_code))
                retries += 1
                continue
            if response.is_error:
                raise error_for(response)
            return _decode(response, body)

    async def _send(
        self,
        method: str,
        url: str,
        rejected: str | None,
        params: Mapping[str, str] | None,
        json: object,
        headers: Mapping[str, str] | None,
    ) -> tuple[httpx.Response, str]:
        """One attempt: take a mailbox slot and a global slot, then go on the wire."""
        token = await self._token(rejected)
        all_headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        mailbox = mailbox_of(url)
        if mailbox is None:
            async with self._limiter:
                response = await self._http.send(
                    self._http.build_request(
                        method, url, params=params, json=json, headers=all_headers
                    ),
                    stream=True,
                )
                return response, token
        sem = self._mailboxes.acquire_ref(mailbox)
        try:
            async with sem, self._limiter:
                response = await self._http.send(
                    self._http.build_request(
                        method, url, params=params, json=json, headers=all_headers
                    ),
                    stream=True,
                )
                return response, token
        finally:
            self._mailboxes.release_ref(mailbox)

    async def _token(self, rejected: str | None) -> str:
        """The current token; after a 401, a new one unless another request already renewed it.

        Many requests in flight share a token, so they hit 401 together: asking the
        provider for its current token first means only the first of them forces a
        refresh and the others pick up its result.
        """
        token = await self._get_token(False)
        if rejected is not None and token == rejected:
            token = await self._get_token(True)
        return token

    async def _backoff(self, url: str, retries: int, delay: float, reason: str) -> None:
        log.warning(
            "graph.retry",
            url=_loggable(url),
            attempt=retries + 1,
            delay=round(delay, 3),
            reason=reason,
        )
        await self._sleep(delay)

    # -- paging ------------------------------------------------------------------------------

    async def iter_pages(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page's ``value``, following ``@odata.nextLink`` until it is absent.

        The next link is absolute and already carries the query, so it is requested
        as is. It must point at our Graph origin: the bearer token never leaves it.
        """
        next_url: str | None = url
        pages = 0
        while next_url:
            if pages >= self._retry.max_pages:
                raise ProviderError(f"paging did not end after {pages} pages", provider=PROVIDER)
            body = await self.request(
                "GET", next_url, params=params if pages == 0 else None, headers=headers
            )
            pages += 1
            yield list(body.get("value") or [])
            next_url = body.get("@odata.nextLink")
            if next_url and not self._same_origin(next_url):
                raise ProviderError("nextLink points outside Microsoft Graph", provider=PROVIDER)

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    # -- endpoints -------------------------------------------------------------------------

    async def list_users(self, page_size: int = 999) -> AsyncIterator[list[UserWire]]:
        """Every user of the tenant, one page at a time (``GET /users``)."""
        params = {"$select": USER_SELECT, "$top": str(page_size)}
        async for page in self.iter_pages("users", params=params):
            yield cast(list[UserWire], page)

    async def get_schedule(
        self,
        mailbox: str,
        schedules: Sequence[str],
        start: datetime,
        end: datetime,
        interval_minutes: int = 60,
    ) -> list[ScheduleInformationWire]:
        """``POST /users/{mailbox}/calendar/getSchedule`` for ``schedules``, times in UTC."""
        body: GetScheduleRequest = {
            "schedules": list(schedules),
            "startTime": to_datetime_time_zone(start),
            "endTime": to_datetime_time_zone(end),
            "availabilityViewInterval": interval_minutes,
        }
        answer = await self.request(
            "POST",
            user_path(mailbox, "calendar", "getSchedule"),
            json=body,
            headers={"Prefer": PREFER_UTC},
        )
        return cast(list[ScheduleInformationWire], (answer or {}).get("value") or [])

    async def calendar_view(
        self, user: str, start: datetime, end: datetime, page_size: int = 100
    ) -> list[EventWire]:
        """Every event occurrence of ``user``'s default calendar in ``[start, end)``, in UTC."""
        params = {
            "startDateTime": _iso_utc(start),
            "endDateTime": _iso_utc(end),
            "$select": EVENT_SELECT,
        }
        headers = {"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}, odata.maxpagesize={page_size}"}
        events: list[EventWire] = []
        url = user_path(user, "calendarView")
        async for page in self.iter_pages(url, params=params, headers=headers):
            events.extend(cast(list[EventWire], page))
        return events

    # -- calendarView delta ----------------------------------------------------------------

    async def iter_calendar_view_delta(
        self,
        user: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        delta_link: str | None = None,
        page_size: int = 100,
        calendar_id: str | None = None,
    ) -> AsyncIterator[DeltaPage]:
        """One delta round, page by page: from ``delta_link`` (the last round's), or a first
        full round over ``[start, end)``. Every ``@odata.nextLink`` is followed; the last page
        carries the next ``delta_link``. An expired or reset token raises
        ``SyncTokenExpired`` (410): drop the cursor and start a full round."""
        headers = {"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}, odata.maxpagesize={page_size}"}
        url, params = self._delta_start(user, start, end, delta_link, calendar_id)
        pages = 0
        while url:
            if pages >= self._retry.max_pages:
                raise ProviderError(f"delta did not end after {pages} pages", provider=PROVIDER)
            body = cast(
                DeltaPageWire, await self.request("GET", url, params=params, headers=headers)
            )
            page = parse_delta_page(body or {"value": []})
            if page.next_link is None and page.delta_link is None:
                raise ProviderError("delta page without nextLink or deltaLink", provider=PROVIDER)
            pages, params, url = pages + 1, None, page.next_link
            if url and not self._same_origin(url):
                raise ProviderError("nextLink points outside Microsoft Graph", provider=PROVIDER)
            yield page

    async def calendar_view_delta(
        self,
        user: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        delta_link: str | None = None,
        page_size: int = 100,
        calendar_id: str | None = None,
    ) -> CalendarDelta:
        """A whole delta round as (events, removed ids, next delta link); see
        :meth:`iter_calendar_view_delta`."""
        pages = [
            page
            async for page in self.iter_calendar_view_delta(
                user,
                start,
                end,
                delta_link=delta_link,
                page_size=page_size,
                calendar_id=calendar_id,
            )
        ]
        return merge_delta_pages(pages)

    def _delta_start(
        self,
        user: str,
        start: datetime | None,
        end: datetime | None,
        delta_link: str | None,
        calendar_id: str | None,
    ) -> tuple[str, dict[str, str] | None]:
        if delta_link:
            if not self._same_origin(delta_link):
                raise ProviderError("deltaLink points outside Microsoft Graph", provider=PROVIDER)
            return delta_link, None
        if start is None or end is None:
            raise ValueError("a first delta round needs start and end")
        view = ("calendarView",)
        if calendar_id:
            view = ("calendars", quote(calendar_id, safe=""), "calendarView")
        params = {"startDateTime": _iso_utc(start), "endDateTime": _iso_utc(end)}
        return user_path(user, *view, "delta"), params

    # -- change-notification subscriptions -------------------------------------------------

    async def create_subscription(
        self,
        resource: str,
        notification_url: str,
        *,
        expiration: datetime,
        client_state: str,
        change_types: Sequence[str] = EVENT_CHANGES,
        lifecycle_url: str | None = None,
    ) -> SubscriptionWire:
        """``POST /subscriptions``. Graph validates both URLs (they must echo the
        ``validationToken`` within 10 s) before it answers; a refused handshake is a
        ``BadRequest``. ``client_state`` (≤ 128 chars) comes back in every notification."""
        if not 0 < len(client_state) <= 128:
            raise ValueError("client_state must be 1 to 128 characters")
        unknown = set(change_types) - set(EVENT_CHANGES)
        if unknown or not change_types:
            raise ValueError(f"change types must be among {EVENT_CHANGES}")
        body: SubscriptionRequest = {
            "changeType": ",".join(change_types),
            "notificationUrl": notification_url,
            "resource": resource,
            "expirationDateTime": _iso_utc(expiration),
            "clientState": client_state,
        }
        if lifecycle_url:
            body["lifecycleNotificationUrl"] = lifecycle_url
        answer = await self.request(
            "POST", "subscriptions", json=body, headers={"Prefer": PREFER_IMMUTABLE_ID}
        )
        return cast(SubscriptionWire, answer)

    async def renew_subscription(
        self, subscription_id: str, expiration: datetime
    ) -> SubscriptionWire:
        """``PATCH /subscriptions/{id}`` with a new expiration (also reauthorizes it)."""
        answer = await self.request(
            "PATCH",
            "subscriptions/" + quote(subscription_id, safe=""),
            json={"expirationDateTime": _iso_utc(expiration)},
        )
        return cast(SubscriptionWire, answer)

    async def reauthorize_subscription(self, subscription_id: str) -> None:
        """``POST /subscriptions/{id}/reauthorize``: answer a ``reauthorizationRequired``."""
        await self.request("POST", f"subscriptions/{quote(subscription_id, safe='')}/reauthorize")

    async def delete_subscription(self, subscription_id: str) -> bool:
        """``DELETE /subscriptions/{id}``; False when it was already gone."""
        try:
            await self.request("DELETE", "subscriptions/" + quote(subscription_id, safe=""))
        except NotFound:
            return False
        return True

    async def list_subscriptions(self) -> list[SubscriptionWire]:
        """Every subscription this app holds in the tenant."""
        found: list[SubscriptionWire] = []
        async for page in self.iter_pages("subscriptions"):
            found.extend(cast(list[SubscriptionWire], page))
        return found

    # -- events (interviews written into calendars) -----------------------------------

    async def create_event(
        self, user: str, event: dict[str, Any], *, calendar_id: str | None = None
    ) -> EventWire:
        """``POST /users/{user}/events`` (or ``…/calendars/{id}/events``). The body's
        ``transactionId`` makes a retried POST (after a lost answer) come back with the
        event already created."""
        answer = await self.request(
            "POST",
            _events_path(user, calendar_id),
            json=event,
            headers={"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}"},
        )
        return cast(EventWire, answer)

    async def find_events_by_property(
        self, user: str, property_id: str, value: str, *, calendar_id: str | None = None
    ) -> list[EventWire]:
        """Events of ``user`` (of ``calendar_id``, else the default calendar) carrying
        single-value extended property ``property_id`` set to ``value``: how an event we
        created is found again after a crash."""
        escaped = value.replace("'", "''")
        params = {
            "$filter": (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{property_id}' "
                f"and ep/value eq '{escaped}')"
            ),
            "$select": WRITTEN_SELECT,
        }
        found: list[EventWire] = []
        headers = {"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}"}
        async for page in self.iter_pages(
            _events_path(user, calendar_id), params=params, headers=headers
        ):
            found.extend(cast(list[EventWire], page))
        return found

    async def get_event(self, user: str, event_id: str) -> EventWire:
        """``GET /users/{user}/events/{id}``: attendees' answers and whether it still stands."""
        answer = await self.request(
            "GET",
            user_path(user, "events", event_id),
            params={"$select": WRITTEN_SELECT},
            headers={"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}"},
        )
        return cast(EventWire, answer)

    async def update_event(self, user: str, event_id: str, changes: dict[str, Any]) -> EventWire:
        """``PATCH /users/{user}/events/{id}``: Exchange sends the attendees an update."""
        answer = await self.request(
            "PATCH",
            user_path(user, "events", event_id),
            json=changes,
            headers={"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}"},
        )
        return cast(EventWire, answer)

    async def cancel_event(self, user: str, event_id: str, comment: str) -> None:
        """``POST /users/{user}/events/{id}/cancel``: the organizer cancels; attendees get
        the cancellation with ``comment``."""
        await self.request(
            "POST", user_path(user, "events", event_id, "cancel"), json={"comment": comment}
        )

    async def default_calendar(self, user: str) -> dict[str, Any]:
        """``GET /users/{user}/calendar``: which online meeting providers it allows."""
        params = {"$select": "id,name,canEdit,allowedOnlineMeetingProviders"}
        return cast(
            dict[str, Any], await self.request("GET", user_path(user, "calendar"), params=params)
        )

    # -- calendars (the dedicated hiring calendar hiresync creates) -------------------------

    async def list_calendars(self, user: str) -> list[dict[str, Any]]:
        """Every calendar of the mailbox, all pages (``GET /users/{user}/calendars``)."""
        params = {"$select": "id,name,isDefaultCalendar,canEdit"}
        found: list[dict[str, Any]] = []
        async for page in self.iter_pages(user_path(user, "calendars"), params=params):
            found += page
        return found

    async def create_calendar(self, user: str, name: str) -> dict[str, Any]:
        """``POST /users/{user}/calendars``. A name the mailbox already has is a ``Conflict``
        (409 ``ErrorFolderExists``), also when an earlier attempt's answer was lost."""
        answer = await self.request("POST", user_path(user, "calendars"), json={"name": name})
        return cast(dict[str, Any], answer)

    async def delete_calendar(self, user: str, calendar_id: str) -> None:
        """``DELETE /users/{user}/calendars/{id}`` with its events (Graph refuses the default
        calendar)."""
        await self.request("DELETE", user_path(user, "calendars", quote(calendar_id, safe="")))


async def _read(response: httpx.Response) -> bytes:
    """The body of a streamed response, which is then closed.

    Success bodies are read as chunks rather than kept on the response: httpx's
    ``Response`` sits in a reference cycle with its stream, so a 1 MB getSchedule
    body kept there would outlive its parse until the next full garbage collection.
    Error bodies (small) are kept, as ``error_for`` reads them from the response.
    """
    try:
        if response.is_success:
            return b"".join([chunk async for chunk in response.aiter_bytes()])
        return await response.aread()
    finally:
        await response.aclose()


def _decode(response: httpx.Response, body: bytes) -> Any:
    """A success body as JSON (None when empty); garbage from the server is its failure."""
    if not body:
        return None
    try:
        # orjson: a 100-person, 4-week getSchedule answer is about 1 MB, and the stdlib
        # parser's time for ten of them shows in the free/busy wall time.
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProviderUnavailable(
            f"Microsoft Graph sent a body that is not JSON ({response.status_code})",
            provider=PROVIDER,
        ) from exc


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loggable(url: str) -> str:
    """The path of a URL, without the query (which may hold skip tokens)."""
    return urlsplit(url).path


def events_resource(user: str, calendar_id: str | None = None) -> str:
    """The subscription ``resource`` for a mailbox's events (or one calendar's)."""
    if calendar_id:
        return user_path(user, "calendars", quote(calendar_id, safe=""), "events")
    return user_path(user, "events")
