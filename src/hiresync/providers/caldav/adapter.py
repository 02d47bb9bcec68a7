"""One CalDAV account behind the operations the sync planner needs.

Reading a calendar is: *which* members changed (hrefs and etags), and *their text*.

* ``sync-collection`` (RFC 6578) with the server's sync-token lists changed members and,
  as 404 responses, removed ones; a truncated answer (507 on the collection) is followed
  with its new token. RFC 6578 §3.8 lets the request name any property, so we ask for
  ``calendar-data`` too (``inline_data``): the listing *is* the download, one request,
  each resource parsed as its response streams in. On Radicale with 5,000 events
  (``bench/caldav_read.py``), listing then multiget has the server build 10,000
  responses (≈2.7 s), the inline listing 5,000 (≈1.6 s); Xandikos leaves the text out,
  and gets the multigets below. A refused token raises ``SyncTokenExpired``: the caller
  drops the cursor and calls :meth:`CalDavCalendars.read_all`, which creates no
  duplicates because every item is keyed by its href.
* the ctag/etag scan, for servers without it: an unchanged ``getctag`` means nothing
  changed; otherwise a Depth 1 PROPFIND of ``getetag``s is compared with the etags the
  caller holds (``known_etags``).

Whatever the listing did not bring the text of (the scan; a server that ignores
``calendar-data`` in sync-collection; ``inline_data=False``) is fetched with
``calendar-multiget`` in batches of ``batch_size`` hrefs, ``concurrency`` requests in
flight and results handed out in order, so the server builds batch *n+1* while we parse
batch *n*, and no event costs a GET of its own.

A cursor is an opaque string (``sync-token:…`` or ``ctag:…``) to store beside the
calendar, only once the changes it covers are applied.

Writes carry preconditions: ``If-None-Match: *`` on a deterministic href for a create
(a retried create finds its own event there and returns it), ``If-Match`` for update and
delete (a stale etag is a ``Conflict``: re-read, re-plan).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog

from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    Conflict,
    NotFound,
    ProviderError,
    SyncTokenExpired,
)

from . import discovery, wire
from .client import PROVIDER, CalDavClient
from .discovery import CalendarInfo
from .parse import CalendarItem, parse_item

log = structlog.get_logger(__name__)

SYNC_PREFIX = "sync-token:"
CTAG_PREFIX = "ctag:"
_NAME_SAFE = "@-_.+="
# What a read makes of each resource it parsed: the ``CalendarItem`` as it is, or what a
# caller's ``convert`` made of it (never None). Converting as each response arrives lets
# the parsed resource go at once, instead of holding thousands of them until the end.
Convert = Callable[[CalendarItem], Any]


def _as_is(item: CalendarItem) -> CalendarItem:
    return item


@dataclass(frozen=True, slots=True)
class _Member:
    """One member as a listing or a multiget reported it (404: removed or gone)."""

    href: str
    status: int | None
    etag: str | None = None
    item: Any = None  # the parsed resource, converted (see ``Convert``); None: no text


class _Delta:
    """What a read found: items already fetched, hrefs still to fetch (with their etag),
    hrefs removed; a later answer about the same href wins."""

    __slots__ = ("fetch", "items", "removed")

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}  # href -> converted resource
        self.fetch: dict[str, str | None] = {}
        self.removed: dict[str, None] = {}

    def changed(self, member: _Member) -> None:
        self.removed.pop(member.href, None)
        if member.item is not None:
            self.items[member.href] = member.item
            self.fetch.pop(member.href, None)
        else:
            self.fetch[member.href] = member.etag
            self.items.pop(member.href, None)

    def gone(self, href: str) -> None:
        self.items.pop(href, None)
        self.fetch.pop(href, None)
        self.removed[href] = None


@dataclass(frozen=True, slots=True)
class ReadPage:
    """A batch of a read: fetched items (``CalendarItem``s, or what the read's ``convert``
    made of them), removed hrefs, and how far along it is (``done``/``total`` members).
    ``cursor`` is set on the last page only."""

    items: tuple[Any, ...]
    removed: tuple[str, ...] = ()
    done: int = 0
    total: int = 0
    cursor: str | None = None


@dataclass(slots=True)
class ReadResult:
    """A whole read: every item fetched, every href removed, the cursor to store next."""

    items: list[CalendarItem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Where an event now lives and its etag (None when the server would not say).
    ``existed``: a create found the event already there (its earlier attempt succeeded)."""

    href: str
    etag: str | None
    existed: bool = False


