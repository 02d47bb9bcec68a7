"""Inputs and outputs of the availability engine, as frozen values.

The engine works on integer seconds since the Unix epoch, so every timed value
converts its aware datetimes to seconds once, when it is built (at the edge, where
free/busy is parsed), and each query then costs only integer arithmetic. The
datetimes stay on the values for callers, explanations and JSON.

Time resolution is one second: a busy block is widened to whole seconds (start
floored, end ceiled), a query period is narrowed to whole seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from hiresync.domain.freebusy import BusyBlock, BusyStatus, WorkingHours


class AvailabilityError(ValueError):
    """Base of every error the engine raises; ``str(error)`` is fit for an end user."""


class InvalidQuery(AvailabilityError):
    """The query (or a person in it) cannot be answered as asked; the message says how to fix it."""


class Response(StrEnum):
    """The person's answer to the event behind a busy block."""

    NONE = "none"  # the person organised it, or the provider does not say
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NOT_RESPONDED = "notResponded"


class Mode(StrEnum):
    SLOTS = "slots"  # grid-aligned start times of exactly ``duration``
    PERIODS = "periods"  # maximal free stretches at least ``duration`` long


def _aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidQuery(f"{what} must be a date-time with a time zone (UTC), got {value!r}.")


def floor_s(value: datetime) -> int:
    return math.floor(value.timestamp())


def ceil_s(value: datetime) -> int:
    return math.ceil(value.timestamp())


@dataclass(frozen=True, slots=True)
class Busy:
    """One block of a person's calendar.

    Timed blocks carry aware datetimes; all-day blocks (``all_day=True``) carry
    ``date`` values in the owner's time zone, ``end`` exclusive (the day after the
    last day), as calendars store them. ``end <= start`` blocks nothing.
    """

    start: datetime | date
    end: datetime | date
    status: BusyStatus = BusyStatus.BUSY
    all_day: bool = False
    response: Response = Response.NONE
    subject: str | None = None
    is_private: bool = False
    start_s: int = field(init=False, repr=False, compare=False)  # or a date ordinal if all-day
    end_s: int = field(init=False, repr=False, compare=False)
    code: int = field(init=False, repr=False, compare=False)  # index into a policy table

    def __post_init__(self) -> None:
        if self.all_day:
            start_s, end_s = _as_date(self.start).toordinal(), _as_date(self.end).toordinal()
        else:
            _aware(self.start, "A busy block's start")  # type: ignore[arg-type]
            _aware(self.end, "A busy block's end")  # type: ignore[arg-type]
            start_s, end_s = floor_s(self.start), ceil_s(self.end)  # type: ignore[arg-type]
        object.__setattr__(self, "start_s", start_s)
        object.__setattr__(self, "end_s", end_s)
        object.__setattr__(
            self, "code", block_code(self.status, self.all_day, self.response, end_s > start_s)
        )

    @classmethod
    def from_block(cls, block: BusyBlock) -> Busy:
        """A provider's free/busy block (no response, never all-day) as engine input."""
        subject = None if block.is_private else block.subject
        return cls(
            block.start, block.end, block.status, subject=subject, is_private=block.is_private
        )


STATUSES: tuple[BusyStatus, ...] = tuple(BusyStatus)
RESPONSES: tuple[Response, ...] = tuple(Response)
_STATUS_INDEX = {status: i for i, status in enumerate(STATUSES)}
_RESPONSE_INDEX = {response: i for i, response in enumerate(RESPONSES)}
EMPTY_CODE = len(STATUSES) * 2 * len(RESPONSES)  # an empty block: never blocks


def block_code(status: str, all_day: bool, response: str, non_empty: bool) -> int:
    """A small int naming (status, all-day, response), so a policy is one tuple lookup."""
    try:
        s, r = _STATUS_INDEX[status], _RESPONSE_INDEX[response]
    except KeyError:
        raise InvalidQuery(
            f"Unknown busy status {status!r} or response {response!r}; use one of "
            f"{[str(x) for x in STATUSES]} and {[str(x) for x in RESPONSES]}."
        ) from None
    return ((s * 2 + bool(all_day)) * len(RESPONSES) + r) if non_empty else EMPTY_CODE


# The code of a provider's free/busy block (timed, no response), by status value: keyed
# by the plain string, as an enum member's hash is computed in Python on every lookup.
PLAIN_CODES: dict[str, int] = {
    status.value: block_code(status, False, Response.NONE, True) for status in STATUSES
}

BusyLike = Busy | BusyBlock
"""A person's busy block: an engine ``Busy`` (all-day events, responses) or the
domain ``BusyBlock`` exactly as the free/busy API returns it, used as is so that an
answer for a whole panel needs no conversion pass."""


