"""One mailbox's calendar as the sync engine's remote side (``providers.base.RemoteCalendar``).

**Reading** is a ``calendarView/delta`` round over a fixed window, by default 90 days back and
365 ahead. Graph needs a bounded window for a calendar view, and it is frozen into the delta
links, so it is chosen once per full round: 90 days back keep the recently ended meetings a
first sync ranks next after the upcoming ones (seeds 002/003) without reading years of
history; 365 ahead is past any interview anyone schedules, while a daily series expands to
"only" a year of instances. The cursor is the window's start and the round's deltaLink; once
the window has slid ``rebase_after`` (30 days) the cursor is declared expired, so the next
run is a full round over the current window (``SyncTokenExpired``, as for a 410).

Each *instance* is one item: a single event, and every occurrence and exception of a series
(each its own ``EventCopy``, so availability reads them without expanding rules). Delta sends
occurrences as stubs (id, type, seriesMasterId, start, end): they take the series master's
content, which comes in the same round (or is fetched when it does not). Masters are not
items. The ident is the Graph event id; the uid is the master's ``iCalUId`` plus the
instance's original start (``uid#20260316T090000Z``), or the ``iCalUId`` of a single event,
so the same event is recognised after a resync; events hiresync wrote carry our uid in their
``transactionId`` (``hiresync:{uid}``) and are recognised by it. Graph says nothing about one
deleted occurrence of a series it still shows, but it sends a changed series whole: known
instances of a series missing from it are removed (``instances_of`` names them).

The digest is a sha256 of a normalised subset (subject, times, isAllDay, showAs, isCancelled,
location, organizer, attendees' addresses and responses), so a new etag without a real
change counts for nothing. An item's etag is Graph's with the digest's head appended
(``version_of``): an instance carries its series' etag, which need not move when that one
instance does. ``owned``: the mailbox organizes the event.

Two holes of delta are closed here. A series is covered as above. And an event hiresync
creates after the round its cursor ends, then deleted in Outlook before the next round, was
never in the sync state, so Graph never reports it: its etag is marked ``FRESH`` until a round
shows it, and one that a round is silent about is looked up (``_vanished``).

Pages are requested one ahead while single events of the current one are mapped, so the
mapping runs while Graph renders the next page.

**Writing** (hiresync's events going out): POST with ``transactionId`` derived from the uid
(a retried create comes back with the event the first attempt made) and the uid in a
single-value extended property (found again by ``$filter``, like ``events.py``); PATCH and
DELETE with ``If-Match`` (412 → ``sync.PreconditionFailed``; a DELETE that finds nothing is
done).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hiresync.domain.calendar_copies import EventCopy, Quarantined
from hiresync.domain.timezones import is_valid_iana, to_iana, to_windows
from hiresync.providers.base import Progress, RemoteRead
from hiresync.providers.errors import Conflict, SyncTokenExpired
from hiresync.providers.errors import NotFound as ProviderNotFound
from hiresync.sync import Item
from hiresync.sync.model import NotFound, PreconditionFailed

from .client import PREFER_IMMUTABLE_ID, PREFER_UTC, GraphClient, user_path
from .events import PROPERTY_SET
from .parse import DeltaPage, parse_datetime, parse_graph_timestamp

UID_PROPERTY = f"String {PROPERTY_SET} Name hiresyncUid"
# The version (etag) of hiresync's item an event was last written from: see ``_written_from``.
WRITTEN_PROPERTY = f"String {PROPERTY_SET} Name hiresyncWrittenFrom"
TX_PREFIX = "hiresync:"
FRESH = "+new"  # appended to the etag of an event we created: see ``GraphRemote._vanished``
INSTANCE_TYPES = frozenset({"occurrence", "exception"})
MASTER = "seriesMaster"
_HEADERS = {"Prefer": f"{PREFER_UTC}, {PREFER_IMMUTABLE_ID}"}
_NOT_BUSY = frozenset({"free", "workingElsewhere"})
_PROGRESS_EVERY = 1.0  # seconds between progress reports of a long read

Event = dict[str, Any]
# Graph ids of series masters -> the idents hiresync holds of their instances.
InstancesOf = Callable[[Sequence[str]], Awaitable[Mapping[str, Sequence[str]]]]


@dataclass(frozen=True)
class Window:
    """The calendar view a full round covers; see the module docstring for the numbers."""

    past: timedelta = timedelta(days=90)
    ahead: timedelta = timedelta(days=365)
    rebase_after: timedelta = timedelta(days=30)

    def starting(self, now: datetime) -> datetime:
        """A full round's start: midnight UTC, so runs of one day share it."""
        return (now - self.past).replace(hour=0, minute=0, second=0, microsecond=0)


