"""The free-slot solver: who can meet when, for "all of A" and "k of B" groups.

Slots mode works on the slot grid as bit masks (see ``intervals``): each person's
possible starts are built once from their cached working-hours template by clearing
the ranges their (buffered) blocks and capped days rule out, one slice assignment per
block; "all" groups are ANDs, "at least k" is a bit-sliced counter, so the cost is
one pass over the busy blocks plus a few big-int operations per person, whatever the
number of slots. Periods mode uses the interval algebra on exact seconds instead,
because periods are not on the grid.

A person is free for a slot ``[s, e)`` when ``[s, e)`` lies inside their working
hours, inside no capped local day or week, inside the query periods cut to
``[now + min_notice, now + horizon]``, and ``[s - buffer_before, e + buffer_after)``
meets none of their blocking events or booked interviews. A slot is offered only where
each of the query's capacities (``capacity``) has a place left over all of ``[s, e)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import reduce
from itertools import compress
from operator import itemgetter

from hiresync.availability.capacity import all_full_spans
from hiresync.availability.intervals import (
    Grid,
    Interval,
    at_least,
    count_at_least,
    covers,
    intersect,
    merge,
    starts_within,
    subtract,
)
from hiresync.availability.model import AvailabilityQuery, Group, Mode, Person, Slot
from hiresync.availability.policy import blocking, table
from hiresync.availability.validation import Plan, plan_query
from hiresync.availability.working_hours import capped_spans, local_days, working_intervals

_TO_BITS = bytes.maketrans(b"01", b"\x00\x01")


def find_availability(
    query: AvailabilityQuery, people: Mapping[str, Person] | Iterable[Person], now: datetime
) -> tuple[Slot, ...]:
    """Answer ``query`` for ``people`` as of ``now`` (never read from the clock).

    Raises ``InvalidQuery`` with a user-facing message for a malformed query.
    """
    plan = plan_query(query, people, now)
    if not plan.window:
        return ()
    if query.mode == Mode.PERIODS:
        return find_periods(plan, query)
    return find_slots(plan, query)


def to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def blocked_and_working(
    plan: Plan, query: AvailabilityQuery, person: Person, timed: bool = True
) -> tuple[list[Interval], list[Interval] | None]:
    """A person's buffered blocks and capped spans (unsorted), and their working time
    over the query window (None when they keep no working hours)."""
    start, end = plan.window[0][0], plan.window[-1][1]
    blocks = blocking(person, query.rules.policy, plan.before, plan.after, timed)
    blocks += capped_spans(
        person.time_zone,
        (b.start_s for b in person.booked),
        person.max_per_day,
        person.max_per_week,
    )
    if person.working_hours is None:
        return blocks, None
    first, last = local_days(person.time_zone, start, end)
    return blocks, list(working_intervals(person.time_zone, person.working_hours, first, last))


class _Rows:
    """Each person's possible starts on the grid, computed once per query."""

    def __init__(self, plan: Plan, query: AvailabilityQuery, grid: Grid) -> None:
        self.plan, self.query, self.grid = plan, query, grid
        self.rows: dict[str, bytearray] = {}
        self.templates: dict[object, bytes] = {}

    def template(self, working: list[Interval] | None, key: object) -> bytes:
        found = self.templates.get(key)
        if found is None:
            row = self.grid.blank(b"1" if working is None else b"0")
            if working is not None:
                self.grid.mark_within(row, working)
            found = self.templates[key] = bytes(row)
        return found

    def __getitem__(self, pid: str) -> bytearray:
        row = self.rows.get(pid)
        if row is None:
            person = self.plan.people[pid]
            blocks, working = blocked_and_working(self.plan, self.query, person, timed=False)
            row = bytearray(self.template(working, (person.time_zone, person.working_hours)))
            plan, codes = self.plan, table(self.query.rules.policy)
            self.grid.clear_timed(row, person.busy, codes, plan.before, plan.after)
            self.grid.clear_overlapping(row, blocks)
            self.rows[pid] = row
        return row


