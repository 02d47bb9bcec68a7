"""Capacity constraints: a shared resource (a host's Zoom account) that can serve at
most ``k`` meetings at once, with the meetings it already serves.

The times the resource is full are where at least ``k`` of its booked intervals are
under way (a sweep, ``at_least``); a slot is refused when it meets one of them, exactly
as if the full stretches were a busy block of every participant, without buffers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from hiresync.availability.intervals import Interval, at_least, merge
from hiresync.availability.model import Capacity, InvalidQuery

EVERYTHING: Interval = (-(2**62), 2**62)


def check_capacities(capacities: Iterable[Capacity]) -> None:
    for c in capacities:
        if not isinstance(c.capacity, int) or c.capacity < 0:
            raise InvalidQuery(
                f"The capacity of {c.name!r} must be a whole number of 0 or more, got {c.capacity!r}."
            )


def full_spans(capacity: Capacity) -> list[Interval]:
    """Where the resource has no place left: at least ``capacity`` bookings under way."""
    if capacity.capacity <= 0:
        return [EVERYTHING]
    return at_least([[(b.start_s, b.end_s)] for b in capacity.booked], capacity.capacity)


def all_full_spans(capacities: Iterable[Capacity]) -> list[Interval]:
    return merge(span for c in capacities for span in full_spans(c))


def refusal(capacity: Capacity, s: int, e: int) -> str | None:
    """Why ``[s, e)`` cannot have a place of ``capacity``, or None when it can."""
    if not any(a < e and s < b for a, b in full_spans(capacity)):
        return None
    note = f" ({capacity.note})" if capacity.note else ""
    overlapping = sorted(
        (b for b in capacity.booked if b.start_s < e and s < b.end_s), key=lambda b: b.start_s
    )
    if not overlapping:  # capacity 0
        return f"{capacity.name} cannot host any meeting{note}."
    n = len(overlapping)
    spans = ", ".join(f"{_hm(b.start_s)}–{_hm(b.end_s)}" for b in overlapping)
    meetings = "1 meeting" if n == 1 else f"{n} meetings"
    return f"{capacity.name} already hosts {meetings} at {spans} UTC{note}."


def _hm(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, UTC):%H:%M}"
