"""Interview loops: every feasible loop is found (checked against brute force), the
panel's load is spread, and a day is filled before the next is used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations, permutations, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiresync.availability import (
    AvailabilityQuery,
    Booked,
    Group,
    InvalidQuery,
    Period,
    Person,
    Rules,
    WorkingWeek,
)
from hiresync.availability.loops import LoopQuery, Session, find_loops
from hiresync.availability.working_hours import day_start, local_date, zone
from tests.unit.availability.oracle import Oracle
from tests.unit.availability.strategies import ZONES, weeks

T0 = datetime(2026, 3, 2, 13, tzinfo=UTC)  # Monday 08:00 in New York
NOW = T0 - timedelta(days=1)
M = timedelta(minutes=1)


def table(q: LoopQuery, s: Session, people: dict[str, Person]) -> dict[int, tuple]:
    aq = AvailabilityQuery(s.groups, q.periods, s.duration, q.interval, q.rules)
    return {int(a.timestamp()): free for a, _, free in Oracle(aq, people, NOW).slots()}


def seats_fit(
    q: LoopQuery, people: dict[str, Person], seats: list[tuple[int, int, tuple[str, ...]]]
) -> bool:
    gap = max(q.rules.buffer_before, q.rules.buffer_after).total_seconds()
    for (_, e1, p1), (s2, _, p2) in combinations(sorted(seats), 2):
        if set(p1) & set(p2) and s2 - e1 < gap:
            return False
    for pid in {p for _, _, ps in seats for p in ps}:
        person, tz = people[pid], zone(people[pid].time_zone)
        mine = [local_date(s, tz).toordinal() for s, _, ps in seats if pid in ps]
        booked = [local_date(b.start_s, tz).toordinal() for b in person.booked]
        for d in mine:
            monday = d - (d + 6) % 7
            if (
                person.max_per_day is not None
                and booked.count(d) + mine.count(d) > person.max_per_day
            ):
                return False
            week = sum(monday <= x < monday + 7 for x in booked + mine)
            if person.max_per_week is not None and week > person.max_per_week:
                return False
    return True


def brute_force(q: LoopQuery, people: dict[str, Person]) -> set[tuple]:
    """Every (session, start) sequence that some choice of interviewers makes feasible."""
    tables = [table(q, s, people) for s in q.sessions]
    tz = zone(q.candidate_time_zone)
    lo_gap, hi_gap = (
        q.min_gap.total_seconds(),
        q.max_gap.total_seconds() if q.max_gap is not None else 1e18,
    )
    orders = (
        permutations(range(len(q.sessions))) if q.any_order else [tuple(range(len(q.sessions)))]
    )
    found = set()
    for order in orders:
        for starts in product(*(sorted(tables[i]) for i in order)):
            ends = [
                s + q.sessions[i].duration.total_seconds()
                for s, i in zip(starts, order, strict=True)
            ]
            day = local_date(starts[0], tz).toordinal()
            if starts[0] < day_start(day, tz) or ends[-1] > day_start(day + 1, tz):
                continue
            if not all(lo_gap <= b - e <= hi_gap for e, b in zip(ends, starts[1:], strict=False)):
                continue
            options = []
            for s, e, i in zip(starts, ends, order, strict=True):
                for g, group in enumerate(q.sessions[i].groups):
                    need = len(group.members) if group.required is None else group.required
                    options.append([(s, e, c) for c in combinations(tables[i][s][g], need)])
            if any(seats_fit(q, people, list(pick)) for pick in product(*options)):
                found.add(
                    tuple((q.sessions[i].name, s) for s, i in zip(starts, order, strict=True))
                )
    return found


@st.composite
def loop_cases(draw: st.DrawFn) -> tuple[LoopQuery, dict[str, Person]]:
    ids = [f"p{i}" for i in range(draw(st.integers(2, 4)))]
    people = {}
    for pid in ids:
        booked = tuple(
            Booked(T0 + h * 60 * M, T0 + (h * 60 + 30) * M)
            for h in draw(st.lists(st.integers(-30, 20), max_size=2))
        )
        people[pid] = Person(
            pid,
            draw(st.sampled_from(ZONES)),
            draw(weeks()),
            (),
            booked,
            draw(st.sampled_from([None, 1, 2])),
            draw(st.sampled_from([None, 2, 3])),
        )
    sessions = []
    for n in range(draw(st.integers(2, 3))):
        members = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
        k = draw(st.one_of(st.none(), st.integers(1, len(members))))
        sessions.append(
            Session(f"s{n}", draw(st.sampled_from([30, 60])) * M, (Group(tuple(members), k),))
        )
    min_gap = draw(st.sampled_from([0, 30])) * M
    max_gap = draw(st.sampled_from([None, 0 * M, 30 * M, 60 * M, 120 * M]))
    query = LoopQuery(
        tuple(sessions),
        (Period(T0, T0 + draw(st.integers(8, 30)) * 60 * M),),
        draw(st.sampled_from(ZONES)),
        interval=60 * M,
        any_order=draw(st.booleans()),
        min_gap=min_gap,
        max_gap=None if max_gap is None or max_gap < min_gap else max_gap,
        rules=Rules(buffer_before=draw(st.sampled_from([0, 15, 60])) * M),
        max_results=10**6,
    )
    return query, people


@settings(max_examples=60, deadline=None)
@given(loop_cases())
def test_finds_exactly_the_feasible_loops(case: tuple[LoopQuery, dict[str, Person]]) -> None:
    query, people = case
    result = find_loops(query, people, NOW)
    assert result.complete
    got = {
        tuple((s.name, int(s.start.timestamp())) for s in loop.sessions) for loop in result.loops
    }
    assert got == brute_force(query, people)
    days = [loop.day for loop in result.loops]
    assert days == sorted(days)


def ny_person(pid: str, booked: int = 0) -> Person:
    hours = WorkingWeek.weekdays()
    friday = T0 + timedelta(days=4)  # later the same ISO week
    taken = tuple(Booked(friday + h * 60 * M, friday + (h * 60 + 30) * M) for h in range(booked))
    return Person(pid, "America/New_York", hours, booked=taken)


def test_prefers_the_less_loaded_interviewer_and_uses_the_first_day() -> None:
    people = [ny_person("lead"), ny_person("busy_bee", booked=3), ny_person("fresh")]
    sessions = (
        Session("intro", 30 * M, (Group(("lead",)),)),
        Session("technical", 60 * M, (Group(("busy_bee", "fresh"), 1),)),
    )
    period = (Period(T0, T0 + timedelta(days=3)),)
    result = find_loops(LoopQuery(sessions, period, "America/New_York", max_results=3), people, NOW)
    assert len(result.loops) == 3
    assert {loop.day.isoformat() for loop in result.loops} == {"2026-03-02"}
    for loop in result.loops:
        assert loop.sessions[1].interviewers == ("fresh",)
        assert loop.sessions[1].start - loop.sessions[0].end <= timedelta(minutes=30)


def test_one_interviewer_never_sits_on_overlapping_sessions() -> None:
    people = [ny_person("solo")]
    sessions = tuple(Session(n, 60 * M, (Group(("solo",)),)) for n in ("a", "b"))
    rules = Rules(buffer_before=15 * M, buffer_after=15 * M)
    q = LoopQuery(
        sessions, (Period(T0, T0 + timedelta(days=1)),), "UTC", rules=rules, any_order=True
    )
    for loop in find_loops(q, people, NOW).loops:
        first, second = loop.sessions
        assert second.start >= first.end + 15 * M


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"sessions": ()}, "add at least one"),
        ({"candidate_time_zone": "Nowhere/City"}, "IANA"),
        ({"min_gap": 60 * M, "max_gap": 30 * M}, "max_gap is shorter"),
    ],
)
def test_bad_loop_queries_say_what_to_fix(changes: dict[str, object], says: str) -> None:
    base: dict[str, object] = {
        "sessions": (Session("a", 60 * M, (Group(("x",)),)),),
        "periods": (Period(T0, T0 + timedelta(days=1)),),
        "candidate_time_zone": "UTC",
    }
    base.update(changes)
    with pytest.raises(InvalidQuery, match=says):
        find_loops(LoopQuery(**base), [Person("x")], NOW)  # type: ignore[arg-type]
