"""Explanations: a recruiter asking "why not 10:00?" gets the real reasons, and the
verdict always agrees with the solver's (checked against the oracle)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hiresync.availability import (
    AvailabilityQuery,
    Booked,
    Busy,
    Person,
    Rules,
    WorkingWeek,
)
from hiresync.availability.explain import Reason, explain
from hiresync.domain.freebusy import BusyStatus
from tests.unit.availability.oracle import MIN, Oracle
from tests.unit.availability.strategies import cases

NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(h: int, m: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 3, day, h, m, tzinfo=UTC)


def reasons(person: Person, start: datetime, rules: Rules | None = None) -> list[Reason]:
    (only,) = explain([person], start, HOUR, NOW, rules)
    assert only.available == (not only.conflicts)
    return [c.reason for c in only.conflicts]


def test_names_the_meeting_in_the_way_with_its_subject() -> None:
    standup = Busy(at(15), at(16), BusyStatus.BUSY, subject="Standup")
    (e,) = explain([Person("ana", busy=(standup,))], at(15, 30), HOUR, NOW)
    assert not e.available
    (c,) = e.conflicts
    assert (c.reason, c.subject, c.status, c.block) == (Reason.BUSY, "Standup", "busy", standup)
    assert "Standup" in c.message


def test_private_meeting_subject_is_never_shown() -> None:
    secret = Busy(at(15), at(16), subject="Offer talk", is_private=True)
    (e,) = explain([Person("ana", busy=(secret,))], at(15), HOUR, NOW)
    assert e.conflicts[0].subject is None
    assert "Offer talk" not in e.conflicts[0].message


def test_buffer_says_which_side() -> None:
    rules = Rules(buffer_before=timedelta(minutes=15), buffer_after=timedelta(minutes=10))
    before = Person("a", busy=(Busy(at(13), at(14, 50)),))
    after = Person("b", busy=(Busy(at(16, 5), at(17)),))
    (ea, eb) = explain([before, after], at(15), HOUR, NOW, rules)
    assert [c.reason for c in ea.conflicts] == [Reason.BUFFER]
    assert "before" in ea.conflicts[0].message
    assert "after" in eb.conflicts[0].message
    assert reasons(before, at(15, 5), rules) == []


def test_working_hours_caps_notice_and_horizon() -> None:
    ny = Person("ny", "America/New_York", WorkingWeek.weekdays())
    assert reasons(ny, at(12)) == [Reason.OUTSIDE_WORKING_HOURS]  # 07:00 in New York
    capped = Person("c", booked=(Booked(at(9), at(10)),), max_per_day=1)
    assert reasons(capped, at(15)) == [Reason.DAILY_CAP]
    weekly = Person("w", booked=(Booked(at(9, day=2), at(10, day=2)),), max_per_week=1)
    assert reasons(weekly, at(15)) == [Reason.WEEKLY_CAP]
    rules = Rules(min_notice=timedelta(days=3), horizon=timedelta(days=2))
    assert reasons(Person("x"), at(15), rules) == [Reason.BEFORE_MIN_NOTICE, Reason.AFTER_HORIZON]


def test_declined_and_free_events_are_not_reasons() -> None:
    from hiresync.availability import Response

    person = Person(
        "a",
        busy=(
            Busy(at(15), at(16), response=Response.DECLINED),
            Busy(at(15), at(16), BusyStatus.FREE),
        ),
    )
    assert reasons(person, at(15)) == []


@settings(max_examples=60, deadline=None)
@given(cases(), st.data())
def test_available_exactly_when_the_oracle_says_free(case: tuple, data: st.DataObject) -> None:
    query: AvailabilityQuery
    query, people, now = case
    oracle = Oracle(query, {p.id: p for p in people}, now)
    first, last = query.periods[0].start, query.periods[-1].end
    minute = data.draw(
        st.integers(int(first.timestamp()) // MIN, int(last.timestamp()) // MIN - oracle.d)
    )
    start = datetime.fromtimestamp(minute * MIN, UTC)
    timely = minute >= oracle.earliest and (
        oracle.latest is None or minute + oracle.d <= oracle.latest
    )
    for e in explain(people, start, query.duration, now, query.rules):
        assert e.available == (timely and oracle.free(e.person, minute))
