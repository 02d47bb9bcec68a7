"""A CalDAV calendar as the sync engine's remote side (``providers.base.RemoteCalendar``).

Each calendar object resource is one item: its href is the ident, its etag the etag, the
digest of its normalised text the digest (``parse``), and an ``EventCopy`` of it the payload.
A series with its overrides lives in one resource, so it is one item. Items hiresync writes
go to ``{calendar}{uid}.ics`` (``CalDavCalendars.create``), so a create repeated after a
lost answer finds its own event instead of making a second.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _utc(value: EventTime, zone: tzinfo) -> datetime:
    """UTC for a time as written: a date is its midnight UTC, floating time is the
    person's zone."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), UTC) if isinstance(value, date) else value
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _party(party: Party) -> dict[str, Any]:
    found = {"email": party.email, "name": party.name, "response": party.partstat}
    return {k: v for k, v in found.items() if v}


def copy_of(item: CalendarItem, owner: str | None, zone: tzinfo = UTC) -> EventCopy | None:
    """The event copy of a resource; None for one that holds no event (a task, a journal)."""
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
        raw=item.ics,
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
            self._calendars.iter_changes(self._href, cursor, known_etags)
            if cursor
            else self._calendars.iter_all(self._href)
        )
        items: list[Item] = []
        removed: list[str] = []
        quarantined: list[Quarantined] = []
        new_cursor = cursor or ""
        async for page in pages:
            for found in page.items:
                self._take(found, items, quarantined)
            removed.extend(page.removed)
            if page.cursor is not None:
                new_cursor = page.cursor
            if progress is not None:
                await progress(page.done, page.total)
        return RemoteRead(items, removed, new_cursor, cursor is None, quarantined)

    def _take(self, found: CalendarItem, items: list[Item], quarantined: list[Quarantined]) -> None:
        if found.quarantined:
            uid = found.uid or found.href
            quarantined.append(Quarantined(uid, found.href, found.quarantined, found.ics))
            return
        copy = copy_of(found, self._owner, self._zone)
        if copy is not None:
            items.append(
                Item(found.href, copy.uid, found.etag, copy.digest, copy, modified=copy.modified)
            )

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


def _ics(source: Item) -> str:
    copy = source.payload
    if not isinstance(copy, EventCopy) or not copy.raw:
        raise ValueError(f"event {source.uid} has no iCalendar text to write")
    return copy.raw
