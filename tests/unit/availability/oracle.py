"""A brute-force minute-grid oracle for the availability engine.

Deliberately naive and independent of the engine's code: for every minute of the
window it asks, per person, "is this minute working time? inside a capped local day
or week? inside a blocking event?" by reading the local wall clock with ``zoneinfo``
directly, then judges each candidate slot minute by minute (prefix sums only to keep
it quick). It shares nothing with the engine but the input types and the documented
rules: fold=0 for wall-clock times, buffers around blocks, caps per local day / ISO
week counted on the local start date, slots aligned to the interval from the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from hiresync.availability import AvailabilityQuery, Busy, Person, Policy, Response
from hiresync.domain.freebusy import BusyStatus

MIN = 60


def oracle_blocks(policy: Policy, block: Busy) -> bool:
    """The documented decision table, spelled out case by case."""
    s, r = BusyStatus(block.status), Response(getattr(block, "response", Response.NONE))
    if s is BusyStatus.FREE or r is Response.DECLINED:
        return False
    if s is BusyStatus.OOF:
        return True
    if getattr(block, "all_day", False) and not policy.all_day_blocks:
        return False
    if r is Response.NOT_RESPONDED and not policy.not_responded_blocks:
        return False
    return {
        BusyStatus.BUSY: policy.tentative_blocks if r is Response.TENTATIVE else True,
        BusyStatus.TENTATIVE: policy.tentative_blocks,
        BusyStatus.WORKING_ELSEWHERE: policy.working_elsewhere_blocks,
        BusyStatus.UNKNOWN: policy.unknown_blocks,
    }[s]


def wall(day: date, at: object, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tzinfo=tz).timestamp())  # type: ignore[arg-type]


@dataclass
class Minutes:
    """Per-minute facts for one person over ``[lo, lo + n)`` minutes (UTC epoch minutes)."""

    lo: int
    ok: list[int]  # prefix sums of "working, not capped"
    busy: list[int]  # prefix sums of "inside a blocking event"

    def all_ok(self, a: int, b: int) -> bool:
        return self.ok[b - self.lo] - self.ok[a - self.lo] == b - a

    def none_busy(self, a: int, b: int) -> bool:
        return self.busy[b - self.lo] - self.busy[a - self.lo] == 0


def working(person: Person, t: int, tz: ZoneInfo) -> bool:
    if person.working_hours is None:
        return True
    today = datetime.fromtimestamp(t, tz).date()
    for day in (today, today - timedelta(days=1)):
        for r in person.working_hours.days[day.weekday()]:
            end_day = day if r.end > r.start else day + timedelta(days=1)
            if wall(day, r.start, tz) <= t < wall(end_day, r.end, tz):
                return True
    return False


def capped(person: Person, t: int, tz: ZoneInfo) -> bool:
    today = datetime.fromtimestamp(t, tz).date()
    starts = [datetime.fromtimestamp(b.start.timestamp(), tz).date() for b in person.booked]
    if person.max_per_day is not None and sum(d == today for d in starts) >= person.max_per_day:
        return True
    week = today.isocalendar()[:2]
    in_week = sum(d.isocalendar()[:2] == week for d in starts)
    return person.max_per_week is not None and in_week >= person.max_per_week


def block_span(block: Busy, tz: ZoneInfo) -> tuple[int, int]:
    if getattr(block, "all_day", False):
        return wall(block.start, datetime.min.time(), tz), wall(block.end, datetime.min.time(), tz)  # type: ignore[arg-type]
    return int(block.start.timestamp()), int(block.end.timestamp())  # type: ignore[union-attr]


def person_minutes(person: Person, policy: Policy, lo: int, hi: int) -> Minutes:
    tz = ZoneInfo(person.time_zone)
    ok = [working(person, m * MIN, tz) and not capped(person, m * MIN, tz) for m in range(lo, hi)]
    busy = [False] * (hi - lo)
    spans = [block_span(b, tz) for b in person.busy if oracle_blocks(policy, b)]
    spans += [(int(b.start.timestamp()), int(b.end.timestamp())) for b in person.booked]
    for a, b in spans:
        for m in range(max(lo, a // MIN), min(hi, b // MIN)):
            busy[m - lo] = True
    return Minutes(lo, [0, *accumulate(ok)], [0, *accumulate(busy)])


@dataclass
class Oracle:
    query: AvailabilityQuery
    people: dict[str, Person]
    now: datetime

    def __post_init__(self) -> None:
        q, rules = self.query, self.query.rules
        self.d = int(q.duration.total_seconds()) // MIN
        self.bb = int(rules.buffer_before.total_seconds()) // MIN
        self.ba = int(rules.buffer_after.total_seconds()) // MIN
        now = int(self.now.timestamp()) // MIN
        self.earliest = now + int(rules.min_notice.total_seconds()) // MIN
        self.latest = (
            None if rules.horizon is None else now + int(rules.horizon.total_seconds()) // MIN
        )
        self.periods = [
            (int(p.start.timestamp()) // MIN, int(p.end.timestamp()) // MIN) for p in q.periods
        ]
        self.lo = min(a for a, _ in self.periods) - self.bb - self.ba - 1
        self.hi = max(b for _, b in self.periods) + self.bb + self.ba + 1
        ids = [m for g in q.groups for m in g.members]
        self.minutes = {
            i: person_minutes(self.people[i], rules.policy, self.lo, self.hi) for i in ids
        }

    def in_window(self, s: int) -> bool:
        e = s + self.d
        if s < self.earliest or (self.latest is not None and e > self.latest):
            return False
        return all(any(a <= t < b for a, b in self.periods) for t in range(s, e))

    def free(self, pid: str, s: int) -> bool:
        m = self.minutes[pid]
        return m.all_ok(s, s + self.d) and m.none_busy(s - self.bb, s + self.d + self.ba)

    def judge(self, s: int) -> tuple[tuple[str, ...], ...] | None:
        if not self.in_window(s):
            return None
        free = tuple(tuple(m for m in g.members if self.free(m, s)) for g in self.query.groups)
        for g, f in zip(self.query.groups, free, strict=True):
            if len(f) < (len(g.members) if g.required is None else g.required):
                return None
        return free

    def slots(self) -> list[tuple[datetime, datetime, tuple[tuple[str, ...], ...]]]:
        step = int(self.query.interval.total_seconds()) // MIN
        first = min(a for a, _ in self.periods)
        s = -(-first // step) * step
        out = []
        while s + self.d <= max(b for _, b in self.periods):
            free = self.judge(s)
            if free is not None:
                out.append((at(s), at(s + self.d), free))
            s += step
        return out

    def periods_mode(self) -> list[tuple[datetime, datetime, tuple[tuple[str, ...], ...]]]:
        """Maximal runs of minutes covered by a valid one-minute-aligned slot."""
        starts = [s for s in range(self.lo, self.hi) if self.judge(s) is not None]
        runs: list[list[int]] = []
        for s in starts:
            if runs and s <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], s + self.d)
            else:
                runs.append([s, s + self.d])
        return [(at(a), at(b), self.members(a, b)) for a, b in runs]

    def members(self, a: int, b: int) -> tuple[tuple[str, ...], ...]:
        return tuple(
            tuple(m for m in g.members if any(self.free(m, s) for s in range(a, b - self.d + 1)))
            for g in self.query.groups
        )


def at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * MIN, UTC)


def as_tuples(
    slots: Sequence[object],
) -> list[tuple[datetime, datetime, tuple[tuple[str, ...], ...]]]:
    return [(s.start, s.end, s.free) for s in slots]  # type: ignore[attr-defined]
