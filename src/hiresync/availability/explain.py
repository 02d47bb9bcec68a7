"""Why each person is, or is not, available at one given time.

The same rules as the solver (see ``solver``), judged directly for one slot so every
reason can be named: the blocking event (with its status, and its subject unless it
is private), the buffer it falls in, working hours, daily and weekly caps, minimum
notice and horizon; ``explain_capacities`` names the full capacity, with the meetings
that fill it. A property test checks that ``available`` here agrees with the
solver's answer for the same slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from hiresync.availability.capacity import check_capacities, refusal
from hiresync.availability.model import (
    Booked,
    Busy,
    BusyLike,
    Capacity,
    Person,
    Rules,
    code_of,
)
from hiresync.availability.policy import ALL_DAY, table
from hiresync.availability.validation import check_now, check_rules, index_people, seconds
from hiresync.availability.working_hours import (
    all_day_span,
    day_start,
    local_date,
    local_days,
    working_intervals,
    zone,
)


class Reason(StrEnum):
    BUSY = "busy"  # a blocking calendar event overlaps the slot
    BOOKED = "booked_interview"  # an interview already booked overlaps the slot
    BUFFER = "buffer"  # an event or interview falls inside the buffer around the slot
    OUTSIDE_WORKING_HOURS = "outside_working_hours"
    DAILY_CAP = "daily_cap"
    WEEKLY_CAP = "weekly_cap"
    BEFORE_MIN_NOTICE = "before_min_notice"
    AFTER_HORIZON = "after_horizon"
    CAPACITY = "capacity"  # a shared resource (a host's Zoom account) is full then


@dataclass(frozen=True, slots=True)
class Conflict:
    """One reason; ``block`` is the event or interview at fault, if any."""

    reason: Reason
    message: str
    block: Busy | Booked | None = None
    status: str | None = None
    subject: str | None = None  # None for private events


@dataclass(frozen=True, slots=True)
class Explanation:
    person: str
    available: bool
    conflicts: tuple[Conflict, ...]


def explain(
    people: Mapping[str, Person] | Iterable[Person],
    start: datetime,
    duration: timedelta,
    now: datetime,
    rules: Rules | None = None,
) -> tuple[Explanation, ...]:
    """For each person (in the order given), whether ``[start, start + duration)`` suits
    them and, if not, every reason why."""
    rules = rules or Rules()
    index = index_people(people)
    s = check_now(start, "The start time")
    e = s + seconds(duration, "duration", 1)
    now_s = check_now(now)
    out = []
    for person in index.values():
        found = [*timing(rules, s, e, now_s), *hours(person, s, e)]
        found += caps(person, s, e) + blocks(person, rules, s, e)
        out.append(Explanation(person.id, not found, tuple(found)))
    return tuple(out)


def explain_capacities(
    capacities: Iterable[Capacity], start: datetime, duration: timedelta
) -> tuple[Conflict, ...]:
    """Why ``[start, start + duration)`` finds no place in each full capacity (none: it fits)."""
    capacities = tuple(capacities)
    check_capacities(capacities)
    s = check_now(start, "The start time")
    e = s + seconds(duration, "duration", 1)
    out = []
    for capacity in capacities:
        message = refusal(capacity, s, e)
        if message is not None:
            first = next((b for b in capacity.booked if b.start_s < e and s < b.end_s), None)
            out.append(Conflict(Reason.CAPACITY, message, first))
    return tuple(out)


def timing(rules: Rules, s: int, e: int, now: int) -> list[Conflict]:
    _, _, notice, horizon = check_rules(rules)
    out = []
    if s < now + notice:
        out.append(
            Conflict(Reason.BEFORE_MIN_NOTICE, f"Starts less than {rules.min_notice} from now.")
        )
    if horizon is not None and e > now + horizon:
        out.append(Conflict(Reason.AFTER_HORIZON, f"Ends more than {rules.horizon} from now."))
    return out


def hours(person: Person, s: int, e: int) -> list[Conflict]:
    if person.working_hours is None:
        return []
    first, last = local_days(person.time_zone, s, e)
    for a, b in working_intervals(person.time_zone, person.working_hours, first, last):
        if a <= s and e <= b:
            return []
    local = datetime.fromtimestamp(s, zone(person.time_zone))
    return [
        Conflict(
            Reason.OUTSIDE_WORKING_HOURS,
            f"Outside {person.id}'s working hours ({local:%a %H:%M} {person.time_zone}).",
        )
    ]


def touched_days(person: Person, s: int, e: int) -> list[int]:
    tz = zone(person.time_zone)
    first = local_date(s, tz).toordinal()
    return [d for d in range(first, local_date(e, tz).toordinal() + 1) if day_start(d, tz) < e]


def caps(person: Person, s: int, e: int) -> list[Conflict]:
    tz = zone(person.time_zone)
    starts = [local_date(b.start_s, tz).toordinal() for b in person.booked]
    out: list[Conflict] = []
    for d in touched_days(person, s, e):
        day, monday = date.fromordinal(d), d - date.fromordinal(d).weekday()
        n_day = starts.count(d)
        n_week = sum(monday <= x < monday + 7 for x in starts)
        if person.max_per_day is not None and n_day >= person.max_per_day:
            msg = f"Already {n_day} interview(s) on {day} (daily maximum {person.max_per_day})."
            out.append(Conflict(Reason.DAILY_CAP, msg))
        if person.max_per_week is not None and n_week >= person.max_per_week:
            msg = f"Already {n_week} interview(s) in the week of {date.fromordinal(monday)} (weekly maximum {person.max_per_week})."
            out.append(Conflict(Reason.WEEKLY_CAP, msg))
    return list(dict.fromkeys(out))


def blocks(person: Person, rules: Rules, s: int, e: int) -> list[Conflict]:
    before, after, _, _ = check_rules(rules)
    codes = table(rules.policy)
    candidates: list[tuple[BusyLike | Booked, int, int]] = []
    for b in person.busy:
        code = codes[code_of(b)]
        if code == ALL_DAY:
            candidates.append((b, *all_day_span(b.start_s, b.end_s, person.time_zone)))
        elif code:
            candidates.append((b, b.start_s, b.end_s))
    candidates += [(b, b.start_s, b.end_s) for b in person.booked]
    out = []
    for block, a, z in candidates:
        if a < z and a < e and s < z:
            out.append(
                conflict(
                    block,
                    Reason.BOOKED if isinstance(block, Booked) else Reason.BUSY,
                    "overlaps the slot",
                )
            )
        elif a < z and a < e + after and s - before < z:
            where = "buffer before the slot" if z <= s else "buffer after the slot"
            out.append(conflict(block, Reason.BUFFER, f"falls in the {where}"))
    return out


def conflict(block: BusyLike | Booked, reason: Reason, what: str) -> Conflict:
    if isinstance(block, Booked):
        return Conflict(
            reason, f"A booked interview {block.start:%H:%M}-{block.end:%H:%M} UTC {what}.", block
        )
    subject = None if block.is_private else block.subject
    label = f"'{subject}'" if subject else ("a private event" if block.is_private else "an event")
    span = (
        "all day"
        if getattr(block, "all_day", False)
        else f"{block.start:%H:%M}-{block.end:%H:%M} UTC"
    )
    message = f"{label} ({block.status}, {span}) {what}."
    return Conflict(reason, message[0].upper() + message[1:], block, str(block.status), subject)
