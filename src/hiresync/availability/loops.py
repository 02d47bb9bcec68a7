"""Interview loops: several sessions for one candidate on one day, back to back.

Each session is an availability query of its own (its duration and groups over the
loop's periods), answered once by the solver and memoised as "start -> who is free";
the loop search then only walks those tables:

1. days are tried in order, a day being the candidate's local date; every session of
   a loop starts and ends within it;
2. for each session order (the given one, or every permutation with ``any_order``,
   at most 6 sessions), a depth-first walk picks each next start among that session's
   free starts with ``min_gap <= start - previous end <= max_gap`` (bisect, no scan);
3. interviewers are then chosen for each "k of" group, least loaded first; a person
   may sit on several sessions of one loop only with the query's buffers between
   them and within their daily and weekly caps (counting the loop's own sessions).

Ranking: earlier day first (so the first N loops use as few days as possible), then
the *load score*: the sum, over every interviewer seat in the loop, of the interviews
that interviewer already has booked in that ISO week plus the seats they already hold
earlier in the same loop; then earlier start. Lower is better and spreads interviews
across the panel. The search is bounded (``NODE_BUDGET`` steps, ``PER_DAY`` loops
ranked per day); ``LoopResult.complete`` says whether it ran to the end.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import combinations, permutations

from hiresync.availability.model import (
    AvailabilityQuery,
    Group,
    InvalidQuery,
    Period,
    Person,
    Rules,
)
from hiresync.availability.solver import raw_slots, to_datetime
from hiresync.availability.validation import index_people, plan_query, seconds
from hiresync.availability.working_hours import day_start, local_date, zone
from hiresync.domain.timezones import is_valid_iana

NODE_BUDGET = 200_000
PER_DAY = 20  # loops ranked per day, times max_results
MAX_ANY_ORDER = 6


@dataclass(frozen=True, slots=True)
class Session:
    name: str
    duration: timedelta
    groups: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class LoopQuery:
    """``max_gap=None`` allows any gap within the day."""

    sessions: tuple[Session, ...]
    periods: tuple[Period, ...]
    candidate_time_zone: str
    interval: timedelta = timedelta(minutes=15)
    any_order: bool = False
    min_gap: timedelta = timedelta(0)
    max_gap: timedelta | None = timedelta(minutes=30)
    rules: Rules = field(default_factory=Rules)
    max_results: int = 10


@dataclass(frozen=True, slots=True)
class ScheduledSession:
    name: str
    start: datetime
    end: datetime
    interviewers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Loop:
    day: date  # the candidate's local date
    sessions: tuple[ScheduledSession, ...]  # in time order
    load: int


@dataclass(frozen=True, slots=True)
class LoopResult:
    loops: tuple[Loop, ...]
    complete: bool  # False when the search budget ran out first


def check_loop(query: LoopQuery) -> tuple[int, int | None]:
    if not query.sessions:
        raise InvalidQuery("The loop has no sessions; add at least one.")
    names = [s.name for s in query.sessions]
    if len(set(names)) != len(names):
        raise InvalidQuery("Session names repeat; give each session of the loop its own name.")
    if query.any_order and len(query.sessions) > MAX_ANY_ORDER:
        raise InvalidQuery(
            f"'any order' is limited to {MAX_ANY_ORDER} sessions; fix the order of some."
        )
    if not is_valid_iana(query.candidate_time_zone):
        raise InvalidQuery(
            f"Unknown candidate time zone {query.candidate_time_zone!r}; use an IANA name such as 'America/New_York'."
        )
    if query.max_results < 1:
        raise InvalidQuery(f"max_results must be 1 or more, got {query.max_results}.")
    low = seconds(query.min_gap, "min_gap")
    high = None if query.max_gap is None else seconds(query.max_gap, "max_gap")
    if high is not None and high < low:
        raise InvalidQuery("max_gap is shorter than min_gap; raise max_gap or lower min_gap.")
    return low, high


class _Search:
    """The memoised per-session tables and the bounded walk over them."""

    def __init__(self, query: LoopQuery, people: dict[str, Person], now: datetime) -> None:
        self.query, self.people = query, people
        self.min_gap, self.max_gap = check_loop(query)
        self.tables: list[dict[int, tuple[tuple[str, ...], ...]]] = []
        self.durations: list[int] = []
        for s in query.sessions:
            q = AvailabilityQuery(s.groups, query.periods, s.duration, query.interval, query.rules)
            plan = plan_query(q, people, now)
            self.tables.append(dict(raw_slots(plan, q)))
            self.durations.append(plan.duration)
        self.starts = [sorted(t) for t in self.tables]
        self.spacing = max(plan.before, plan.after)
        self.nodes = 0
        self.counts: dict[tuple[str, int, bool], int] = {}

    def spent(self) -> bool:
        self.nodes += 1
        return self.nodes > NODE_BUDGET

    def orders(self) -> Iterable[tuple[int, ...]]:
        n = len(self.query.sessions)
        return permutations(range(n)) if self.query.any_order else [tuple(range(n))]

    def days(self) -> list[int]:
        tz = zone(self.query.candidate_time_zone)
        return sorted({local_date(s, tz).toordinal() for starts in self.starts for s in starts})

    def sequences(self, order: tuple[int, ...], lo: int, hi: int) -> Iterator[tuple[int, ...]]:
        """Start times, one per session in ``order``, inside ``[lo, hi)`` and the gaps."""
        stack: list[tuple[int, tuple[int, ...]]] = [(lo, ())]
        while stack:
            earliest, acc = stack.pop()
            pos = len(acc)
            if pos == len(order):
                yield acc
                continue
            i = order[pos]
            latest = hi - self.durations[i]
            if pos and self.max_gap is not None:
                latest = min(latest, earliest - self.min_gap + self.max_gap)
            starts = self.starts[i]
            j, found = bisect_left(starts, earliest), []
            while j < len(starts) and starts[j] <= latest:
                found.append((starts[j] + self.durations[i] + self.min_gap, (*acc, starts[j])))
                j += 1
            if self.spent():
                return
            stack.extend(reversed(found))

    def booked(self, pid: str, ordinal: int, week: bool) -> int:
        """Interviews ``pid`` already has on local date ``ordinal`` (or in its ISO week)."""
        first = ordinal - date.fromordinal(ordinal).weekday() if week else ordinal
        key = (pid, first, week)
        if key not in self.counts:
            tz = zone(self.people[pid].time_zone)
            days = [local_date(b.start_s, tz).toordinal() for b in self.people[pid].booked]
            self.counts[key] = sum(first <= d < first + (7 if week else 1) for d in days)
        return self.counts[key]

    def day_of(self, pid: str, start: int) -> int:
        return local_date(start, zone(self.people[pid].time_zone)).toordinal()

    def weight(self, pid: str, start: int, seats: dict[str, list[int]]) -> int:
        return self.booked(pid, self.day_of(pid, start), True) + len(seats.get(pid, ()))

    def fits(self, pid: str, pos: int, loop: _Loop, seats: dict[str, list[int]]) -> bool:
        """May ``pid`` also sit on session ``pos``, given the seats they hold already?"""
        held = seats.get(pid, [])
        if not held:
            return True
        if any(loop.starts[pos] - loop.end(q) < self.spacing for q in held):
            return False
        person, day = self.people[pid], self.day_of(pid, loop.starts[pos])
        monday = day - date.fromordinal(day).weekday()
        days = [self.day_of(pid, loop.starts[q]) for q in held]
        n_day = self.booked(pid, day, False) + days.count(day) + 1
        n_week = self.booked(pid, day, True) + sum(monday <= d < monday + 7 for d in days) + 1
        too_many_day = person.max_per_day is not None and n_day > person.max_per_day
        return not too_many_day and (person.max_per_week is None or n_week <= person.max_per_week)

    def assign(self, loop: _Loop, n: int, seats: dict[str, list[int]]) -> int | None:
        """Fill ``loop.chosen`` from seat pick ``n`` on; the load score, or None."""
        if n == len(loop.picks):
            return 0
        pos, g = loop.picks[n]
        group = self.query.sessions[loop.order[pos]].groups[g]
        free = self.tables[loop.order[pos]][loop.starts[pos]][g]
        need = len(group.members) if group.required is None else group.required
        ranked = sorted(free, key=lambda p: (self.weight(p, loop.starts[pos], seats), p))
        for combo in combinations(ranked, need):
            if self.spent():
                return None
            if not all(self.fits(p, pos, loop, seats) for p in combo):
                continue
            load = sum(self.weight(p, loop.starts[pos], seats) for p in combo)
            for p in combo:
                seats.setdefault(p, []).append(pos)
            rest = self.assign(loop, n + 1, seats)
            for p in combo:
                seats[p].pop()
            if rest is not None:
                loop.chosen[n] = tuple(m for m in group.members if m in combo)
                return load + rest
        return None

    def on_day(self, day: int, limit: int) -> list[Loop]:
        """Loops on the candidate's local date ``day`` (ordinal), unranked."""
        tz = zone(self.query.candidate_time_zone)
        lo, hi = day_start(day, tz), day_start(day + 1, tz)
        found: list[Loop] = []
        for order in self.orders():
            for starts in self.sequences(order, lo, hi):
                loop = _Loop(self, order, starts)
                load = self.assign(loop, 0, {})
                if load is not None:
                    found.append(loop.result(date.fromordinal(day), load))
                if len(found) >= limit or self.nodes > NODE_BUDGET:
                    return found
        return found


