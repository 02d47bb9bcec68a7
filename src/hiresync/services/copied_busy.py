"""Busy time read from hiresync's copy of people's synced calendars (issue #6: "external
meetings ... counted in availability from the local copy, so availability can be answered
without a live call").

A person with a synced calendar that hiresync has read is answerable from the copy: their
busy events there are added to whatever the company calendar says, and a person with no
company mailbox at all (their own CalDAV account only) is answered from the copy alone.
Series are stored once with their rules (CalDAV resources), so they are expanded here over
the window, exceptions and EXDATEs included (``providers.caldav.recurrence``); Graph's
delta brings instances one by one, which need no expanding.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import select

from hiresync.domain.freebusy import BusyBlock, BusyStatus
from hiresync.domain.timezones import zone_or_utc
from hiresync.providers.caldav import expand, parse_item
from hiresync.providers.caldav.parse import EventTime
from hiresync.runtime import Runtime
from hiresync.store import calendar_copy
from hiresync.store.tables import User

# A series instance that began before the window may still reach into it.
LONGEST_EVENT = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a series, in UTC (an all-day one from midnight UTC of its date, as
    the copy keeps every all-day event)."""

    start: datetime
    end: datetime
    free: bool


def utc_of(value: EventTime, zone: tzinfo) -> datetime:
    """An iCalendar time in UTC; a floating one (no zone of its own) is read in the person's
    zone, as the sync reads single events; a date is midnight UTC of that date."""
    if isinstance(value, datetime):
        local = value.replace(tzinfo=zone) if value.tzinfo is None else value
        return local.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def occurrences(raw: str | None, start: datetime, end: datetime, zone: tzinfo) -> list[Occurrence]:
    """A series' occurrences over ``start``–``end``, exceptions and EXDATEs applied and
    cancelled ones left out (unreadable text: none, as the sync quarantines it anyway)."""
    if not raw:
        return []
    item = parse_item(raw)
    if item.quarantined:
        return []
    found = []
    for event in expand(item, start - LONGEST_EVENT, end):
        begin, finish = utc_of(event.start, zone), utc_of(event.effective_end(), zone)
        if finish > start and begin < end and (event.status or "").upper() != "CANCELLED":
            found.append(Occurrence(begin, finish, (event.transp or "").upper() == "TRANSPARENT"))
    return found


async def blocks_for(
    runtime: Runtime,
    org_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> tuple[set[uuid.UUID], dict[uuid.UUID, list[BusyBlock]]]:
    """Who the copy answers for, and their busy blocks over the window."""
    async with runtime.db.sessions() as session:
        covered, rows = await calendar_copy.busy_in(session, org_id, user_ids, start, end)
        rows_of_zones = await session.execute(
            select(User.id, User.time_zone).where(User.id.in_(covered))
        )
        zones: dict[uuid.UUID, str] = {ident: zone for ident, zone in rows_of_zones}
    found: dict[uuid.UUID, list[BusyBlock]] = {user: [] for user in covered}
    for row in rows:
        if row.recurring:
            zone = zone_or_utc(zones.get(row.user_id))
            found[row.user_id].extend(
                BusyBlock(o.start, o.end, BusyStatus.BUSY)
                for o in occurrences(row.raw, start, end, zone)
                if not o.free
            )
        elif row.ends_at is not None:
            found[row.user_id].append(BusyBlock(row.starts_at, row.ends_at, BusyStatus.BUSY))
    return covered, found
