"""The engine's answers equal a brute-force minute-grid oracle's, exactly, for random
people in DST-changing zones, policies, groups, buffers, notice, horizon and caps."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings

from hiresync.availability import AvailabilityQuery, Mode, Person, find_availability
from tests.unit.availability.oracle import Oracle, as_tuples
from tests.unit.availability.strategies import cases

Case = tuple[AvailabilityQuery, list[Person], datetime]


@settings(max_examples=150, deadline=None)
@given(cases())
def test_slots_equal_the_minute_grid_oracle(case: Case) -> None:
    query, people, now = case
    expected = Oracle(query, {p.id: p for p in people}, now).slots()
    assert as_tuples(find_availability(query, people, now)) == expected


@settings(max_examples=80, deadline=None)
@given(cases(Mode.PERIODS))
def test_periods_are_the_oracles_maximal_runs(case: Case) -> None:
    query, people, now = case
    expected = Oracle(query, {p.id: p for p in people}, now).periods_mode()
    assert as_tuples(find_availability(query, people, now)) == expected
