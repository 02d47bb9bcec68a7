"""Free/busy as Exchange computes it for ``getSchedule``: items plus the availability digits."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from .model import User
from .recurrence import Occurrence
from .timezones import windows_name
from .wire import graph_datetime

# Digit per status, and the precedence used when items overlap inside one slot.
DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
RANK = {"free": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}


def availability_view(
    items: list[Occurrence],
    start: datetime,
    end: datetime,
    interval: int,
    working_elsewhere_digit: str = "0",
) -> str:
    """One digit per ``interval``-minute slot of [start, end); overlapping items take the
    strongest status (oof > busy > tentative > workingElsewhere > free)."""
    step = timedelta(minutes=interval)
    slots = max(0, -(-(end - start) // step))
    ranks = [0] * slots
    for item in items:
        rank = RANK.get(item.show_as, 0)
        if rank == 0:
            continue
        first = max(0, (item.start - start) // step)
        last = min(slots, -(-(item.end - start) // step))
        for n in range(first, last):
            if ranks[n] < rank:
                ranks[n] = rank
    digits = {rank: DIGITS[status] for status, rank in RANK.items()}
    digits[RANK["workingElsewhere"]] = working_elsewhere_digit
    return "".join(digits[r] for r in ranks)


def schedule_item(item: Occurrence, zone: tzinfo, zone_label: str) -> dict[str, Any]:
    """A ``scheduleItem``; subject and location are withheld for private items."""
    body: dict[str, Any] = {"isPrivate": item.event.is_private, "status": item.show_as}
    if not item.event.is_private:
        body["subject"] = item.subject
        body["location"] = item.location
    body["start"] = {
        "dateTime": graph_datetime(item.start.astimezone(zone)),
        "timeZone": zone_label,
    }
    body["end"] = {"dateTime": graph_datetime(item.end.astimezone(zone)), "timeZone": zone_label}
    return body


def working_hours(user: User) -> dict[str, Any]:
    hours = user.working_hours
    return {
        "daysOfWeek": list(hours.days),
        "startTime": hours.start.strftime("%H:%M:%S") + ".0000000",
        "endTime": hours.end.strftime("%H:%M:%S") + ".0000000",
        "timeZone": {"name": windows_name(user.time_zone)},
    }


def schedule_information(
    user: User,
    address: str,
    items: list[Occurrence],
    start: datetime,
    end: datetime,
    interval: int,
    zone: tzinfo,
    zone_label: str,
    working_elsewhere_digit: str,
) -> dict[str, Any]:
    """The ``scheduleInformation`` entry for one resolved mailbox."""
    visible = [i for i in items if not i.event.is_cancelled]
    return {
        "scheduleId": address,
        "availabilityView": availability_view(
            visible, start, end, interval, working_elsewhere_digit
        ),
        "scheduleItems": [schedule_item(i, zone, zone_label) for i in visible],
        "workingHours": working_hours(user),
    }


def unresolved(address: str) -> dict[str, Any]:
    """What Exchange returns for an address it cannot resolve (the others still succeed)."""
    return {
        "scheduleId": address,
        "error": {
            "message": f"Unable to resolve e-mail address {address} to an Active Directory object.",
            "responseCode": "5009",
        },
    }
