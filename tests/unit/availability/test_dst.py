"""Named DST cases: the wall clock is what interviewers live by."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hiresync.availability import (
    AvailabilityQuery,
    Busy,
    Group,
    Mode,
    Period,
    Person,
    TimeRange,
    WorkingWeek,
    find_availability,
)
from hiresync.domain.freebusy import BusyStatus

NY, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def local_starts(
    person: Person, first: datetime, last: datetime, tz: ZoneInfo, mode: Mode = Mode.SLOTS
) -> list[datetime]:
    q = AvailabilityQuery((Group((person.id,)),), (Period(first, last),), HOUR, HOUR, mode=mode)
    return [s.start.astimezone(tz) for s in find_availability(q, [person], first - 7 * 24 * HOUR)]


def test_new_york_9_to_5_keeps_9am_across_the_march_change() -> None:
    ana = Person("ana", "America/New_York", WorkingWeek.weekdays())
    starts = local_starts(
        ana, datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC), NY
    )
    by_day: dict[date, list[int]] = {}
    for s in starts:
        by_day.setdefault(s.date(), []).append(s.hour)
    assert by_day == {
        d: list(range(9, 17)) for d in (date(2026, 3, 6), date(2026, 3, 9), date(2026, 3, 10))
    }


def test_london_interviewer_is_an_hour_earlier_in_utc_after_the_eu_change() -> None:
    bo = Person("bo", "Europe/London", WorkingWeek.weekdays())
    starts = local_starts(
        bo, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC), LONDON
    )
    assert {s.hour for s in starts} == set(range(9, 17))
    assert next(s.astimezone(UTC).hour for s in starts if s.day == 30) == 8


def test_night_shift_across_midnight_and_the_skipped_hour() -> None:
    # Saturday 22:00 - Sunday 04:00 in New York on the spring-forward night: 02:00-03:00
    # does not exist, so the shift lasts 5 real hours and is one period.
    week = WorkingWeek(tuple((TimeRange(time(22), time(4)),) if d == 5 else () for d in range(7)))
    cy = Person("cy", "America/New_York", week)
    first, last = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    q = AvailabilityQuery((Group(("cy",)),), (Period(first, last),), HOUR, HOUR, mode=Mode.PERIODS)
    (p,) = find_availability(q, [cy], first)
    assert p.start.astimezone(NY).hour == 22
    assert p.end.astimezone(NY).hour == 4
    assert p.end - p.start == 5 * HOUR


def test_all_day_vacation_blocks_local_midnight_to_midnight() -> None:
    # An OOF all-day event in London on 2026-03-30 (BST, UTC+1): 23:00 UTC the day
    # before to 23:00 UTC that day, and nothing else.
    off = Busy(date(2026, 3, 30), date(2026, 3, 31), BusyStatus.OOF, all_day=True)
    di = Person("di", "Europe/London", busy=(off,))
    first, last = datetime(2026, 3, 29, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC)
    q = AvailabilityQuery((Group(("di",)),), (Period(first, last),), HOUR, HOUR, mode=Mode.PERIODS)
    periods = [(p.start, p.end) for p in find_availability(q, [di], first)]
    assert periods == [
        (first, datetime(2026, 3, 29, 23, tzinfo=UTC)),
        (datetime(2026, 3, 30, 23, tzinfo=UTC), last),
    ]


def test_lord_howe_half_hour_change_keeps_local_hours() -> None:
    tz = ZoneInfo("Australia/Lord_Howe")
    ed = Person("ed", "Australia/Lord_Howe", WorkingWeek.weekdays(days=tuple(range(7))))
    starts = local_starts(
        ed, datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 7, tzinfo=UTC), tz
    )
    # +10:30 before Oct 4, +11:00 after: hourly UTC slots fall on :30 local, then :00.
    before = {(s.hour, s.minute) for s in starts if s.date() == date(2026, 10, 3)}
    after = {(s.hour, s.minute) for s in starts if s.date() == date(2026, 10, 5)}
    assert before == {(h, 30) for h in range(9, 16)}
    assert after == {(h, 0) for h in range(9, 17)}
