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
from datetime import UTC, datetime, timedelta

from hiresync.domain.freebusy import BusyBlock, BusyStatus
from hiresync.providers.caldav import expand, parse_item
from hiresync.providers.caldav.parse import EventTime
from hiresync.runtime import Runtime
from hiresync.store import calendar_copy

# A series instance that began before the window may still reach into it.
LONGEST_EVENT = timedelta(days=14)


def _utc(value: EventTime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _instances(row: calendar_copy.CopiedBusy, start: datetime, end: datetime) -> list[BusyBlock]:
    """A series' busy instances over ``start``–``end`` (unreadable text: none, as the
    sync quarantines such an item anyway)."""
    if not row.raw:
        return []
    item = parse_item(row.raw)
    if item.quarantined:
        return []
    blocks = []
    for event in expand(item, start - LONGEST_EVENT, end):
        begin, finish = _utc(event.start), _utc(event.effective_end())
        free = (event.transp or "").upper() == "TRANSPARENT"
        if finish > start and begin < end and not free and (event.status or "") != "CANCELLED":
            blocks.append(BusyBlock(begin, finish, BusyStatus.BUSY))
    return blocks


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
    found: dict[uuid.UUID, list[BusyBlock]] = {user: [] for user in covered}
    for row in rows:
        if row.recurring:
            found[row.user_id].extend(_instances(row, start, end))
        elif row.ends_at is not None:
            found[row.user_id].append(BusyBlock(row.starts_at, row.ends_at, BusyStatus.BUSY))
    return covered, found
