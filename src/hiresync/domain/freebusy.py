"""Free/busy values as every provider reports them, normalised to UTC instants.

Providers differ in how they spell time (Graph's dateTimeTimeZone, Google's RFC 3339,
CalDAV's VFREEBUSY); adapters convert at the edge so everything past them compares
aware UTC datetimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum


class BusyStatus(StrEnum):
    """What a block of time means for availability (Graph's freeBusyStatus)."""

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"
    UNKNOWN = "unknown"


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


@dataclass(frozen=True, slots=True)
class BusyBlock:
    """One busy interval. ``start``/``end`` are aware datetimes in UTC.

    ``start_s``/``end_s`` are the same instants in whole seconds since the epoch (start
    floored, end ceiled): the availability engine works on integers, and a parser that
    shares instants passes them in for free; otherwise they are computed here.
    """

    start: datetime
    end: datetime
    status: BusyStatus
    is_private: bool = False
    subject: str | None = None
    location: str | None = None
    start_s: int = field(default=-1, compare=False, repr=False)
    end_s: int = field(default=-1, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.start_s == -1:
            object.__setattr__(self, "start_s", math.floor(self.start.timestamp()))
        if self.end_s == -1:
            object.__setattr__(self, "end_s", math.ceil(self.end.timestamp()))


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A person's working week; ``time_zone`` is an IANA name."""

    days: tuple[Weekday, ...]
    start: time
    end: time
    time_zone: str


class ScheduleErrorCode(StrEnum):
    NOT_MATCHED = "not_matched"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    NOT_CONNECTED = "not_connected"
    PROVIDER_ERROR = "provider_error"


@dataclass(frozen=True, slots=True)
class ScheduleError:
    code: ScheduleErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """Free/busy for one mailbox over a window, or why it could not be read."""

    email: str
    blocks: tuple[BusyBlock, ...] = ()
    working_hours: WorkingHours | None = None
    time_zone: str | None = None
    error: ScheduleError | None = None


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A person in the connected company's directory (Graph ``user``)."""

    id: str
    display_name: str | None
    mail: str | None
    user_principal_name: str | None
    proxy_addresses: tuple[str, ...] = field(default=())
    account_enabled: bool = True