class CalDavCalendars:
    """The sync operations on one CalDAV account (the client is authenticated as its user).

    ``use_sync_collection`` forces the choice between RFC 6578 and the ctag/etag scan (an
    advanced setting for servers whose sync-collection is broken); None tries RFC 6578 and
    falls back when the server refuses the report. ``inline_data`` asks sync-collection for
    the events' text as well (see the module docstring)."""

    def __init__(
        self,
        client: CalDavClient,
        *,
        home_url: str | None = None,
        batch_size: int = 200,
        concurrency: int = 2,
        use_sync_collection: bool | None = None,
        inline_data: bool = True,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        self._client = client
        self._home = home_url
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._use_sync = use_sync_collection
        self._inline = inline_data

    # -- calendars -----------------------------------------------------------------------------

    async def home(self) -> str:
        """The calendar home URL, discovered from the client's base URL on first use."""
        if self._home is None:
            account = await discovery.discover(self._client)
            self._home = account.home_url
        return self._home

    async def list_calendars(self) -> list[CalendarInfo]:
        return await discovery.list_calendars(self._client, await self.home())

    async def calendar(self, calendar_href: str) -> CalendarInfo:
        return await discovery.calendar(self._client, calendar_href)

    async def create_calendar(
        self, name: str, display_name: str, *, color: str | None = None
    ) -> CalendarInfo:
        """MKCALENDAR ``{home}/{name}/`` for events (the dedicated hiring calendar)."""
        href = wire.normalize_href(self._client.url(await self.home())) + resource_name(name) + "/"
        await self._client.mkcalendar(href, display_name, color=color)
        return await self.calendar(href)

    async def delete_calendar(self, calendar_href: str) -> None:
        """Delete a calendar and everything in it; one already gone counts as deleted."""
        try:
            await self._client.delete(calendar_href)
        except NotFound:
            return

    # -- reading -------------------------------------------------------------------------------

    async def read_all(self, calendar_href: str) -> ReadResult:
        """Every item of the calendar, and the cursor for the next incremental read."""
        return await _collect(self.iter_all(calendar_href))

    async def read_changes(
        self, calendar_href: str, cursor: str, known_etags: Mapping[str, str] | None = None
    ) -> ReadResult:
        """What changed since ``cursor``; ``SyncTokenExpired`` means: call :meth:`read_all`.
        ``known_etags`` (href → etag of the items already stored) is needed only by the
        ctag/etag scan; without it that scan raises ``SyncTokenExpired`` too. A mapping that
        is also awaitable (a caller that loads it while the server answers) is awaited
        only when the scan needs it."""
        return await _collect(self.iter_changes(calendar_href, cursor, known_etags))

    async def iter_all(
        self, calendar_href: str, convert: Convert = _as_is
    ) -> AsyncIterator[ReadPage]:
        """:meth:`read_all` page by page, for progress and bounded memory; each item is
        what ``convert`` made of it."""
        href = wire.normalize_href(calendar_href)
        delta: _Delta | None = None
        cursor = ""
        if self._use_sync is not False:
            try:
                delta, cursor = await self._sync(href, None, convert)
            except (BadRequest, AuthRevoked) as exc:
                # A server without RFC 6578 refuses the REPORT (400/403/405/501); the listing
                # below raises again if the calendar itself is what we may not read.
                if self._use_sync or (isinstance(exc, AuthRevoked) and exc.code != "403"):
                    raise
                log.info("caldav.no_sync_collection", calendar=href, error=exc.message)
        if delta is None:
            delta, cursor = await self._listing(href)
        async for page in self._pages(href, delta, cursor, convert):
            yield page

    async def iter_changes(
        self,
        calendar_href: str,
        cursor: str,
        known_etags: Mapping[str, str] | None = None,
        convert: Convert = _as_is,
    ) -> AsyncIterator[ReadPage]:
        """:meth:`read_changes` page by page; each item is what ``convert`` made of it."""
        href = wire.normalize_href(calendar_href)
        if (
            cursor.startswith(SYNC_PREFIX)
            and len(cursor) > len(SYNC_PREFIX)
            and self._use_sync is not False
        ):
            delta, new_cursor = await self._sync(href, cursor[len(SYNC_PREFIX) :], convert)
        elif cursor.startswith((SYNC_PREFIX, CTAG_PREFIX)):
            delta, new_cursor = await self._scan(href, cursor, known_etags)
        else:
            raise SyncTokenExpired(f"not a CalDAV cursor: {cursor[:40]!r}", provider=PROVIDER)
        async for page in self._pages(href, delta, new_cursor, convert):
            yield page

    async def get(self, href: str) -> CalendarItem | None:
        """One item as it stands, or None when it is gone."""
        try:
            text, etag = await self._client.get(href)
        except NotFound:
            return None
        return parse_item(text, wire.normalize_href(href), etag)

    def _member(
        self, calendar_href: str, convert: Convert
    ) -> Callable[[wire.DavResponse], _Member]:
        """How a listing or multiget response becomes a member: its text, when present, is
        parsed (and converted) right away, while the rest of the answer is still arriving."""

        def member(response: wire.DavResponse) -> _Member:
            etag = response.text(wire.GETETAG)
            data = response.text(wire.CALENDAR_DATA)
            if data is not None and response.href != calendar_href:
                item = convert(parse_item(data, response.href, etag))
                return _Member(response.href, response.status, etag, item)
            return _Member(response.href, response.status, etag)

        return member

    async def _sync(self, href: str, token: str | None, convert: Convert) -> tuple[_Delta, str]:
        """``sync-collection`` since ``token`` (None: everything), every truncated answer
        followed with its new token (RFC 6578 §3.6); the new cursor."""
        props = (wire.GETETAG, wire.CALENDAR_DATA) if self._inline else (wire.GETETAG,)
        delta = _Delta()
        for _ in range(self._client.max_pages):
            member = self._member(href, convert)
            answer = await self._client.sync_collection(href, token, props, member)
            truncated = False
            for member in answer.responses:
                if member.href == href or member.href.endswith("/"):
                    truncated = truncated or member.status == 507
                elif member.status == 404:
                    delta.gone(member.href)
                else:
                    delta.changed(member)
            if not answer.sync_token:
                raise ProviderError(
                    f"sync-collection of {href} gave no sync-token", provider=PROVIDER
                )
            token = answer.sync_token
            if not truncated:
                return delta, SYNC_PREFIX + token
        raise ProviderError(f"sync-collection of {href} did not end", provider=PROVIDER)

    async def _listing(self, href: str) -> tuple[_Delta, str]:
        """Every member by a Depth 1 PROPFIND, for servers without RFC 6578; the ctag is read
        first, so a change made during the listing shows in the next read."""
        info = await self.calendar(href)
        delta = _Delta()
        delta.fetch.update(await self._list_etags(href))
        return delta, CTAG_PREFIX + (info.ctag or "")

    async def _list_etags(self, href: str) -> dict[str, str | None]:
        """Member href → etag (Depth 1 PROPFIND), collections left out."""
        answer = await self._client.propfind(href, (wire.GETETAG, wire.RESOURCETYPE), depth="1")
        return {
            r.href: r.text(wire.GETETAG)
            for r in answer.responses
            if r.href != href
            and not r.href.endswith("/")
            and wire.COLLECTION not in r.values(wire.RESOURCETYPE)
        }

    async def _scan(
        self, href: str, cursor: str, known_etags: Mapping[str, str] | None
    ) -> tuple[_Delta, str]:
        """The ctag/etag scan: nothing to do while the ctag stands, else compare etags."""
        info = await self.calendar(href)
        new_cursor = CTAG_PREFIX + (info.ctag or "")
        delta = _Delta()
        if info.ctag and new_cursor == cursor:
            return delta, new_cursor
        if known_etags is None:
            raise SyncTokenExpired(
                "the etag scan needs the etags already stored", provider=PROVIDER
            )
        if inspect.isawaitable(known_etags):  # the caller is still loading them
            known_etags = await known_etags
        known = {wire.normalize_href(h): e for h, e in known_etags.items()}
        current = await self._list_etags(href)
        delta.fetch.update((h, e) for h, e in current.items() if e is None or known.get(h) != e)
        delta.removed.update((h, None) for h in known if h not in current)
        return delta, new_cursor

    async def _pages(
        self, href: str, delta: _Delta, cursor: str, convert: Convert
    ) -> AsyncIterator[ReadPage]:
        """The items the listing brought, then the rest fetched with calendar-multiget; a last
        page with the removed hrefs and the cursor. Pages handed out are let go here."""
        inline = list(delta.items.values())
        delta.items.clear()
        inline.reverse()  # handed out from the end, in the listing's order
        total, done, removed = len(inline) + len(delta.fetch), 0, list(delta.removed)
        while inline:
            chunk = tuple(inline.pop() for _ in range(min(self._batch_size, len(inline))))
            done += len(chunk)
            yield ReadPage(chunk, (), done, total)
        async for items, gone in self._multiget(href, list(delta.fetch), convert):
            done += len(items) + len(gone)
            yield ReadPage(tuple(items), tuple(gone), done, total)
        yield ReadPage((), tuple(removed), done, total, cursor)

    async def _multiget(
        self, href: str, hrefs: Sequence[str], convert: Convert
    ) -> AsyncIterator[tuple[list[Any], list[str]]]:
        """calendar-multiget in batches, ``concurrency`` in flight, results in order: the
        server builds the next batches while this one is parsed."""
        batches = iter(
            [hrefs[i : i + self._batch_size] for i in range(0, len(hrefs), self._batch_size)]
        )
        pending: deque[tuple[Sequence[str], asyncio.Task[wire.Multistatus[_Member]]]] = deque()

        def launch() -> None:
            batch = next(batches, None)
            if batch is not None:
                member = self._member(href, convert)
                task = asyncio.ensure_future(self._client.multiget(href, batch, member))
                pending.append((batch, task))

        try:
            for _ in range(self._concurrency):
                launch()
            while pending:
                batch, task = pending.popleft()
                answer = await task
                launch()
                read = [m for m in answer.responses if m.item is not None]
                # Gone since the listing: a 404, no text, or not mentioned in the answer at all.
                found = {m.href for m in read}
                yield [m.item for m in read], [h for h in batch if h not in found]
        finally:
            for _, waiting in pending:
                waiting.cancel()
            if pending:
                await asyncio.gather(*(waiting for _, waiting in pending), return_exceptions=True)

    # -- writing -------------------------------------------------------------------------------

    async def create(self, calendar_href: str, name: str, ics: str) -> WriteResult:
        """PUT ``{calendar}{name}.ics`` with ``If-None-Match: *``. ``name`` is derived from our
        key, so a create repeated after a lost answer finds its own event (same UID) and
        returns it; a different event there is a ``Conflict``."""
        href = wire.normalize_href(calendar_href) + resource_name(name) + ".ics"
        try:
            etag = await self._client.put(href, ics, create=True)
        except Conflict:
            existing = await self.get(href)
            if existing is None or existing.uid != parse_item(ics).uid:
                raise
            return WriteResult(href, existing.etag, existed=True)
        return WriteResult(href, etag or await self._etag(href))

    async def update(self, href: str, ics: str, etag: str) -> WriteResult:
        """PUT with ``If-Match: etag``; ``Conflict`` when the event changed meanwhile."""
        href = wire.normalize_href(href)
        new = await self._client.put(href, ics, etag=etag)
        return WriteResult(href, new or await self._etag(href))

    async def delete(self, href: str, etag: str | None) -> None:
        """DELETE with ``If-Match: etag``; an event already gone counts as deleted."""
        try:
            await self._client.delete(wire.normalize_href(href), etag=etag)
        except NotFound:
            return

    async def _etag(self, href: str) -> str | None:
        answer = await self._client.propfind(href, (wire.GETETAG,))
        return next((r.text(wire.GETETAG) for r in answer.responses if r.text(wire.GETETAG)), None)


def resource_name(name: str) -> str:
    """A path segment for ``name``: anything outside a safe set is percent-encoded."""
    if not name or name in (".", ".."):
        raise ValueError("a resource needs a name")
    return quote(name, safe=_NAME_SAFE)


async def _collect(pages: AsyncIterator[ReadPage]) -> ReadResult:
    result = ReadResult()
    async for page in pages:
        result.items.extend(page.items)
        result.removed.extend(page.removed)
        if page.cursor is not None:
            result.cursor = page.cursor
    return result