def code_of(block: BusyLike) -> int:
    """The block's index into a policy table (``policy.table``)."""
    if type(block) is Busy:
        return block.code
    return PLAIN_CODES[block.status._value_] if block.end_s > block.start_s else EMPTY_CODE


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True, slots=True)
class Booked:
    """An interview already booked for a person: counts toward caps and blocks its time."""

    start: datetime
    end: datetime
    start_s: int = field(init=False, repr=False, compare=False)
    end_s: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _aware(self.start, "A booked interview's start")
        _aware(self.end, "A booked interview's end")
        object.__setattr__(self, "start_s", floor_s(self.start))
        object.__setattr__(self, "end_s", ceil_s(self.end))


@dataclass(frozen=True, slots=True)
class Capacity:
    """A shared resource that serves at most ``capacity`` meetings at once (a host's Zoom
    account: Pro 1, Business 2), and the meetings it already serves.

    A slot ``[s, e)`` is refused when, at some instant inside it, at least ``capacity``
    of ``booked`` are under way (half-open: a meeting ending at ``s`` does not count).
    Buffers do not apply. ``name`` and ``note`` only word the explanation:
    "{name} already hosts 1 meeting at 10:00-10:45 UTC ({note})."
    """

    name: str
    capacity: int
    booked: tuple[Booked, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Local wall-clock hours on one weekday; ``end <= start`` ends on the next day
    (``22:00-02:00`` is a night shift, ``00:00-00:00`` is the whole day)."""

    start: time
    end: time


@dataclass(frozen=True, slots=True)
class WorkingWeek:
    """Working hours per weekday, Monday first; each day may hold several ranges."""

    days: tuple[tuple[TimeRange, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise InvalidQuery(
                f"Working hours need exactly 7 weekdays (Monday first), got {len(self.days)}."
            )

    @classmethod
    def weekdays(
        cls, start: time = time(9), end: time = time(17), days: tuple[int, ...] = (0, 1, 2, 3, 4)
    ) -> WorkingWeek:
        """The same hours on the given weekdays (0 = Monday)."""
        return cls(tuple((TimeRange(start, end),) if d in days else () for d in range(7)))

    @classmethod
    def from_domain(cls, hours: WorkingHours) -> WorkingWeek:
        """The provider's single range on a set of weekdays (Graph ``workingHours``)."""
        order = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        days = tuple(order.index(str(d)) for d in hours.days)
        return cls.weekdays(hours.start, hours.end, days)


@dataclass(frozen=True, slots=True)
class Person:
    """Everything the engine knows about one participant.

    ``working_hours=None`` means no working-hours limit (available around the clock
    unless busy). Caps count interviews in ``booked`` by the local day (and ISO week,
    Monday to Sunday) on which each starts, in ``time_zone``.
    """

    id: str
    time_zone: str = "UTC"
    working_hours: WorkingWeek | None = None
    busy: tuple[BusyLike, ...] = ()
    booked: tuple[Booked, ...] = ()
    max_per_day: int | None = None
    max_per_week: int | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """Participants of which all (``required=None``) or at least ``required`` must be free."""

    members: tuple[str, ...]
    required: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """What blocks time. Busy and out-of-office always block (unless declined or, for
    busy, not answered with ``not_responded_blocks`` off); free and declined never do."""

    tentative_blocks: bool = True
    working_elsewhere_blocks: bool = False
    all_day_blocks: bool = True
    not_responded_blocks: bool = True
    unknown_blocks: bool = True


@dataclass(frozen=True, slots=True)
class Rules:
    """How a candidate time is judged, shared by queries, loops and explanations.

    Buffers apply around busy blocks (and booked interviews): a slot ``[s, e)`` is
    blocked when ``[s - buffer_before, e + buffer_after)`` overlaps one. They do not
    apply to working-hours edges. ``min_notice`` and ``horizon`` count from ``now``:
    a slot must start no earlier than ``now + min_notice`` and end no later than
    ``now + horizon``.
    """

    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta | None = None
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True, slots=True)
class Period:
    """A query period, aware datetimes, ``end`` exclusive."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """One availability question.

    Slot starts are aligned to ``interval`` counted from the Unix epoch, that is from
    the top of every UTC hour; in every zone whose UTC offset is a multiple of the
    interval (whole-hour zones always, Asia/Kolkata for intervals dividing 30,
    Pacific/Chatham for 5 and 15) this is also the local top of the hour.
    """

    groups: tuple[Group, ...]
    periods: tuple[Period, ...]
    duration: timedelta
    interval: timedelta = timedelta(minutes=30)
    rules: Rules = field(default_factory=Rules)
    mode: Mode = Mode.SLOTS
    max_results: int | None = None
    capacities: tuple[Capacity, ...] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    """An answer: ``free[i]`` lists the members of ``groups[i]`` who are free, in group order.

    In periods mode a member is listed when at least one ``duration``-long slot inside
    the period suits them (in an "all" group that is every member).
    """

    start: datetime
    end: datetime
    free: tuple[tuple[str, ...], ...]
