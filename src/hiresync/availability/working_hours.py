"""Local wall-clock rules (working hours, days, ISO weeks) turned into UTC seconds.

Every rule is evaluated per *local date* with ``zoneinfo``, so a 09:00 start stays
09:00 local across DST changes. Wall-clock times are read as Python reads them with
``fold=0``:

- a time that does not exist (skipped by a spring-forward change) is read with the
  offset in force before the change, which lands it after the gap by the gap's
  length (02:30 on a US spring-forward day is 03:30 daylight time); a range that
  lies entirely in the gap is empty;
- a time that occurs twice (fall-back change) is its first occurrence.

A local day runs from its local midnight to the next one, read the same way. The
expansion of a (zone, working week, dates) triple is cached: many people share a
zone and hours, and a query over 12 weeks would otherwise call ``zoneinfo``
thousands of times.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hiresync.availability.intervals import Interval, merge
from hiresync.availability.model import WorkingWeek

MIDNIGHT = time(0)
FOREVER: Interval = (-(2**62), 2**62)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_instant(day: date, at: time, tz: ZoneInfo) -> int:
    """UTC seconds of the wall-clock ``at`` on ``day`` (fold=0 rules above)."""
    return math.floor(datetime.combine(day, at, tzinfo=tz).timestamp())


def local_date(seconds: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(seconds, tz).date()


def day_start(ordinal: int, tz: ZoneInfo) -> int:
    return local_instant(date.fromordinal(ordinal), MIDNIGHT, tz)


def local_days(tz_name: str, start: int, end: int) -> tuple[int, int]:
    """Date ordinals (inclusive) whose rules can touch ``[start, end)``; one day is
    added before, for ranges that cross midnight into the window."""
    tz = zone(tz_name)
    return local_date(start, tz).toordinal() - 1, local_date(end, tz).toordinal()


@lru_cache(maxsize=4096)
def working_intervals(
    tz_name: str, week: WorkingWeek, first: int, last: int
) -> tuple[Interval, ...]:
    """Working time from local date ``first`` to ``last`` (ordinals, inclusive), merged."""
    tz = zone(tz_name)
    out: list[Interval] = []
    for ordinal in range(first, last + 1):
        day = date.fromordinal(ordinal)
        for span in week.days[day.weekday()]:
            end_day = day if span.end > span.start else day + timedelta(days=1)
            out.append((local_instant(day, span.start, tz), local_instant(end_day, span.end, tz)))
    return tuple(merge(out))


def all_day_span(first: int, last: int, tz_name: str) -> Interval:
    """An all-day event from date ordinal ``first`` to ``last`` (exclusive), local midnights."""
    tz = zone(tz_name)
    return day_start(first, tz), day_start(last, tz)


def capped_spans(
    tz_name: str, starts: Iterable[int], per_day: int | None, per_week: int | None
) -> list[Interval]:
    """Local days and ISO weeks (Monday to Sunday) already holding their maximum of
    interviews, each counted on the local date it starts."""
    if per_day == 0 or per_week == 0:
        return [FOREVER]
    if per_day is None and per_week is None:
        return []
    tz = zone(tz_name)
    days = Counter(local_date(s, tz).toordinal() for s in starts)
    spans: list[Interval] = []
    if per_day is not None:
        spans += [(day_start(d, tz), day_start(d + 1, tz)) for d, n in days.items() if n >= per_day]
    if per_week is not None:
        weeks = Counter[int]()
        for d, n in days.items():
            weeks[d - date.fromordinal(d).weekday()] += n
        spans += [
            (day_start(m, tz), day_start(m + 7, tz)) for m, n in weeks.items() if n >= per_week
        ]
    return merge(spans)