# -- pure mapping -------------------------------------------------------------------------------


def _address(party: Any) -> str:
    email = (party or {}).get("emailAddress") or {}
    return str(email.get("address") or "").lower()


def _zone(event: Event) -> str | None:
    return to_iana(event.get("originalStartTimeZone"))


def _all_day_date(moment: datetime, zone: str | None) -> date:
    """An all-day event's date: Graph gives its midnight, in UTC or in the event's zone."""
    if moment.time() == datetime.min.time() or not zone:
        return moment.date()
    return moment.astimezone(ZoneInfo(zone)).date()


def _times(event: Event) -> tuple[datetime, datetime]:
    """Start and end in UTC; an all-day event at midnight UTC of its dates."""
    start, end = parse_datetime(event["start"]), parse_datetime(event["end"])
    if not event.get("isAllDay"):
        return start, end
    zone = _zone(event)
    first, last = _all_day_date(start, zone), _all_day_date(end, zone)
    return (
        datetime.combine(first, datetime.min.time(), UTC),
        datetime.combine(max(last, first), datetime.min.time(), UTC),
    )


def _attendees(event: Event) -> list[dict[str, str]]:
    found = []
    for attendee in event.get("attendees") or ():
        email = attendee.get("emailAddress") or {}
        found.append(
            {
                "email": str(email.get("address") or "").lower(),
                "name": str(email.get("name") or ""),
                "response": str((attendee.get("status") or {}).get("response") or "none"),
                "type": str(attendee.get("type") or "required"),
            }
        )
    return sorted(found, key=lambda a: a["email"])


