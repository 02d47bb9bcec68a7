"""Occurrences of a recurring calendar item in a window (the slow path, off the sync).

RRULE arithmetic (BYDAY, BYSETPOS, COUNT and UNTIL across DST, RDATE/EXDATE sets) is
dateutil's ``rrule``, which icalendar already depends on: a hand-written copy would be a
second, worse implementation. Sync itself never expands a series — it moves resources —
so this runs only where occurrences are wanted (availability from the local copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rruleset, rrulestr

from .parse import CalendarItem, EventTime, IcsEvent


def expand(
    item: CalendarItem, start: datetime, end: datetime, limit: int = 1000
) -> Iterator[IcsEvent]:
    """The occurrences of ``item`` that begin in ``[start, end)`` (aware datetimes), in
    order, at most ``limit``: overrides (RECURRENCE-ID) replace the instance they name,
    EXDATEs are left out. An item with only overrides yields those in the window."""
    master = item.master
    if master is None:
        yield from (e for e in item.events if _starts_within(e, start, end))
        return
    overrides = {_instant(e.recurrence_id): e for e in item.overrides if e.recurrence_id}
    first = _as_datetime(master.start)
    rules = rruleset()
    if master.rrule:
        rules.rrule(rrulestr(master.rrule, dtstart=first, ignoretz=first.tzinfo is None))
    for moment in (first, *map(_as_datetime, master.rdates)):
        rules.rdate(moment)  # DTSTART is always an instance (RFC 5545 §3.8.5.3)
    for moment in master.exdates:
        rules.exdate(_as_datetime(moment))
    length = _as_datetime(master.effective_end()) - first
    count = 0
    for moment in rules:
        if count >= limit or _instant(moment) >= _instant(end):
            return
        occurrence = overrides.get(_instant(moment)) or _shifted(master, moment, length)
        if _starts_within(occurrence, start, end):
            count += 1
            yield occurrence


def _as_datetime(value: EventTime) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def _instant(value: EventTime) -> datetime:
    """A comparable moment: floating and date values are read as UTC."""
    moment = _as_datetime(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _starts_within(event: IcsEvent, start: datetime, end: datetime) -> bool:
    return _instant(start) <= _instant(event.start) < _instant(end)


def _shifted(master: IcsEvent, moment: datetime, length: timedelta) -> IcsEvent:
    """The master moved to one of its instances (a plain event: no rules left on it)."""
    timed = isinstance(master.start, datetime)
    begin: EventTime = moment if timed else moment.date()
    finish: EventTime = moment + length if timed else (moment + length).date()
    return replace(
        master,
        start=begin,
        end=finish,
        duration=None,
        recurrence_id=begin,
        rrule=None,
        rdates=(),
        exdates=(),
    )
