"""Interval algebra on integer seconds, and bit masks over a slot grid.

Intervals are half-open ``(start, end)`` int pairs. A *set* is a sorted list of
disjoint, non-touching, non-empty intervals (what ``merge`` returns); every function
that takes sets relies on that and returns one, so the engine never re-sorts.

Slots mode works on a grid of start times ``g0 + i * step``. A person's possible
starts are a string of ``'0'``/``'1'`` bytes, index ``i`` = grid point ``i``, and the
same string read in base 2 is an int whose bit operations combine whole weeks of
slots for many people at C speed (``int(s, 2)`` and ``format(x, "0Nb")`` round-trip
with index ``i`` at character ``i``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hiresync.availability.model import PLAIN_CODES, Busy, BusyLike

TIMED = 1  # the policy table's value for a timed block that blocks

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort, drop empty intervals, and join overlapping or touching ones."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def intersect(x: Sequence[Interval], y: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sets by a linear two-pointer walk."""
    out: list[Interval] = []
    i = j = 0
    while i < len(x) and j < len(y):
        a = max(x[i][0], y[j][0])
        b = min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(x: Sequence[Interval], y: Sequence[Interval]) -> list[Interval]:
    """``x`` minus ``y`` (both sets)."""
    out: list[Interval] = []
    j = 0
    for a, b in x:
        while j < len(y) and y[j][1] <= a:
            j += 1
        k = j
        while a < b and k < len(y) and y[k][0] < b:
            if y[k][0] > a:
                out.append((a, y[k][0]))
            a = max(a, y[k][1])
            k += 1
        if a < b:
            out.append((a, b))
    return out


def starts_within(free: Sequence[Interval], duration: int) -> list[Interval]:
    """Start times ``s`` (as half-open intervals) with ``[s, s + duration)`` inside ``free``."""
    return [(a, b - duration + 1) for a, b in free if b - a >= duration]


def at_least(sets: Sequence[Sequence[Interval]], k: int) -> list[Interval]:
    """Where at least ``k`` of ``sets`` cover, by a sweep over all boundaries."""
    events: list[tuple[int, int]] = []
    for s in sets:
        for a, b in s:
            events.append((a, 1))
            events.append((b, -1))
    events.sort()
    out: list[Interval] = []
    count, opened = 0, 0
    for t, delta in events:
        before = count
        count += delta
        if before < k <= count:
            opened = t
        elif count < k <= before and t > opened:
            out.append((opened, t))
    return merge(out)


def covers(s: Sequence[Interval], a: int, b: int) -> bool:
    """True when some interval of the set ``s`` meets ``[a, b)``."""
    i = bisect_right(s, (a, 2**63)) - 1
    if i >= 0 and s[i][1] > a:
        return True
    return i + 1 < len(s) and s[i + 1][0] < b


@dataclass(frozen=True, slots=True)
class Grid:
    """Slot starts ``g0 + i * step`` for ``0 <= i < size``, for slots ``duration`` long."""

    g0: int
    step: int
    size: int
    duration: int

    @classmethod
    def covering(cls, start: int, end: int, step: int, duration: int) -> Grid:
        """Every aligned start ``s`` with ``start <= s`` and ``s + duration <= end``."""
        g0 = -(-start // step) * step
        size = max(0, (end - duration - g0) // step + 1)
        return cls(g0, step, size, duration)

    def at(self, index: int) -> int:
        return self.g0 + index * self.step

    def blank(self, char: bytes = b"0") -> bytearray:
        return bytearray(char * self.size)

    def mark_within(self, row: bytearray, free: Sequence[Interval]) -> None:
        """Set to '1' every start whose slot lies inside one interval of ``free``."""
        g0, step, d = self.g0, self.step, self.duration
        for a, b in free:
            lo = max(0, -((g0 - a) // step))
            hi = min(self.size, (b - d - g0) // step + 1)
            if lo < hi:
                row[lo:hi] = b"1" * (hi - lo)

    def clear_overlapping(self, row: bytearray, blocks: Iterable[Interval]) -> None:
        """Set to '0' every start whose slot overlaps one of ``blocks`` (any order)."""
        g0, step, d, size = self.g0, self.step, self.duration, self.size
        zeros = memoryview(b"0" * size)
        for a, b in blocks:
            lo = (a - d - g0) // step + 1
            hi = -((g0 - b) // step)
            if lo < 0:
                lo = 0
            if hi > size:
                hi = size
            if lo < hi:
                row[lo:hi] = zeros[: hi - lo]

    def clear_timed(
        self,
        row: bytearray,
        busy: Iterable[BusyLike],
        codes: Sequence[int],
        before: int,
        after: int,
    ) -> None:
        """``clear_overlapping`` for the timed blocks whose policy code is ``TIMED``, each
        widened by the buffers: the engine's hot loop, so written out flat (the start
        index is ``(a - after - duration - g0) // step + 1``, the end index
        ``ceil((b + before - g0) / step)``, both folded into one offset)."""
        step, size = self.step, self.size
        lo_off = after + self.duration + self.g0 - step
        hi_off = self.g0 - before - step + 1
        zeros = memoryview(b"0" * size)
        # Free/busy blocks by status value: which ones block under this policy.
        plain = {value for value, code in PLAIN_CODES.items() if codes[code] == TIMED}
        for b in busy:
            if (
                b.status._value_ in plain and b.end_s > b.start_s
                if type(b) is not Busy
                else codes[b.code] == TIMED
            ):
                lo = (b.start_s - lo_off) // step
                hi = (b.end_s - hi_off) // step
                if lo < 0:
                    lo = 0
                if hi > size:
                    hi = size
                if lo < hi:
                    row[lo:hi] = zeros[: hi - lo]

    def to_int(self, row: bytes | bytearray) -> int:
        return int(row, 2) if self.size else 0

    def to_row(self, mask: int) -> str:
        return format(mask, f"0{self.size}b") if self.size else ""


def count_at_least(masks: Sequence[int], k: int, full: int) -> int:
    """Bits set in at least ``k`` of ``masks``: a bit-sliced counter, one plane per bit."""
    if k <= 0:
        return full
    planes: list[int] = []
    for carry in masks:
        for i, plane in enumerate(planes):
            planes[i] = plane ^ carry
            carry &= plane
            if not carry:
                break
        if carry:
            planes.append(carry)
    greater, equal = 0, full
    for i in range(max(len(planes), k.bit_length()) - 1, -1, -1):
        plane = planes[i] if i < len(planes) else 0
        if (k >> i) & 1:
            equal &= plane
        else:
            greater |= equal & plane
            equal &= ~plane
    return greater | equal
