"""Scheduling settings: a person's working hours and interview caps, and the
organization's availability policy (what blocks time, default buffers and notice).

Both are stored as JSON (``users.working_hours``, ``organizations.availability_policy``)
and turned into the availability engine's values here, with every bad value refused
with a message that says how to write it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.availability import Policy, Rules, TimeRange, WorkingWeek
from hiresync.services.errors import InvalidInput, NotFound
from hiresync.store.tables import Organization

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_RANGES_A_DAY = 6
MAX_BUFFER_MINUTES = 240
MAX_NOTICE_MINUTES = 60 * 24 * 30
MAX_HORIZON_DAYS = 365

# Monday to Friday, 09:00-17:00: what a calendar without working hours is read as.
DEFAULT_WORKING_HOURS: dict[str, list[list[str]]] = {
    day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]
}


def _clock(value: object, field: str) -> time:
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise InvalidInput(
            f"{value!r} is not a time of day.",
            hint='Write times as "HH:MM" on a 24-hour clock, like "09:00" or "17:30".',
            field=field,
        )
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def working_week(raw: object, field: str = "working_hours") -> WorkingWeek:
    """``{"monday": [["09:00", "17:00"]], …}`` as a ``WorkingWeek``.

    Days left out are days off. A range whose end is not after its start runs past
    midnight (``["22:00", "02:00"]``); ``["00:00", "00:00"]`` is the whole day.
    """
    if not isinstance(raw, dict):
        raise InvalidInput(
            "Working hours must map weekdays to lists of [start, end] times.",
            hint='Like {"monday": [["09:00", "12:00"], ["13:00", "17:00"]]}.',
            field=field,
        )
    unknown = sorted(set(raw) - set(WEEKDAYS))
    if unknown:
        raise InvalidInput(
            f"Unknown weekday(s): {', '.join(map(str, unknown))}.",
            hint=f"Use lower-case English names: {', '.join(WEEKDAYS)}.",
            field=field,
        )
    days = []
    for day in WEEKDAYS:
        ranges = raw.get(day) or []
        where = f"{field}.{day}"
        if not isinstance(ranges, list) or len(ranges) > MAX_RANGES_A_DAY:
            raise InvalidInput(
                f"{where} must be a list of at most {MAX_RANGES_A_DAY} [start, end] pairs.",
                field=where,
            )
        day_ranges = []
        for pair in ranges:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise InvalidInput(
                    f"{where} holds {pair!r}, not a [start, end] pair.",
                    hint='Like ["09:00", "17:00"].',
                    field=where,
                )
            day_ranges.append(TimeRange(_clock(pair[0], where), _clock(pair[1], where)))
        days.append(tuple(day_ranges))
    return WorkingWeek(tuple(days))


def working_hours_json(raw: object, field: str = "working_hours") -> dict[str, list[list[str]]]:
    """Checked and normalised for storage (days off left out)."""
    week = working_week(raw, field)
    return {
        day: [[r.start.strftime("%H:%M"), r.end.strftime("%H:%M")] for r in ranges]
        for day, ranges in zip(WEEKDAYS, week.days, strict=True)
        if ranges
    }


def cap(value: object, field: str) -> int | None:
    """An interview cap: a whole number from 1 to 50, or None for no cap."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        raise InvalidInput(
            f"{field} must be a whole number from 1 to 50 (or null for no limit), got {value!r}.",
            field=field,
        )
    return value


@dataclass(frozen=True)
class AvailabilityPolicy:
    """The organization's answer to "what blocks an interviewer's time?".

    Busy and out-of-office always block, free and declined never do; the rest is the
    organization's call. Buffers, notice and horizon are defaults that a request can
    override.
    """

    tentative_blocks: bool = True
    working_elsewhere_blocks: bool = False
    all_day_blocks: bool = True
    not_responded_blocks: bool = True
    unknown_blocks: bool = True
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 0
    booking_horizon_days: int | None = None
    default_working_hours: dict[str, list[list[str]]] | None = None

    def engine_policy(self) -> Policy:
        return Policy(
            tentative_blocks=self.tentative_blocks,
            working_elsewhere_blocks=self.working_elsewhere_blocks,
            all_day_blocks=self.all_day_blocks,
            not_responded_blocks=self.not_responded_blocks,
            unknown_blocks=self.unknown_blocks,
        )

    def rules(self) -> Rules:
        return Rules(
            buffer_before=timedelta(minutes=self.buffer_before_minutes),
            buffer_after=timedelta(minutes=self.buffer_after_minutes),
            min_notice=timedelta(minutes=self.minimum_notice_minutes),
            horizon=timedelta(days=self.booking_horizon_days)
            if self.booking_horizon_days
            else None,
            policy=self.engine_policy(),
        )

    def default_week(self) -> WorkingWeek:
        return working_week(self.default_working_hours or DEFAULT_WORKING_HOURS)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["default_working_hours"] = self.default_working_hours or DEFAULT_WORKING_HOURS
        return data


_BOOLEANS = {
    "tentative_blocks",
    "working_elsewhere_blocks",
    "all_day_blocks",
    "not_responded_blocks",
    "unknown_blocks",
}
_LIMITS = {
    "buffer_before_minutes": MAX_BUFFER_MINUTES,
    "buffer_after_minutes": MAX_BUFFER_MINUTES,
    "minimum_notice_minutes": MAX_NOTICE_MINUTES,
    "booking_horizon_days": MAX_HORIZON_DAYS,
}


def _checked(name: str, value: object) -> object:
    if name in _BOOLEANS:
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false, got {value!r}.", field=name)
        return value
    if name == "default_working_hours":
        return None if value is None else working_hours_json(value, name)
    if value is None and name == "booking_horizon_days":
        return None
    limit = _LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise InvalidInput(
            f"{name} must be a whole number from 0 to {limit}, got {value!r}.", field=name
        )
    return value


def policy_from(raw: dict[str, Any] | None) -> AvailabilityPolicy:
    """The stored policy; keys it does not know (from a newer version) are ignored."""
    known = {f.name for f in fields(AvailabilityPolicy)}
    return AvailabilityPolicy(**{k: v for k, v in (raw or {}).items() if k in known})


def merge_policy(current: AvailabilityPolicy, changes: dict[str, Any]) -> AvailabilityPolicy:
    """``current`` with ``changes`` applied, each checked; unknown keys are refused."""
    known = {f.name for f in fields(AvailabilityPolicy)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown policy setting(s): {', '.join(unknown)}.",
            hint=f"Known settings: {', '.join(sorted(known))}.",
            field=unknown[0],
        )
    data = asdict(current)
    data.update({name: _checked(name, value) for name, value in changes.items()})
    return AvailabilityPolicy(**data)


async def load_policy(session: AsyncSession, org_id: uuid.UUID) -> AvailabilityPolicy:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"No organization {org_id}.")
    return policy_from(org.availability_policy)


async def update_policy(
    session: AsyncSession, org_id: uuid.UUID, changes: dict[str, Any]
) -> AvailabilityPolicy:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"No organization {org_id}.")
    policy = merge_policy(policy_from(org.availability_policy), changes)
    stored = asdict(policy)
    org.availability_policy = stored
    await session.flush()
    return policy
