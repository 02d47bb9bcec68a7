"""An HTTP client for one CalDAV account (RFC 4918 WebDAV, RFC 4791 CalDAV, RFC 6578 sync).

Everything that is about the *wire* lives here and nowhere else:

* **Credentials** are a user name and an app password sent with HTTP Basic auth, and only
  to the origins this account lives on (the server URL, and where discovery was sent by
  the server itself); an href pointing anywhere else is refused, so a hostile answer
  cannot make us leak the password.
* **Retries** are bounded (``RetryPolicy``) with exponential backoff and jitter on 429,
  5xx and transport errors; ``Retry-After`` is obeyed, and one longer than
  ``max_retry_after`` comes back at once as ``RateLimited`` so a job can reschedule
  instead of holding a worker asleep. CalDAV has no idempotency keys, but our writes carry
  preconditions (``If-None-Match: *``, ``If-Match``), so a repeated PUT cannot do a write
  twice: at worst it fails its precondition, which the adapter resolves.
* **Multistatus answers are parsed while they stream in** (``wire.MultistatusReader``).
* **Errors** are translated once, here, into ``hiresync.providers.errors``:

  ================================  ==================================================
  401                               AuthRevoked (user name or app password refused)
  403 ``DAV:valid-sync-token``      SyncTokenExpired
  409 / 412 on sync-collection      SyncTokenExpired (Xandikos answers 412, others 409)
  403 ``C:no-uid-conflict``, 409    Conflict
  403 other precondition            BadRequest (the server refused the data)
  403 without one                   AuthRevoked (this account may not do that)
  404, 410                          NotFound
  412                               Conflict (``If-Match``/``If-None-Match`` failed)
  400, 405, 415, 422, 501           BadRequest
  429, 5xx                          RateLimited / ProviderUnavailable, after retries
  ================================  ==================================================

``SyncTokenExpired`` is the shared error of ``providers/errors.py``: the caller drops its
cursor and resynchronises.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

import anyio
import httpx
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
from hiresync.providers.retry import RetryPolicy as BaseRetryPolicy
from hiresync.providers.retry import retry_after_seconds

from . import wire
from .wire import DavResponse, Multistatus, MultistatusReader

log = structlog.get_logger(__name__)

PROVIDER = "caldav"
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")
R = TypeVar("R")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
UNREADABLE = "unreadable"  # the code of a 2xx answer that is not what was asked for
XML = "application/xml; charset=utf-8"
ICS = "text/calendar; charset=utf-8"
RECONNECT = "Check the user name and app password under the calendar connection settings."
_NO_UID_CONFLICT = wire.clark(wire.CALDAV, "no-uid-conflict")


@dataclass(frozen=True, slots=True)
class RetryPolicy(BaseRetryPolicy):
    """CalDAV servers are small and self-hosted: fewer, shorter retries than Graph's."""

    max_retries: int = 4
    max_delay: float = 10.0
    max_retry_after: float = 60.0
    max_pages: int = 500


@dataclass(frozen=True, slots=True)
class _Retry:
    delay: float
    reason: str
    error: ProviderError


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def error_for(
    response: httpx.Response, *, sync_report: bool = False, retry_after: float | None = None
) -> ProviderError:
    """Translate an unsuccessful answer (body already read) into the shared hierarchy."""
    status = response.status_code
    conditions = wire.error_conditions(response.content) if response.content else frozenset()
    code = next(iter(sorted(c.split("}", 1)[-1] for c in conditions)), None)
    kw: dict[str, Any] = {"provider": PROVIDER, "code": code or str(status)}
    where = urlsplit(str(response.request.url)).path
    if status == 401:
        return AuthRevoked(f"The calendar server refused the credentials. {RECONNECT}", **kw)
    if wire.VALID_SYNC_TOKEN in conditions or (sync_report and status in (409, 412)):
        return SyncTokenExpired(f"The server no longer accepts our sync token ({status}).", **kw)
    if status == 403:
        if _NO_UID_CONFLICT in conditions:
            return Conflict(f"Another event with the same UID exists ({where}).", **kw)
        if conditions:
            return BadRequest(f"The calendar server refused the request: {code} ({where}).", **kw)
        return AuthRevoked(
            f"The calendar server does not allow this account to do that ({where}).", **kw
        )
    if status in (404, 410):
        return NotFound(f"Not found on the calendar server: {where}", **kw)
    if status in (409, 412):
        return Conflict(f"The resource changed on the server ({status}): {where}", **kw)
    if status == 429:
        return RateLimited(
            "The calendar server asks us to slow down.", retry_after=retry_after or 0.0, **kw
        )
    if status in (400, 405, 415, 422, 501):
        return BadRequest(f"The calendar server refused the request ({status}): {where}", **kw)
    if status >= 500:
        return ProviderUnavailable(f"The calendar server failed ({status}): {where}", **kw)
    return ProviderError(f"Unexpected answer {status} from the calendar server: {where}", **kw)


