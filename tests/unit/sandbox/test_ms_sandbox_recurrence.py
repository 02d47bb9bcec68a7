"""Recurrence expansion and free/busy digits of the Microsoft sandbox (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hiresync.sandbox.microsoft.freebusy import availability_view
from hiresync.sandbox.microsoft.model import Event, Override, User
from hiresync.sandbox.microsoft.recurrence import MailboxIndex, expand

NY = ZoneInfo("America/New_York")


def weekly_standup(**range_: object) -> Event:
    start = datetime(2026, 3, 2, 9, 30, tzinfo=NY)  # Monday, a week before US DST starts
    return Event(
        id="E1",
        subject="Stand-up",
        start=start,
        end=start + timedelta(minutes=15),
        time_zone="America/New_York",
        recurrence={
            "pattern": {
                "type": "weekly",
                "interval": 1,
                "firstDayOfWeek": "sunday",
                "daysOfWeek": ["monday", "wednesday"],
            },
            "range": {"type": "noEnd", "startDate": "2026-03-02", **range_},
        },
    )


def test_occurrences_keep_local_time_across_dst() -> None:
    found = expand(
        weekly_standup(), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC)
    )
    assert [o.start.astimezone(NY).strftime("%a %H:%M") for o in found] == (
        ["Mon 09:30", "Wed 09:30"] * 3
    )
    assert {o.start.hour for o in found} == {14, 13}  # UTC shifts when DST starts on 8 March


def test_cancelled_and_moved_occurrences() -> None:
    event = weekly_standup()
    moved = datetime(2026, 3, 4, 11, 0, tzinfo=NY)
    event.exceptions = {
        date(2026, 3, 2): None,
        date(2026, 3, 4): Override(moved, moved + timedelta(minutes=15)),
    }
    found = expand(event, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
    assert [(o.kind, o.start.astimezone(NY).hour) for o in found] == [("exception", 11)]


def test_numbered_and_end_date_ranges_stop() -> None:
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert len(expand(weekly_standup(type="numbered", numberOfOccurrences=5), *window)) == 5
    until = weekly_standup(type="endDate", endDate="2026-03-09")
    assert len(expand(until, *window)) == 3  # 2, 4 and 9 March


def test_relative_monthly_first_thursday() -> None:
    start = datetime(2026, 1, 1, 16, tzinfo=NY)
    event = Event(
        id="E2",
        subject="All hands",
        start=start,
        end=start + timedelta(hours=1),
        time_zone="America/New_York",
        recurrence={
            "pattern": {
                "type": "relativeMonthly",
                "interval": 1,
                "daysOfWeek": ["thursday"],
                "index": "first",
            },
            "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 3},
        },
    )
    found = expand(event, datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert [o.start.astimezone(NY).date() for o in found] == [
        date(2026, 1, 1),
        date(2026, 2, 5),
        date(2026, 3, 5),
    ]


def test_index_finds_long_events_that_started_before_the_window() -> None:
    start = datetime(2026, 3, 1, tzinfo=NY)
    vacation = Event(
        id="V",
        subject="Vacation",
        start=start,
        end=start + timedelta(days=5),
        time_zone="America/New_York",
        show_as="oof",
        is_all_day=True,
    )
    user = User("u", "U", "U", "", "u@x.com", "u@x.com", [], events=[vacation])
    window_start = datetime(2026, 3, 3, tzinfo=UTC)
    assert [
        o.event.id
        for o in MailboxIndex(user).overlapping(window_start, window_start + timedelta(days=1))
    ] == ["V"]


def test_availability_view_takes_the_strongest_status_per_slot() -> None:
    start = datetime(2026, 3, 3, 9, tzinfo=UTC)

    def item(minutes: int, length: int, show_as: str) -> object:
        s = start + timedelta(minutes=minutes)
        event = Event(
            id=show_as,
            subject="",
            start=s,
            end=s + timedelta(minutes=length),
            time_zone="UTC",
            show_as=show_as,
        )
        return expand(event, start - timedelta(days=1), start + timedelta(days=1))[0]

    items = [
        item(0, 60, "tentative"),
        item(30, 30, "busy"),
        item(90, 30, "workingElsewhere"),
        item(120, 45, "oof"),
    ]
    view = availability_view(items, start, start + timedelta(hours=3), 30)  # type: ignore[arg-type]
    assert view == "120033"
    assert availability_view(items, start, start + timedelta(hours=3), 30, "4")[3] == "4"  # type: ignore[arg-type]
