"""Expand Graph ``patternedRecurrence`` series into occurrences, as Exchange does.

Occurrences are computed in the series' own time zone (so a 09:00 stand-up stays at 09:00
across DST changes), cancelled occurrences are dropped and modified ones replaced by their
override. :class:`MailboxIndex` caches expansions per mailbox in fixed 4-week chunks, so
a free/busy query costs a few bisects instead of re-running ``rrule`` for every call.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule

from .model import Calendar, Event, Override, User

_WEEKDAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
CHUNK = timedelta(days=28)
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One instance on the calendar: a single event, an occurrence or a modified exception."""

    start: datetime  # UTC
    end: datetime  # UTC
    event: Event
    kind: str  # singleInstance | occurrence | exception
    original_start: datetime | None = None
    override: Override | None = None

    @property
    def subject(self) -> str:
        return (self.override and self.override.subject) or self.event.subject

    @property
    def location(self) -> str:
        return (self.override and self.override.location) or self.event.location

    @property
    def show_as(self) -> str:
        return (self.override and self.override.show_as) or self.event.show_as


def build_rule(event: Event) -> rrule.rrule:
    """Translate Graph's pattern + range into a dateutil rule on naive local datetimes."""
    assert event.recurrence is not None
    pattern, rng = event.recurrence["pattern"], event.recurrence["range"]
    local_start = event.start.replace(tzinfo=None)
    start_date = date.fromisoformat(rng.get("startDate") or local_start.date().isoformat())
    dtstart = datetime.combine(start_date, local_start.time())
    kwargs: dict = {"dtstart": dtstart, "interval": int(pattern.get("interval") or 1)}
    days = [_WEEKDAYS[d.lower()] for d in pattern.get("daysOfWeek") or []]
    kind = pattern["type"]
    if kind == "daily":
        freq = rrule.DAILY
    elif kind == "weekly":
        freq = rrule.WEEKLY
        kwargs["byweekday"] = days or [_WEEKDAYS[local_start.strftime("%A").lower()]]
        kwargs["wkst"] = _WEEKDAYS[(pattern.get("firstDayOfWeek") or "sunday").lower()]
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        freq = rrule.MONTHLY if kind == "absoluteMonthly" else rrule.YEARLY
        kwargs["bymonthday"] = int(pattern["dayOfMonth"])
    elif kind in ("relativeMonthly", "relativeYearly"):
        freq = rrule.MONTHLY if kind == "relativeMonthly" else rrule.YEARLY
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = _INDEX[(pattern.get("index") or "first").lower()]
    else:
        raise ValueError(f"unsupported recurrence type {kind!r}")
    if kind.endswith("Yearly"):
        kwargs["bymonth"] = int(pattern["month"])
    if rng["type"] == "endDate":
        kwargs["until"] = datetime.combine(date.fromisoformat(rng["endDate"]), datetime.max.time())
    elif rng["type"] == "numbered":
        kwargs["count"] = int(rng["numberOfOccurrences"])
    return rrule.rrule(freq, **kwargs)


def _aware(naive: datetime, zone: ZoneInfo) -> datetime:
    return naive.replace(tzinfo=zone).astimezone(UTC)


def expand(
    event: Event, start: datetime, end: datetime, rule: rrule.rrule | None = None
) -> list[Occurrence]:
    """Occurrences of ``event`` whose start lies in [start, end) (UTC bounds); pass a cached
    ``rule`` (see :class:`MailboxIndex`) to avoid rebuilding it."""
    if event.recurrence is None:
        s, e = event.start.astimezone(UTC), event.end.astimezone(UTC)
        return [Occurrence(s, e, event, "singleInstance")] if start <= s < end else []
    zone = ZoneInfo(event.time_zone)
    duration = event.end.replace(tzinfo=None) - event.start.replace(tzinfo=None)
    local_from = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    local_to = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    found: list[Occurrence] = []
    for original in (rule or build_rule(event)).between(local_from, local_to, inc=True):
        if original.date() in event.exceptions:
            continue
        s = _aware(original, zone)
        if start <= s < end:
            found.append(Occurrence(s, _aware(original + duration, zone), event, "occurrence", s))
    found.extend(_modified(event, zone, start, end))
    return found


def _modified(event: Event, zone: ZoneInfo, start: datetime, end: datetime) -> list[Occurrence]:
    found = []
    for original_date, override in event.exceptions.items():
        if override is None:
            continue
        s = override.start.astimezone(UTC)
        if start <= s < end:
            original = datetime.combine(original_date, event.start.replace(tzinfo=None).time())
            found.append(
                Occurrence(
                    s,
                    override.end.astimezone(UTC),
                    event,
                    "exception",
                    _aware(original, zone),
                    override,
                )
            )
    return found


def is_occurrence_date(event: Event, day: date) -> bool:
    """True when the series has an occurrence whose original local start falls on ``day``."""
    local = datetime.combine(day, datetime.min.time())
    return bool(build_rule(event).between(local, local + timedelta(days=1), inc=False))


def _max_duration(user: User | Calendar) -> timedelta:
    longest = timedelta(hours=1)
    for event in user.events:
        longest = max(longest, event.end - event.start)
        for override in event.exceptions.values():
            if override is not None:
                longest = max(longest, override.end - override.start)
    return longest


class MailboxIndex:
    """Lazily expanded, chunk-cached occurrences of one calendar (a user's default one, or
    another ``Calendar``); rebuilt when its version changes."""

    def __init__(self, user: User | Calendar) -> None:
        self.user = user
        self.version = user.version
        self.max_duration = _max_duration(user)
        self._chunks: dict[int, tuple[list[datetime], list[Occurrence]]] = {}
        self._singles: dict[int, list[Occurrence]] = {}
        self._series: list[tuple[Event, rrule.rrule]] = []
        for event in user.events:
            if event.recurrence is None:
                occurrence = Occurrence(
                    event.start.astimezone(UTC), event.end.astimezone(UTC), event, "singleInstance"
                )
                bucket = (occurrence.start - _EPOCH) // CHUNK
                self._singles.setdefault(bucket, []).append(occurrence)
            else:  # rrule(cache=True) remembers what it generated, so later chunks are cheap
                self._series.append((event, build_rule(event).replace(cache=True)))

    def _chunk(self, index: int) -> tuple[list[datetime], list[Occurrence]]:
        cached = self._chunks.get(index)
        if cached is None:
            lo = _EPOCH + index * CHUNK
            items = list(self._singles.get(index, ()))
            for event, rule in self._series:
                items.extend(expand(event, lo, lo + CHUNK, rule))
            items.sort(key=lambda o: (o.start, o.end))
            cached = ([o.start for o in items], items)
            self._chunks[index] = cached
        return cached

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences that overlap [start, end), sorted by start."""
        first = (start - self.max_duration - _EPOCH) // CHUNK
        last = (end - _EPOCH) // CHUNK
        found: list[Occurrence] = []
        for index in range(first, last + 1):
            starts, items = self._chunk(index)
            stop = bisect.bisect_left(starts, end)
            found.extend(o for o in items[:stop] if o.end > start)
        return found
