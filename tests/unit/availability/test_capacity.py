"""Capacity constraints (a host's Zoom account: k meetings at once) against a brute-force
minute-grid oracle: the engine refuses exactly the slots during which, at some minute,
at least k of the resource's booked meetings are under way, in slots and periods mode,
and ``explain_capacities`` agrees with it slot by slot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiresync.availability import (
    AvailabilityQuery,
    Booked,
    Capacity,
    Group,
    InvalidQuery,
    Mode,
    Period,
    Person,
    find_availability,
)
from hiresync.availability.explain import Reason, explain_capacities
from tests.unit.availability.oracle import MIN, Oracle, as_tuples
from tests.unit.availability.strategies import cases

Case = tuple[AvailabilityQuery, list[Person], datetime]
MINUTE = timedelta(minutes=1)


class CapacityOracle(Oracle):
    """The minute-grid oracle, plus: every minute of the slot must leave a place."""

    def room(self, s: int) -> bool:
        for c in self.query.capacities:
            spans = [
                (int(b.start.timestamp()) // MIN, int(b.end.timestamp()) // MIN) for b in c.booked
            ]
            for t in range(s, s + self.d):
                if sum(a <= t < b for a, b in spans) >= c.capacity:
                    return False
        return True

    def judge(self, s: int) -> tuple[tuple[str, ...], ...] | None:
        free = super().judge(s)
        return free if free is not None and self.room(s) else None


@st.composite
def capacities(draw: st.DrawFn, base: datetime, span: int) -> tuple[Capacity, ...]:
    out = []
    for i in range(draw(st.integers(1, 2))):
        booked = []
        for _ in range(draw(st.integers(0, 5))):
            start = base + draw(st.integers(-120, span)) * MINUTE
            booked.append(Booked(start, start + draw(st.integers(1, 180)) * MINUTE))
        k = draw(st.sampled_from([0, 1, 1, 2, 2, 3]))
        out.append(Capacity(f"Zoom: host{i}@example.com", k, tuple(booked)))
    return tuple(out)


@st.composite
def capacity_cases(draw: st.DrawFn, mode: Mode = Mode.SLOTS) -> Case:
    query, people, now = draw(cases(mode))
    base = min(p.start for p in query.periods)
    span = int((max(p.end for p in query.periods) - base).total_seconds()) // MIN
    return replace(query, capacities=draw(capacities(base, span))), people, now


@settings(max_examples=150, deadline=None)
@given(capacity_cases())
def test_slots_with_capacities_equal_the_oracle(case: Case) -> None:
    query, people, now = case
    expected = CapacityOracle(query, {p.id: p for p in people}, now).slots()
    assert as_tuples(find_availability(query, people, now)) == expected


@settings(max_examples=60, deadline=None)
@given(capacity_cases(Mode.PERIODS))
def test_periods_with_capacities_equal_the_oracle(case: Case) -> None:
    query, people, now = case
    expected = CapacityOracle(query, {p.id: p for p in people}, now).periods_mode()
    assert as_tuples(find_availability(query, people, now)) == expected


@settings(max_examples=150, deadline=None)
@given(capacity_cases(), st.integers(-60, 3 * 1440))
def test_explain_names_a_full_capacity_exactly_when_the_oracle_refuses(
    case: Case, offset: int
) -> None:
    query, people, now = case
    oracle = CapacityOracle(query, {p.id: p for p in people}, now)
    start = min(p.start for p in query.periods) + offset * MINUTE
    found = explain_capacities(query.capacities, start, query.duration)
    assert (not found) == oracle.room(int(start.timestamp()) // MIN)
    assert all(c.reason is Reason.CAPACITY for c in found)


T = datetime(2026, 12, 1, tzinfo=UTC)
PAT = Person("pat")


def at(hour: int, minute: int = 0) -> datetime:
    return T + timedelta(hours=hour, minutes=minute)


def query(*caps: Capacity, mode: Mode = Mode.SLOTS) -> AvailabilityQuery:
    return AvailabilityQuery(
        (Group(("pat",)),),
        (Period(at(9), at(12)),),
        timedelta(minutes=30),
        mode=mode,
        capacities=caps,
    )


def starts(q: AvailabilityQuery) -> list[str]:
    return [f"{s.start:%H:%M}" for s in find_availability(q, [PAT], T)]


def test_pro_host_with_one_meeting_is_not_offered_during_it() -> None:
    pro = Capacity("Zoom: pat@example.com", 1, (Booked(at(10), at(10, 45)),), "Pro plan")
    assert starts(query(pro)) == ["09:00", "09:30", "11:00", "11:30"]
    business = replace(pro, capacity=2)
    assert starts(query(business)) == starts(query())


def test_periods_stop_where_the_host_is_full() -> None:
    pro = Capacity("Zoom: pat@example.com", 1, (Booked(at(10), at(10, 45)),))
    found = find_availability(query(pro, mode=Mode.PERIODS), [PAT], T)
    assert [(p.start, p.end) for p in found] == [(at(9), at(10)), (at(10, 45), at(12))]


def test_explain_says_who_hosts_what() -> None:
    pro = Capacity(
        "Zoom: pat@example.com", 1, (Booked(at(10), at(10, 45)),), "Pro plan: one at a time"
    )
    (conflict,) = explain_capacities([pro], at(10, 30), timedelta(minutes=30))
    assert conflict.message == (
        "Zoom: pat@example.com already hosts 1 meeting at 10:00–10:45 UTC "
        "(Pro plan: one at a time)."
    )
    assert conflict.block == Booked(at(10), at(10, 45))
    assert explain_capacities([pro], at(10, 45), timedelta(minutes=30)) == ()


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(InvalidQuery, match="capacity"):
        find_availability(query(Capacity("Zoom: x", -1)), [PAT], T)