class _Loop:
    """One candidate sequence of start times while interviewers are being chosen."""

    def __init__(self, search: _Search, order: tuple[int, ...], starts: tuple[int, ...]) -> None:
        self.search, self.order, self.starts = search, order, starts
        groups = [search.query.sessions[i].groups for i in order]
        self.picks = [(pos, g) for pos, gs in enumerate(groups) for g in range(len(gs))]
        self.chosen: list[tuple[str, ...]] = [()] * len(self.picks)

    def end(self, pos: int) -> int:
        return self.starts[pos] + self.search.durations[self.order[pos]]

    def result(self, day: date, load: int) -> Loop:
        sessions = []
        for pos, i in enumerate(self.order):
            people = tuple(
                m
                for (p, _), seat in zip(self.picks, self.chosen, strict=True)
                if p == pos
                for m in seat
            )
            name = self.search.query.sessions[i].name
            sessions.append(
                ScheduledSession(
                    name, to_datetime(self.starts[pos]), to_datetime(self.end(pos)), people
                )
            )
        return Loop(day, tuple(sessions), load)


def find_loops(
    query: LoopQuery, people: Mapping[str, Person] | Iterable[Person], now: datetime
) -> LoopResult:
    """The first ``max_results`` loops, ranked as the module docstring says."""
    search = _Search(query, index_people(people), now)
    out: list[Loop] = []
    for day in search.days():
        found = search.on_day(day, PER_DAY * query.max_results)
        out += sorted(found, key=lambda loop: (loop.load, [s.start for s in loop.sessions]))
        if len(out) >= query.max_results or search.nodes > NODE_BUDGET:
            break
    return LoopResult(tuple(out[: query.max_results]), search.nodes <= NODE_BUDGET)
