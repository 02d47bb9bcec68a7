"""Checks that turn a query into integer seconds, or say exactly what to fix.

Every message names the offending value and the way out, because it reaches the
recruiter as a 4xx answer. A person may appear in only one group (and once in it):
"all of A plus k of B" with someone in both has no single reading, so we ask the
caller to choose.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from hiresync.availability.capacity import check_capacities
from hiresync.availability.intervals import Interval, intersect, merge
from hiresync.availability.model import (
    AvailabilityQuery,
    Group,
    InvalidQuery,
    Period,
    Person,
    Rules,
    ceil_s,
    floor_s,
)
from hiresync.domain.timezones import is_valid_iana

ALLOWED_INTERVALS = (5, 10, 15, 20, 30, 60)  # minutes
MAX_WINDOW = timedelta(weeks=12)
OPEN_END = 2**62


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked query in seconds: ``window`` is the query periods cut to
    ``[now + min_notice, now + horizon]``, merged."""

    window: list[Interval]
    duration: int
    step: int
    before: int
    after: int
    people: Mapping[str, Person]


def seconds(value: timedelta, what: str, minimum: int = 0) -> int:
    total = value.total_seconds()
    if total != int(total) or total < minimum:
        need = "a whole number of seconds" + (f" of at least {minimum} s" if minimum else " >= 0")
        raise InvalidQuery(f"{what} must be {need}, got {value}.")
    return int(total)


def index_people(people: Mapping[str, Person] | Iterable[Person]) -> dict[str, Person]:
    items = people.values() if isinstance(people, Mapping) else people
    out: dict[str, Person] = {}
    for person in items:
        if person.id in out:
            raise InvalidQuery(f"Person {person.id!r} is given twice; send each person once.")
        check_person(person)
        out[person.id] = person
    return out


def check_person(person: Person) -> None:
    if not is_valid_iana(person.time_zone):
        raise InvalidQuery(
            f"Unknown time zone {person.time_zone!r} for {person.id!r}; use an IANA name such as 'Europe/London'."
        )
    for name in ("max_per_day", "max_per_week"):
        cap = getattr(person, name)
        if cap is not None and cap < 0:
            raise InvalidQuery(f"{name} for {person.id!r} must be 0 or more, got {cap}.")


def check_groups(groups: tuple[Group, ...], people: Mapping[str, Person]) -> None:
    if not groups:
        raise InvalidQuery("The query has no participant groups; add at least one group.")
    seen: dict[str, int] = {}
    for n, group in enumerate(groups, start=1):
        if not group.members:
            raise InvalidQuery(f"Group {n} has no members; add at least one person or remove it.")
        size, k = len(group.members), group.required
        if k is not None and not 1 <= k <= size:
            raise InvalidQuery(
                f"Group {n} asks for {k} of {size} members; 'required' must be between 1 and {size} (or omitted for all)."
            )
        for member in group.members:
            if member in seen:
                where = "twice in group" if seen[member] == n else f"in groups {seen[member]} and"
                raise InvalidQuery(
                    f"Person {member!r} is listed {where} {n}; list each person in one group only."
                )
            if member not in people:
                raise InvalidQuery(
                    f"Group {n} names {member!r}, who is not among the people sent; add them or remove the name."
                )
            seen[member] = n


def check_periods(periods: tuple[Period, ...]) -> list[Interval]:
    if not periods:
        raise InvalidQuery("The query has no periods; give at least one start/end to search in.")
    out: list[Interval] = []
    for p in periods:
        for value in (p.start, p.end):
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise InvalidQuery(f"Period bounds must carry a time zone (UTC), got {value!r}.")
        if p.end <= p.start:
            raise InvalidQuery(
                f"Period {p.start.isoformat()} to {p.end.isoformat()} ends before it starts; swap or fix the times."
            )
        out.append((ceil_s(p.start), floor_s(p.end)))
    out.sort()
    for (_, end), (start, _) in pairwise(out):
        if start < end:
            raise InvalidQuery(
                "Query periods overlap; merge them into one period or make them disjoint."
            )
    if out[-1][1] - out[0][0] > MAX_WINDOW.total_seconds():
        raise InvalidQuery(
            "The query spans more than 12 weeks from first start to last end; split it into several queries of 12 weeks or less."
        )
    return out


def check_rules(rules: Rules) -> tuple[int, int, int, int | None]:
    before = seconds(rules.buffer_before, "buffer_before")
    after = seconds(rules.buffer_after, "buffer_after")
    notice = seconds(rules.min_notice, "min_notice")
    horizon = None if rules.horizon is None else seconds(rules.horizon, "horizon", 1)
    return before, after, notice, horizon


def check_now(now: datetime, what: str = "'now'") -> int:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise InvalidQuery(f"{what} must be a date-time with a time zone (UTC), got {now!r}.")
    return math.ceil(now.timestamp())


def check_duration(duration: timedelta, interval: timedelta) -> tuple[int, int]:
    d = seconds(duration, "duration", 1)
    step = interval.total_seconds()
    if step not in [m * 60 for m in ALLOWED_INTERVALS]:
        raise InvalidQuery(
            f"Slot interval must be one of {ALLOWED_INTERVALS} minutes, got {interval}."
        )
    return d, int(step)


def plan_query(
    query: AvailabilityQuery, people: Mapping[str, Person] | Iterable[Person], now: datetime
) -> Plan:
    """Validate ``query`` and convert it to seconds; raises ``InvalidQuery``."""
    index = index_people(people)
    check_groups(query.groups, index)
    duration, step = check_duration(query.duration, query.interval)
    periods = check_periods(query.periods)
    before, after, notice, horizon = check_rules(query.rules)
    if query.max_results is not None and query.max_results < 1:
        raise InvalidQuery(f"max_results must be 1 or more, got {query.max_results}.")
    if query.capacities:
        check_capacities(query.capacities)
    now_s = check_now(now)
    end = OPEN_END if horizon is None else now_s + horizon
    window = intersect(merge(periods), [(now_s + notice, end)])
    return Plan(window, duration, step, before, after, index)