def ssl_context(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext | bool:
    """What to trust, as one SSL context shared by every client of the process: ``True``
    the default CAs (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), a path a CA file or
    directory (a server with a private certificate), or a context of the caller's.

    Building a context loads the whole CA bundle, ≈35 ms: each sync run opens a client,
    and would pay it again (httpx builds one per client). A file is read again when it
    changes (its mtime), so a renewed certificate is picked up."""
    if verify is True:
        return _default_context()
    if isinstance(verify, str):
        return _file_context(verify, os.stat(verify).st_mtime_ns)
    return verify


@lru_cache(maxsize=1)
def _default_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@lru_cache(maxsize=8)
def _file_context(path: str, mtime_ns: int) -> ssl.SSLContext:
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


class CalDavClient:
    """WebDAV/CalDAV for one account; ``base_url`` is the server (or home set) URL;
    ``verify`` says what to trust (see :func:`ssl_context`)."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        verify: ssl.SSLContext | str | bool = True,
        timeout: float = 60.0,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._origins = {origin(self.base_url)}
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(username, password),
            verify=ssl_context(verify),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": "hiresync (CalDAV)"},
        )

    @property
    def max_pages(self) -> int:
        """How many truncated answers a paged report may chain before we give up."""
        return self._retry.max_pages

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> CalDavClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- where requests may go ---------------------------------------------------------------

    def url(self, href: str) -> str:
        """An absolute URL for ``href``; refused when it leaves this account's origins."""
        url = urljoin(self.base_url, href)
        if origin(url) not in self._origins:
            raise ProviderError(f"the server pointed outside its origin: {url}", provider=PROVIDER)
        return url

    def rebase(self, url: str) -> None:
        """Make ``url`` (where the server itself sent us: a redirect, a home set) the base that
        hrefs are resolved against. Plain HTTP is accepted only on the origin we started on."""
        if origin(url) not in self._origins and urlsplit(url).scheme != "https":
            raise ProviderError(
                f"refusing to send credentials to {url} over plain HTTP", provider=PROVIDER
            )
        self._origins.add(origin(url))
        self.base_url = urljoin(url, "/")

    # -- the one place requests are sent ---------------------------------------------------

    async def _exchange(
        self,
        method: str,
        href: str,
        read: Callable[[httpx.Response], Awaitable[T]],
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        sync_report: bool = False,
        follow: bool = False,
    ) -> tuple[T, str]:
        """Send one logical request (retries, redirects if ``follow``); ``read``'s result and
        the URL that answered."""
        url, retries, hops = self.url(href), 0, 0
        while True:
            try:
                async with self._limiter:
                    outcome = await self._attempt(
                        method, url, read, content, headers, sync_report, retries
                    )
            except httpx.TransportError as exc:
                if retries >= self._retry.max_retries:
                    raise ProviderUnavailable(
                        f"The calendar server is unreachable ({type(exc).__name__}).",
                        provider=PROVIDER,
                    ) from exc
                delay, reason = self._retry.delay(retries), type(exc).__name__
            else:
                if isinstance(outcome, _Redirect):
                    if not follow or hops >= MAX_REDIRECTS:
                        raise ProviderError(
                            f"unexpected redirect to {outcome.location}", provider=PROVIDER
                        )
                    target = urljoin(url, outcome.location)
                    if origin(target) != origin(url):
                        self.rebase(target)
                    url, hops = target, hops + 1
                    continue
                if not isinstance(outcome, _Retry):
                    return outcome, url
                if (
                    retries >= self._retry.max_retries
                    or outcome.delay > self._retry.max_retry_after
                ):
                    raise outcome.error
                delay, reason = outcome.delay, outcome.reason
            log.warning(
                "caldav.retry",
                method=method,
                path=urlsplit(url).path,
                attempt=retries + 1,
                delay=round(delay, 3),
                reason=reason,
            )
            await self._sleep(delay)
            retries += 1

    async def _attempt(
        self,
        method: str,
        url: str,
        read: Callable[[httpx.Response], Awaitable[T]],
        content: bytes | None,
        headers: Mapping[str, str] | None,
        sync_report: bool,
        retries: int,
    ) -> T | _Retry | _Redirect:
        request = self._http.build_request(method, url, content=content, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            status = response.status_code
            if status in RETRYABLE_STATUS:
                await response.aread()
                header = retry_after_seconds(response)
                delay = header if header is not None else self._retry.delay(retries)
                return _Retry(delay, str(status), error_for(response, retry_after=delay))
            if 300 <= status < 400 and "Location" in response.headers:
                return _Redirect(response.headers["Location"])
            if status >= 300:
                await response.aread()
                raise error_for(response, sync_report=sync_report)
            try:
                return await read(response)
            except (ParseError, ValueError, UnicodeDecodeError) as exc:
                raise ProviderUnavailable(
                    f"The calendar server sent an unreadable answer to {method}: {exc}",
                    provider=PROVIDER,
                    code=UNREADABLE,
                ) from exc
        finally:
            await response.aclose()

    # -- WebDAV / CalDAV methods -----------------------------------------------------------------

    async def multistatus(
        self,
        method: str,
        href: str,
        body: bytes,
        *,
        depth: str,
        sync_report: bool = False,
        follow: bool = False,
    ) -> Multistatus[DavResponse]:
        """PROPFIND or REPORT; the 207 answer parsed as it streams in."""
        return await self.report(
            method, href, body, _same, depth=depth, sync_report=sync_report, follow=follow
        )

    async def report(
        self,
        method: str,
        href: str,
        body: bytes,
        convert: Callable[[DavResponse], R],
        *,
        depth: str,
        sync_report: bool = False,
        follow: bool = False,
    ) -> Multistatus[R]:
        """Like :meth:`multistatus`, with ``convert`` applied to each response as soon as it
        has arrived, while the rest is still on the wire (a retry starts over)."""
        headers = {"Content-Type": XML, "Depth": depth}

        async def read(response: httpx.Response) -> Multistatus[R]:
            return await _read_multistatus(response, convert)

        answer, url = await self._exchange(
            method,
            href,
            read,
            content=body,
            headers=headers,
            sync_report=sync_report,
            follow=follow,
        )
        answer.url = url
        return answer

    async def propfind(
        self, href: str, props: Iterable[str], *, depth: str = "0", follow: bool = False
    ) -> Multistatus:
        return await self.multistatus(
            "PROPFIND", href, wire.propfind_body(props), depth=depth, follow=follow
        )

    async def sync_collection(
        self,
        href: str,
        token: str | None,
        props: Iterable[str],
        convert: Callable[[DavResponse], R],
        *,
        limit: int | None = None,
    ) -> Multistatus[R]:
        """RFC 6578 REPORT (Depth 0); an invalid ``token`` raises ``SyncTokenExpired``."""
        body = wire.sync_collection_body(token, props, limit)
        return await self.report(
            "REPORT", href, body, convert, depth="0", sync_report=token is not None
        )

    async def multiget(
        self, href: str, hrefs: Iterable[str], convert: Callable[[DavResponse], R]
    ) -> Multistatus[R]:
        """RFC 4791 calendar-multiget: etag and text of each member named, in one request."""
        return await self.report("REPORT", href, wire.multiget_body(hrefs), convert, depth="1")

    async def get(self, href: str) -> tuple[str, str | None]:
        """The text of one resource and its etag."""
        return (await self._exchange("GET", href, _read_text, headers={"Accept": "text/calendar"}))[
            0
        ]

    async def put(
        self, href: str, ics: str, *, etag: str | None = None, create: bool = False
    ) -> str | None:
        """PUT with ``If-None-Match: *`` (``create``) or ``If-Match: etag``; the new etag, or
        None when the server did not say (it may have altered the data, RFC 4791 §5.3.4)."""
        headers = {"Content-Type": ICS}
        if create:
            headers["If-None-Match"] = "*"
        elif etag:
            headers["If-Match"] = etag
        return (
            await self._exchange("PUT", href, _read_etag, content=ics.encode(), headers=headers)
        )[0]

    async def delete(self, href: str, *, etag: str | None = None) -> None:
        headers = {"If-Match": etag} if etag else {}
        await self._exchange("DELETE", href, _read_etag, headers=headers)

    async def mkcalendar(
        self,
        href: str,
        display_name: str,
        *,
        color: str | None = None,
        components: Iterable[str] = ("VEVENT",),
    ) -> None:
        body = wire.mkcalendar_body(display_name, color, components)
        await self._exchange(
            "MKCALENDAR", href, _read_etag, content=body, headers={"Content-Type": XML}
        )


async def _read_multistatus(
    response: httpx.Response, convert: Callable[[DavResponse], R]
) -> Multistatus[R]:
    if response.status_code not in (200, 207):
        raise ValueError(f"expected 207 Multi-Status, got {response.status_code}")
    reader = MultistatusReader()
    found: list[R] = []
    async for chunk in response.aiter_bytes():
        found.extend(map(convert, reader.feed(chunk)))
    found.extend(map(convert, reader.close()))
    return Multistatus(found, reader.sync_token)


def _same(response: DavResponse) -> DavResponse:
    return response


async def _read_text(response: httpx.Response) -> tuple[str, str | None]:
    body = await response.aread()
    return body.decode(response.encoding or "utf-8"), response.headers.get("ETag")


async def _read_etag(response: httpx.Response) -> str | None:
    await response.aread()
    return response.headers.get("ETag")
