"""A CalDAV calendar as the sync engine's remote side (``providers.base.RemoteCalendar``).

Each calendar object resource is one item: its href is the ident, its etag the etag, the
digest of its normalised text the digest (``parse``), and an ``EventCopy`` of it the payload.
A series with its overrides lives in one resource, so it is one item. Items hiresync writes
go to ``{calendar}{uid}.ics`` (``CalDavCalendars.create``), so a create repeated after a
lost answer finds its own event instead of making a second.
"""

from __future__ import annotations

import gc
import time as clock
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from hiresync.domain.calendar_copies import EventCopy, Quarantined
from hiresync.providers.base import Progress, RemoteRead
from hiresync.providers.errors import Conflict
from hiresync.providers.errors import NotFound as ProviderNotFound
from hiresync.sync import Item
from hiresync.sync.model import NotFound, PreconditionFailed

from .adapter import CalDavCalendars
from .parse import CalendarItem, EventTime, IcsEvent, Party

# Progress is reported at most this often (seconds), and at the end: a server that sends
# its whole answer at once hands over every page in a burst, and each report is a write.
PROGRESS_EVERY = 0.5


def _utc(value: EventTime, zone: tzinfo) -> datetime:
    """UTC for a time as written: a date is its midnight UTC, floating time is the
    person's zone."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), UTC) if isinstance(value, date) else value
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _party(party: Party) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if party.email:
        found["email"] = party.email
    if party.name:
        found["name"] = party.name
    if party.partstat:
        found["response"] = party.partstat
    return found


def copy_of(item: CalendarItem, owner: str | None, zone: tzinfo = UTC) -> EventCopy | None:
    """The event copy of a resource; None for one that holds no event (a task, a journal).
    The text comes along for a series only: it is what availability expands, while a
    single event is whole in the other fields (and the store keeps no text for it), and
    5,000 texts held through a first sync would be 7 MB more at its peak."""
    master: IcsEvent | None = item.master or (item.events[0] if item.events else None)
    if item.component != "VEVENT" or master is None:
        return None
    organizer = master.organizer.email if master.organizer else None
    cancelled = (master.status or "").upper() == "CANCELLED"
    return EventCopy(
        uid=item.uid or item.href,
        digest=item.digest,
        summary=master.summary,
        starts_at=_utc(master.start, zone),
        ends_at=None if master.recurring else _utc(master.effective_end(), zone),
        all_day=master.all_day,
        time_zone=master.tzid,
        busy=(master.transp or "OPAQUE").upper() != "TRANSPARENT" and not cancelled,
        status=(master.status or "CONFIRMED").lower(),
        recurring=master.recurring,
        owned=organizer is None or owner is None or organizer.lower() == owner.lower(),
        modified=master.last_modified,
        data={
            "location": master.location or None,
            "organizer": organizer,
            "attendees": [_party(a) for a in master.attendees],
            "rrule": master.rrule,
            "overrides": len(item.overrides),
        },
        raw=item.ics if master.recurring else None,
    )


class CalDavRemote:
    """One calendar (``href``) of a CalDAV account; ``owner`` is the account's address
    (only events it organizes are its own), ``zone`` reads floating times."""

    def __init__(
        self, calendars: CalDavCalendars, href: str, owner: str | None, zone: tzinfo = UTC
    ) -> None:
        self._calendars, self._href, self._owner, self._zone = calendars, href, owner, zone

    async def read(
        self,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
    ) -> RemoteRead:
        pages = (
            self._calendars.iter_changes(self._href, cursor, known_etags, self._taken)
            if cursor
            else self._calendars.iter_all(self._href, self._taken)
        )
        items: list[Item] = []
        removed: list[str] = []
        quarantined: list[Quarantined] = []
        new_cursor = cursor or ""
        reported = clock.monotonic()
        with _cyclic_gc_paused() if cursor is None else nullcontext():
            async for page in pages:
                for item, bad in page.items:
                    if item is not None:
                        items.append(item)
                    elif bad is not None:
                        quarantined.append(bad)
                removed.extend(page.removed)
                if page.cursor is not None:
                    new_cursor = page.cursor
                now = clock.monotonic()
                if progress is not None and (
                    page.cursor is not None or now - reported >= PROGRESS_EVERY
                ):
                    reported = now
                    await progress(page.done, page.total)
        return RemoteRead(items, removed, new_cursor, cursor is None, quarantined)

    def _taken(self, found: CalendarItem) -> tuple[Item | None, Quarantined | None]:
        """What a read keeps of a resource, as soon as it is parsed (the parsed resource is
        let go at once): its item, or why it is quarantined, or neither (not an event)."""
        if found.quarantined:
            uid = found.uid or found.href
            return None, Quarantined(uid, found.href, found.quarantined, found.ics)
        copy = copy_of(found, self._owner, self._zone)
        if copy is None:
            return None, None
        return Item(
            found.href, copy.uid, found.etag, copy.digest, copy, modified=copy.modified
        ), None

    async def create(self, source: Item) -> tuple[str, str | None]:
        made = await self._calendars.create(self._href, source.uid, _ics(source))
        return made.href, made.etag

    async def update(self, ident: str, etag: str | None, source: Item) -> str | None:
        try:
            return (await self._calendars.update(ident, _ics(source), etag or "*")).etag
        except Conflict as exc:
            raise PreconditionFailed(exc.message) from exc
        except ProviderNotFound as exc:
            raise NotFound(exc.message) from exc

    async def delete(self, ident: str, etag: str | None) -> None:
        try:
            await self._calendars.delete(ident, etag)
        except Conflict as exc:
            raise PreconditionFailed(exc.message) from exc


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A full read allocates some forty objects an event, none of them in a cycle: the
    allocation bursts make the cyclic collector walk the whole heap again and again, for
    nothing (0.2 s of a 5,000-event first sync, more than its planning and a third of its
    parsing). Reference counting frees everything meanwhile; cycles others make wait until
    the read is over. Only full reads (first syncs, resyncs: rare) pause it, so a busy
    worker's collector is never held off for long; one that was off stays as it was."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _ics(source: Item) -> str:
    copy = source.payload
    if not isinstance(copy, EventCopy) or not copy.raw:
        raise ValueError(f"event {source.uid} has no iCalendar text to write")
    return copy.raw
