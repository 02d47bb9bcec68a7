"""What blocks a person's time: the organisation's policy as a decision table.

The rules, first match wins (one line per case in ``blocks``):

1. status ``free``                       -> never blocks
2. the person declined                   -> never blocks
3. status ``oof``                        -> always blocks (all-day or not, answered or not)
4. all-day event, ``all_day_blocks`` off -> does not block
5. not answered, ``not_responded_blocks`` off -> does not block
6. status ``busy``                       -> blocks; if the person answered "tentative",
                                            as ``tentative_blocks`` says
7. status ``tentative``                  -> ``tentative_blocks``
8. status ``workingElsewhere``           -> ``working_elsewhere_blocks``
9. status ``unknown``                    -> ``unknown_blocks``

Booked interviews always block. The table is computed once per policy for every
(status, all-day, response) code, so checking a block is one tuple lookup.
"""

from __future__ import annotations

from functools import lru_cache

from hiresync.availability.intervals import Interval
from hiresync.availability.model import (
    EMPTY_CODE,
    RESPONSES,
    STATUSES,
    Busy,
    BusyStatus,
    Person,
    Policy,
    Response,
    code_of,
)
from hiresync.availability.working_hours import all_day_span

TIMED, ALL_DAY = 1, 2  # table values for blocking codes; 0 = does not block


def blocks(policy: Policy, status: BusyStatus, all_day: bool, response: Response) -> bool:
    if status == BusyStatus.FREE:
        return False
    if response == Response.DECLINED:
        return False
    if status == BusyStatus.OOF:
        return True
    if all_day and not policy.all_day_blocks:
        return False
    if response == Response.NOT_RESPONDED and not policy.not_responded_blocks:
        return False
    if status == BusyStatus.BUSY:
        return response != Response.TENTATIVE or policy.tentative_blocks
    if status == BusyStatus.TENTATIVE:
        return policy.tentative_blocks
    if status == BusyStatus.WORKING_ELSEWHERE:
        return policy.working_elsewhere_blocks
    return policy.unknown_blocks


@lru_cache(maxsize=64)
def table(policy: Policy) -> tuple[int, ...]:
    """``table(policy)[busy.code]``: 0, ``TIMED`` or ``ALL_DAY``."""
    out = [
        (ALL_DAY if all_day else TIMED) if blocks(policy, status, all_day, response) else 0
        for status in STATUSES
        for all_day in (False, True)
        for response in RESPONSES
    ]
    assert len(out) == EMPTY_CODE
    return (*out, 0)


def blocking(
    person: Person, policy: Policy, before: int, after: int, timed: bool = True
) -> list[Interval]:
    """The person's blocking intervals, each widened by the buffers (unsorted); timed
    busy blocks only with ``timed`` (the slot grid clears those in its own loop).

    A slot ``[s, e)`` must keep ``buffer_before`` clear before it and ``buffer_after``
    after it, so a block ``[a, b)`` rules out slots overlapping
    ``[a - buffer_after, b + buffer_before)``.
    """
    codes = table(policy)
    out = (
        []
        if not timed
        else [
            (b.start_s - after, b.end_s + before) for b in person.busy if codes[code_of(b)] == TIMED
        ]
    )
    out += [(b.start_s - after, b.end_s + before) for b in person.booked if b.end_s > b.start_s]
    for b in person.busy:
        # Only engine ``Busy`` values can be all-day; free/busy blocks are always timed.
        if type(b) is Busy and codes[b.code] == ALL_DAY:
            a, z = all_day_span(b.start_s, b.end_s, person.time_zone)
            if a < z:
                out.append((a - after, z + before))
    return out