def grid_for(plan: Plan) -> tuple[Grid, int]:
    """The slot grid over the window, and the mask of starts inside the window."""
    grid = Grid.covering(plan.window[0][0], plan.window[-1][1], plan.step, plan.duration)
    row = grid.blank()
    grid.mark_within(row, plan.window)
    return grid, grid.to_int(row)


def find_slots(plan: Plan, query: AvailabilityQuery) -> tuple[Slot, ...]:
    d = plan.duration
    return tuple(
        Slot(to_datetime(s), to_datetime(s + d), free) for s, free in raw_slots(plan, query)
    )


def raw_slots(
    plan: Plan, query: AvailabilityQuery
) -> list[tuple[int, tuple[tuple[str, ...], ...]]]:
    """Slots as (start second, free members per group), ordered by start."""
    if not plan.window:
        return []
    grid, final = grid_for(plan)
    if query.capacities:
        room = grid.blank(b"1")
        grid.clear_overlapping(room, all_full_spans(query.capacities))
        final &= grid.to_int(room)
    rows = _Rows(plan, query, grid)
    full = (1 << grid.size) - 1
    groups = sorted(query.groups, key=lambda g: g.required is not None)
    for group in groups:
        if group.required is None:
            for m in group.members:
                final &= grid.to_int(rows[m])
                if not final:
                    return []
        else:
            masks = [grid.to_int(rows[m]) for m in group.members]
            final &= count_at_least_masked(masks, group.required, final, full)
    if not final:
        return []
    indices = set_indices(grid, final, query.max_results)
    per_group = [free_members(g, rows, indices) for g in query.groups]
    return [(grid.at(i), tuple(f[n] for f in per_group)) for n, i in enumerate(indices)]


def count_at_least_masked(masks: Sequence[int], k: int, within: int, full: int) -> int:
    return count_at_least([m & within for m in masks], k, full)


def set_indices(grid: Grid, mask: int, limit: int | None) -> list[int]:
    text = grid.to_row(mask)
    out: list[int] = []
    i = text.find("1")
    while i != -1 and (limit is None or len(out) < limit):
        out.append(i)
        i = text.find("1", i + 1)
    return out


def free_members(group: Group, rows: _Rows, indices: list[int]) -> list[tuple[str, ...]]:
    """For each slot index, the members of ``group`` free at it, in group order."""
    if group.required is None or not indices:
        return [group.members] * len(indices)
    if len(indices) == 1:
        i = indices[0]
        return [tuple(m for m in group.members if rows[m][i] == 49)]
    gather = itemgetter(*indices)
    columns = [gather(rows[m].translate(_TO_BITS)) for m in group.members]
    return [tuple(compress(group.members, flags)) for flags in zip(*columns, strict=True)]


def person_starts(plan: Plan, query: AvailabilityQuery, person: Person) -> list[Interval]:
    """Exact start times (half-open second intervals) at which the person is free."""
    blocks, working = blocked_and_working(plan, query, person)
    free = plan.window if working is None else intersect(working, plan.window)
    return starts_within(subtract(free, merge(blocks)), plan.duration)


def find_periods(plan: Plan, query: AvailabilityQuery) -> tuple[Slot, ...]:
    """Maximal periods covered by valid slots (any start second), ``>= duration`` long."""
    starts = {
        m: person_starts(plan, query, plan.people[m]) for g in query.groups for m in g.members
    }
    combined: list[Interval] | None = None
    for group in query.groups:
        sets = [starts[m] for m in group.members]
        ok = reduce(intersect, sets) if group.required is None else at_least(sets, group.required)
        combined = ok if combined is None else intersect(combined, ok)
    d = plan.duration
    if query.capacities and combined:
        room = subtract(plan.window, all_full_spans(query.capacities))
        combined = intersect(combined, starts_within(room, d))
    periods = merge((a, b - 1 + d) for a, b in combined or [])
    if query.max_results is not None:
        periods = periods[: query.max_results]
    return tuple(
        Slot(
            to_datetime(a),
            to_datetime(b),
            tuple(
                tuple(m for m in g.members if covers(starts[m], a, b - d + 1)) for g in query.groups
            ),
        )
        for a, b in periods
    )