def digest_of(event: Event, start: datetime, end: datetime) -> str:
    """sha256 of what a person would call the event's content (see the module docstring)."""
    subset = {
        "subject": event.get("subject") or "",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "isAllDay": bool(event.get("isAllDay")),
        "showAs": event.get("showAs") or "busy",
        "isCancelled": bool(event.get("isCancelled")),
        "location": ((event.get("location") or {}).get("displayName") or "").strip(),
        "organizer": _address(event.get("organizer")),
        "attendees": [[a["email"], a["response"]] for a in _attendees(event)],
    }
    text = json.dumps(subset, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def uid_of(event: Event, master: Event | None = None) -> str:
    """The identity both sides share (see the module docstring)."""
    if event.get("type") not in INSTANCE_TYPES:
        transaction = event.get("transactionId")
        if isinstance(transaction, str) and transaction.startswith(TX_PREFIX):
            return transaction[len(TX_PREFIX) :]
        return str(event.get("iCalUId") or event["id"])
    series = master or event
    original = event.get("originalStart")
    moment = parse_graph_timestamp(original) if original else parse_datetime(event["start"])
    return f"{series.get('iCalUId') or series['id']}#{moment:%Y%m%dT%H%M%SZ}"


def merged(instance: Event, master: Event | None) -> Event:
    """An instance with the series' content under its own fields (stubs carry almost none)."""
    if master is None:
        return instance
    return {**master, **{k: v for k, v in instance.items() if v is not None}}


def etag_of(event: Event) -> str | None:
    """Graph's own etag of an event."""
    found = event.get("@odata.etag")
    if found:
        return str(found)
    return f'W/"{event["changeKey"]}"' if event.get("changeKey") else None


def version_of(graph_etag: str | None, digest: str) -> str:
    """An item's etag for the engine: Graph's with the digest's head, because an instance
    carries its series' etag, which does not always move when that one instance does."""
    return f"{graph_etag or ''}#{digest[:16]}"


def graph_etag(version: str | None) -> str | None:
    """Graph's etag back from ``version_of`` (for ``If-Match``)."""
    plain = (version or "").removesuffix(FRESH)
    base, sep, _ = plain.rpartition("#")
    return (base if sep else plain) or None


def copy_of(event: Event, owner: str | None, master: Event | None = None) -> EventCopy:
    """The ``EventCopy`` of a single event or of one instance (``master``: its series)."""
    whole = merged(event, master)
    start, end = _times(whole)
    organizer = _address(whole.get("organizer")) or None
    is_organizer = whole.get("isOrganizer")
    owned = (
        bool(is_organizer)
        if isinstance(is_organizer, bool)
        else (organizer is None or owner is None or organizer == owner.lower())
    )
    cancelled = bool(whole.get("isCancelled"))
    show_as = str(whole.get("showAs") or "busy")
    modified = whole.get("lastModifiedDateTime")
    data: dict[str, Any] = {
        "location": ((whole.get("location") or {}).get("displayName") or None),
        "organizer": organizer,
        "attendees": _attendees(whole),
        "show_as": show_as,
    }
    if master is not None or event.get("seriesMasterId"):
        data["series"] = event.get("seriesMasterId") or (master or {}).get("id")
    return EventCopy(
        uid=uid_of(event, master),
        digest=digest_of(whole, start, end),
        summary=str(whole.get("subject") or ""),
        starts_at=start,
        ends_at=end,
        all_day=bool(whole.get("isAllDay")),
        time_zone=_zone(whole),
        busy=show_as not in _NOT_BUSY and not cancelled,
        status="cancelled" if cancelled else "confirmed",
        recurring=False,
        owned=owned,
        modified=parse_graph_timestamp(modified) if modified else None,
        data=data,
    )


def item_of(event: Event, owner: str | None, master: Event | None = None) -> Item:
    copy = copy_of(event, owner, master)
    etag = etag_of(event) or (etag_of(master) if master else None)
    version = version_of(etag, copy.digest)
    return Item(event["id"], copy.uid, version, copy.digest, copy, modified=copy.modified)


def _one(event: Event, owner: str | None, master: Event | None) -> Item | Quarantined:
    """An instance as an item, or quarantined with why: never a crashed sync."""
    try:
        return item_of(event, owner, master)
    except (KeyError, TypeError, ValueError) as exc:
        raw = json.dumps(event, default=str)[:20_000]
        reason = f"Outlook sent an event hiresync cannot read: {exc!r}"
        return Quarantined(str(event.get("iCalUId") or event["id"]), event["id"], reason, raw)


def _split(found: Iterable[Item | Quarantined]) -> tuple[list[Item], list[Quarantined]]:
    items: list[Item] = []
    quarantined: list[Quarantined] = []
    for one in found:
        (items if isinstance(one, Item) else quarantined).append(one)  # type: ignore[arg-type]
    return items, quarantined


def items_of(
    events: Mapping[str, Event], masters: Mapping[str, Event], owner: str | None
) -> tuple[list[Item], list[Quarantined]]:
    """Every instance of a round as an item (masters are none; an instance whose series is
    gone comes as @removed), and what could not be read."""
    found: list[Item | Quarantined] = []
    for event in events.values():
        kind = event.get("type")
        if kind == MASTER:
            continue
        master = masters.get(str(event.get("seriesMasterId"))) if kind in INSTANCE_TYPES else None
        if kind not in INSTANCE_TYPES or master is not None:
            found.append(_one(event, owner, master))
    return _split(found)


@dataclass
class Round:
    """What one delta round said, each id as it said it last (replays collapse), mapped as its
    page arrives, while the next page is on its way. Single events are mapped at once and
    their JSON let go; an instance once its series master is known (a master sent again
    re-maps its instances); instances whose master never came wait for ``results``."""

    owner: str | None = None
    masters: dict[str, Event] = field(default_factory=dict)
    instances: dict[str, Event] = field(default_factory=dict)
    series: dict[str, set[str]] = field(default_factory=dict)  # master id -> instance ids
    mapped: dict[str, Item | Quarantined] = field(default_factory=dict)
    removed: dict[str, None] = field(default_factory=dict)
    ours: set[str] = field(default_factory=set)  # ids of single events hiresync wrote

    def take(self, page: DeltaPage) -> None:
        for event_id in page.removed:
            self._forget(event_id)
            self.removed[event_id] = None
        for wire in page.events:
            event = cast(Event, wire)
            self._forget(event["id"])
            kind = event.get("type")
            if kind == MASTER:
                self._master(event)
            elif kind in INSTANCE_TYPES:
                self._instance(event)
            else:
                self.mapped[event["id"]] = _one(event, self.owner, None)
                if str(event.get("transactionId") or "").startswith(TX_PREFIX):
                    self.ours.add(event["id"])

    def _forget(self, event_id: str) -> None:
        self.removed.pop(event_id, None)
        self.mapped.pop(event_id, None)
        self.ours.discard(event_id)
        self.masters.pop(event_id, None)
        gone = self.instances.pop(event_id, None)
        if gone is not None:
            self.series.get(str(gone.get("seriesMasterId")), set()).discard(event_id)

    def _master(self, master: Event) -> None:
        self.masters[master["id"]] = master
        for instance_id in self.series.get(master["id"], ()):
            self.mapped[instance_id] = _one(self.instances[instance_id], self.owner, master)

    def _instance(self, event: Event) -> None:
        master_id = str(event.get("seriesMasterId"))
        self.instances[event["id"]] = event
        self.series.setdefault(master_id, set()).add(event["id"])
        master = self.masters.get(master_id)
        if master is not None:
            self.mapped[event["id"]] = _one(event, self.owner, master)

    def mentions(self, event_id: str) -> bool:
        return (
            event_id in self.mapped
            or event_id in self.masters
            or event_id in self.instances
            or event_id in self.removed
        )

    def missing_masters(self) -> set[str]:
        return {m for m, ids in self.series.items() if ids and m not in self.masters}

    def results(self, fetched: Mapping[str, Event]) -> tuple[list[Item], list[Quarantined]]:
        """Every item of the round (instances of ``fetched`` masters mapped now), and what
        could not be read. An instance whose series is gone is none: it comes as @removed."""
        for master_id in self.missing_masters() & fetched.keys():
            for instance_id in self.series[master_id]:
                event = self.instances[instance_id]
                self.mapped[instance_id] = _one(event, self.owner, fetched[master_id])
        return _split(self.mapped.values())


# -- writing ------------------------------------------------------------------------------------


def transaction_id(uid: str) -> str:
    """Graph's ``transactionId`` for the item ``uid``: a retried POST makes nothing new, and
    the event read back names its uid."""
    return TX_PREFIX + uid


def _when(moment: datetime, zone: str, all_day: bool) -> dict[str, str]:
    """A ``dateTimeTimeZone`` in the event's own zone (DST as the person sees it)."""
    label = to_windows(zone) or zone
    if all_day:
        return {
            "dateTime": f"{moment.astimezone(UTC).date().isoformat()}T00:00:00",
            "timeZone": label,
        }
    place = ZoneInfo(zone)
    local = moment.astimezone(place).replace(tzinfo=None)
    if (
        local.replace(tzinfo=place, fold=0).utcoffset()
        != local.replace(tzinfo=place, fold=1).utcoffset()
    ):
        # The hour the clocks go back through comes twice: a wall time there names two
        # moments (which one Outlook takes is not documented): only UTC says which.
        utc = moment.astimezone(UTC).replace(tzinfo=None)
        return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": label}


def event_body(copy: EventCopy) -> dict[str, Any]:
    """The Graph ``event`` for a copy (a single event: Outlook series are not written)."""
    if copy.recurring or copy.starts_at is None:
        raise ValueError(f"event {copy.uid} is a series or has no start: not written to Outlook")
    zone = copy.time_zone if copy.time_zone and is_valid_iana(copy.time_zone) else "UTC"
    step = timedelta(days=1) if copy.all_day else timedelta(0)
    end = copy.ends_at if copy.ends_at and copy.ends_at > copy.starts_at else copy.starts_at + step
    data = copy.data or {}
    body: dict[str, Any] = {
        "subject": copy.summary,
        "start": _when(copy.starts_at, zone, copy.all_day),
        "end": _when(end, zone, copy.all_day),
        "isAllDay": copy.all_day,
        "showAs": data.get("show_as") or ("busy" if copy.busy else "free"),
        "location": {"displayName": data.get("location") or ""},
    }
    attendees = [a for a in data.get("attendees") or () if a.get("email") or a.get("address")]
    if attendees:
        body["attendees"] = [
            {
                "emailAddress": {
                    "address": a.get("email") or a.get("address"),
                    "name": a.get("name") or a.get("email") or a.get("address"),
                },
                "type": a.get("type") if a.get("type") in ("optional", "resource") else "required",
            }
            for a in attendees
        ]
    return body


def _if_match(version: str | None) -> dict[str, str]:
    plain = graph_etag(version)
    return {"If-Match": plain} if plain else {}


def _written(source: Item) -> list[dict[str, str]]:
    """The extended property naming the version of hiresync's item written: its etag and
    digest (none when it has no etag)."""
    if not source.etag:
        return []
    return [{"id": WRITTEN_PROPERTY, "value": f"{source.etag}|{source.digest}"}]


def _holds(made: EventCopy, wanted: EventCopy) -> bool:
    """Whether an event Outlook answered with holds what ``event_body(wanted)`` wrote: its
    subject, place and times (all-day ones by date)."""
    body = event_body(wanted)
    start, end = _times(
        {"start": body["start"], "end": body["end"], "isAllDay": wanted.all_day}
        | ({"originalStartTimeZone": body["start"]["timeZone"]} if wanted.all_day else {})
    )
    place = (made.data or {}).get("location") or ""
    return (made.summary, made.starts_at, made.ends_at, place) == (
        body["subject"],
        start,
        end,
        body["location"]["displayName"],
    )


def _with_written(body: dict[str, Any], source: Item) -> dict[str, Any]:
    written = _written(source)
    return body | {"singleValueExtendedProperties": written} if written else body


def _payload(source: Item) -> EventCopy:
    if not isinstance(source.payload, EventCopy):
        raise TypeError(f"item {source.uid} carries no event copy")
    return source.payload


async def read_ahead(pages: AsyncIterator[DeltaPage]) -> AsyncIterator[DeltaPage]:
    """``pages`` with the next one already requested while the caller maps this one: the
    server renders a page in the time we map the previous."""
    queue: asyncio.Queue[DeltaPage | BaseException | None] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for page in pages:
                await queue.put(page)
            await queue.put(None)
        except Exception as exc:  # handed to the reader, who raises it
            await queue.put(exc)

    task = asyncio.create_task(pump())
    try:
        while (page := await queue.get()) is not None:
            if isinstance(page, BaseException):
                raise page
            yield page
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


# -- the remote side ----------------------------------------------------------------------------


class GraphRemote:
    """``mailbox``'s calendar (``calendar_id``; None: the default one) through an app-only
    Graph client. ``owner`` is the mailbox's address (only events it organizes are its own);
    ``instances_of`` names the idents held of a series' instances (see the module docstring)."""

    def __init__(
        self,
        client: GraphClient,
        mailbox: str,
        owner: str | None,
        *,
        calendar_id: str | None = None,
        window: Window | None = None,
        instances_of: InstancesOf | None = None,
        page_size: int = 500,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client, self._mailbox, self._owner = client, mailbox, owner
        self._calendar_id, self._window = calendar_id, window or Window()
        self._instances_of, self._page_size, self._now = instances_of, page_size, now

    # -- read -------------------------------------------------------------------------------

    async def read(
        self,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
    ) -> RemoteRead:
        start, link = self._start(cursor)
        end = start + self._window.past + self._window.ahead + timedelta(days=1)
        found = Round(self._owner)
        delta_link = ""
        async for page in read_ahead(self._pages(start, end, link, progress)):
            found.take(page)
            delta_link = page.delta_link or delta_link
        fetched = await self._fetch_masters(found.missing_masters())
        items, quarantined = found.results(fetched)
        if inspect.isawaitable(known_etags):  # the caller loads them while we read
            known_etags = await known_etags
        items = await self._written_from(items, found.ours, known_etags)
        removed = list(found.removed)
        if link is not None:
            removed += await self._gone_instances(found, items, known_etags)
            removed += await self._vanished(found, removed, known_etags)
        new_cursor = f"{start:%Y-%m-%dT%H:%M:%SZ}|{delta_link}"
        return RemoteRead(items, removed, new_cursor, link is None, quarantined)

    def _start(self, cursor: str | None) -> tuple[datetime, str | None]:
        """The window and the deltaLink to follow; an unreadable or stale cursor expires."""
        now = self._now()
        if cursor is None:
            return self._window.starting(now), None
        stamp, _, link = cursor.partition("|")
        try:
            start = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise SyncTokenExpired("unreadable cursor", provider="microsoft") from None
        if not link:
            raise SyncTokenExpired("cursor without a delta link", provider="microsoft")
        if self._window.starting(now) - start > self._window.rebase_after:
            raise SyncTokenExpired("the calendar window moved on", provider="microsoft")
        return start, link

    async def _pages(
        self, start: datetime, end: datetime, link: str | None, progress: Progress | None
    ) -> AsyncIterator[DeltaPage]:
        """The round's pages, with progress reported now and then (Graph gives no total)."""
        done, said = 0, time.monotonic()
        async for page in self._client.iter_calendar_view_delta(
            self._mailbox,
            None if link else start,
            None if link else end,
            delta_link=link,
            page_size=self._page_size,
            calendar_id=self._calendar_id,
        ):
            done += len(page.events)
            yield page
            if progress is not None and (
                page.delta_link or time.monotonic() - said > _PROGRESS_EVERY
            ):
                said = time.monotonic()
                await progress(done, done if page.delta_link else done + 1)

    async def _fetch_masters(self, ids: set[str]) -> dict[str, Event]:
        """Series masters a round's instances need but it did not carry (gone ones: none)."""
        found: dict[str, Event] = {}
        for master_id in sorted(ids):
            try:
                found[master_id] = await self._client.request(
                    "GET", user_path(self._mailbox, "events", master_id), headers=_HEADERS
                )
            except ProviderNotFound:
                continue
        return found

    async def _gone_instances(
        self,
        found: Round,
        items: Sequence[Item],
        known: Mapping[str, str],
    ) -> list[str]:
        """Held instances of a series the round sent whole (or removed) that it no longer has."""
        series = set(found.masters) | {r for r in found.removed if r not in known}
        if not series or self._instances_of is None:
            return []
        held = await self._instances_of(sorted(series))
        present = {i.ident for i in items}
        return [
            ident
            for master_id in series
            for ident in held.get(master_id, ())
            if ident not in present and ident not in found.removed and ident in known
        ]

    async def _written_from(
        self, items: list[Item], ours: set[str], known: Mapping[str, str]
    ) -> list[Item]:
        """Events hiresync wrote that no status pairs, or that changed since their status (a
        run may have died between a write and storing it): each says which version of
        hiresync's item it was last written from (an extended property, which delta does not
        carry: one GET each, only for these), so an edit made in hiresync since is not lost
        to a conflict (planner rows 4 and 9)."""
        lost = [
            i
            for i, item in enumerate(items)
            if item.ident in ours and known.get(item.ident, "").removesuffix(FRESH) != item.etag
        ]
        if not lost:
            return items
        gate = asyncio.Semaphore(4)  # Outlook's concurrent requests per mailbox
        expand = f"singleValueExtendedProperties($filter=id eq '{WRITTEN_PROPERTY}')"

        async def version(ident: str) -> tuple[str, str] | None:
            async with gate:
                try:
                    event = await self._client.request(
                        "GET",
                        user_path(self._mailbox, "events", ident),
                        params={"$select": "id", "$expand": expand},
                        headers=_HEADERS,
                    )
                except ProviderNotFound:
                    return None
            found = (event or {}).get("singleValueExtendedProperties") or ()
            value = next((str(p["value"]) for p in found if p.get("id") == WRITTEN_PROPERTY), "")
            etag, sep, digest = value.partition("|")
            return (etag, digest) if sep else None

        versions = await asyncio.gather(*(version(items[i].ident) for i in lost))
        out = list(items)
        for i, written in zip(lost, versions, strict=True):
            if written is not None:
                out[i] = replace(out[i], written_from=written)
        return out

    async def _vanished(
        self, found: Round, removed: Sequence[str], known: Mapping[str, str]
    ) -> list[str]:
        """Events we created after the cursor's round and that were deleted before this one:
        the sync state never held them, so Graph reports nothing. Their etag still carries
        ``FRESH`` (no round has shown them yet); each one this round is silent about is
        looked up."""
        silent = [
            ident
            for ident, etag in known.items()
            if etag.endswith(FRESH) and not found.mentions(ident) and ident not in removed
        ]
        gone = []
        for ident in silent:
            try:
                await self._client.request(
                    "GET", user_path(self._mailbox, "events", ident), params={"$select": "id"}
                )
            except ProviderNotFound:
                gone.append(ident)
        return gone

    # -- write ------------------------------------------------------------------------------

    def _events_path(self) -> str:
        if self._calendar_id:
            return user_path(
                self._mailbox, "calendars", quote(self._calendar_id, safe=""), "events"
            )
        return user_path(self._mailbox, "events")

    async def create(self, source: Item) -> tuple[str, str | None, str | None]:
        """POST the event; the digest returned is Outlook's, as the next delta shows it."""
        body = event_body(_payload(source)) | {
            "transactionId": transaction_id(source.uid),
            "singleValueExtendedProperties": [
                {"id": UID_PROPERTY, "value": source.uid},
                *_written(source),
            ],
        }
        made = await self._client.request("POST", self._events_path(), json=body, headers=_HEADERS)
        written = item_of(made, self._owner)
        if not _holds(written.payload, _payload(source)):
            # The transactionId's event from an earlier write of this uid (whose status was
            # lost), with older content: a retried POST changes nothing, so bring it up to date.
            etag, digest = await self.update(written.ident, written.etag, source)
            return written.ident, f"{etag}{FRESH}", digest
        return written.ident, f"{written.etag}{FRESH}", written.digest

    async def update(
        self, ident: str, etag: str | None, source: Item
    ) -> tuple[str | None, str | None]:
        headers = _HEADERS | _if_match(etag)
        try:
            made = await self._client.request(
                "PATCH",
                user_path(self._mailbox, "events", ident),
                json=_with_written(event_body(_payload(source)), source),
                headers=headers,
            )
        except Conflict as exc:
            raise PreconditionFailed(exc.message) from exc
        except ProviderNotFound as exc:
            raise NotFound(exc.message) from exc
        written = item_of(made, self._owner)
        return written.etag, written.digest

    async def delete(self, ident: str, etag: str | None) -> None:
        try:
            await self._client.request(
                "DELETE", user_path(self._mailbox, "events", ident), headers=_if_match(etag)
            )
        except Conflict as exc:
            raise PreconditionFailed(exc.message) from exc
        except ProviderNotFound:
            return  # already gone: what we wanted
