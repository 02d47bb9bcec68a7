"""Hypothesis strategies for random but realistic availability queries.

Windows start near DST changes in zones with odd rules (30-minute DST in Lord Howe,
+12:45 in Chatham, midnight changes in Santiago), so the oracle comparison covers the
cases that break naive engines. Every time is on the minute, which the oracle needs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import strategies as st

from hiresync.availability import (
    AvailabilityQuery,
    Booked,
    Busy,
    Group,
    Mode,
    Period,
    Person,
    Policy,
    Response,
    Rules,
    TimeRange,
    WorkingWeek,
)
from hiresync.domain.freebusy import BusyBlock, BusyStatus

ZONES = (
    "America/New_York",
    "Europe/London",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "UTC",
)
# UTC days just before a DST change in one of the zones above (2026 rules).
DST_DAYS = (
    date(2026, 3, 7),  # US spring forward, Mar 8
    date(2026, 3, 28),  # EU spring forward, Mar 29
    date(2026, 4, 4),  # Lord Howe, Chatham, Santiago fall back, Apr 5
    date(2026, 9, 5),  # Santiago spring forward at midnight, Sep 6
    date(2026, 9, 26),  # Chatham spring forward, Sep 27
    date(2026, 10, 3),  # Lord Howe spring forward (30 min), Oct 4
    date(2026, 10, 24),  # EU fall back, Oct 25
    date(2026, 10, 31),  # US fall back, Nov 1
    date(2026, 6, 15),  # no change anywhere
)
MINUTE = timedelta(minutes=1)


@st.composite
def time_ranges(draw: st.DrawFn) -> TimeRange:
    start = draw(st.integers(0, 95)) * 15
    end = draw(st.integers(0, 95)) * 15
    return TimeRange(time(start // 60, start % 60), time(end // 60, end % 60))


@st.composite
def weeks(draw: st.DrawFn) -> WorkingWeek | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    if draw(st.booleans()):
        a, b = draw(st.sampled_from([(time(9), time(17)), (time(22), time(2)), (time(0), time(4))]))
        return WorkingWeek.weekdays(a, b, tuple(range(7)))
    return WorkingWeek(tuple(tuple(draw(st.lists(time_ranges(), max_size=2))) for _ in range(7)))


@st.composite
def busy_blocks(draw: st.DrawFn, base: datetime, span: int) -> Busy | BusyBlock:
    status = draw(st.sampled_from(list(BusyStatus)))
    response = draw(st.sampled_from(list(Response)))
    if draw(st.integers(0, 7)) == 0:
        first = base.date() + timedelta(days=draw(st.integers(-1, span // 1440)))
        last = first + timedelta(days=draw(st.integers(1, 2)))
        return Busy(first, last, status, all_day=True, response=response)
    start = base + draw(st.integers(-120, span + 60)) * MINUTE
    length = draw(st.integers(5, 240)) * MINUTE
    if draw(st.booleans()):  # as the free/busy API returns it: the engine reads it as is
        return BusyBlock(start, start + length, status, subject="1:1")
    return Busy(start, start + length, status, response=response, subject="1:1")


@st.composite
def people(draw: st.DrawFn, n: int, base: datetime, span: int) -> list[Person]:
    out = []
    for i in range(n):
        blocks = draw(st.lists(busy_blocks(base, span), max_size=6))
        booked = []
        for _ in range(draw(st.integers(0, 3))):
            s = base + draw(st.integers(-1440, span)) * MINUTE
            booked.append(Booked(s, s + 30 * MINUTE))
        caps = draw(st.sampled_from([None, None, None, 0, 1, 2]))
        week_caps = draw(st.sampled_from([None, None, None, 1, 3]))
        out.append(
            Person(
                f"p{i}",
                draw(st.sampled_from(ZONES)),
                draw(weeks()),
                tuple(blocks),
                tuple(booked),
                caps,
                week_caps,
            )
        )
    return out


@st.composite
def groups(draw: st.DrawFn, ids: list[str]) -> tuple[Group, ...]:
    cut = draw(st.integers(1, len(ids)))
    parts = [ids[:cut], ids[cut:]] if cut < len(ids) else [ids]
    out = []
    for part in parts:
        k = draw(st.one_of(st.none(), st.integers(1, len(part))))
        out.append(Group(tuple(part), k))
    return tuple(out)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    return Policy(*(draw(st.booleans()) for _ in range(5)))


@st.composite
def cases(
    draw: st.DrawFn, mode: Mode = Mode.SLOTS
) -> tuple[AvailabilityQuery, list[Person], datetime]:
    """A query, its people and ``now``."""
    day = draw(st.sampled_from(DST_DAYS))
    base = (
        datetime(day.year, day.month, day.day, tzinfo=UTC) + draw(st.integers(0, 23)) * 60 * MINUTE
    )
    span = draw(st.integers(6 * 60, 3 * 1440))
    cut = draw(st.integers(60, span))
    gap = draw(st.integers(0, 240))
    periods = [Period(base, base + cut * MINUTE)]
    if cut + gap + 60 < span:
        periods.append(Period(base + (cut + gap) * MINUTE, base + span * MINUTE))
    team = draw(people(draw(st.integers(1, 4)), base, span))
    rules = Rules(
        buffer_before=draw(st.sampled_from([0, 5, 10, 30])) * MINUTE,
        buffer_after=draw(st.sampled_from([0, 5, 15])) * MINUTE,
        min_notice=draw(st.sampled_from([0, 0, 90, 600])) * MINUTE,
        horizon=draw(st.sampled_from([None, 1440 * MINUTE, 2500 * MINUTE])),
        policy=draw(policies()),
    )
    query = AvailabilityQuery(
        groups=draw(groups([p.id for p in team])),
        periods=tuple(periods),
        duration=draw(st.sampled_from([15, 30, 45, 60, 90])) * MINUTE,
        interval=draw(st.sampled_from([5, 10, 15, 20, 30, 60])) * MINUTE,
        rules=rules,
        mode=mode,
    )
    now = base - draw(st.integers(0, 600)) * MINUTE
    return query, team, now
