"""How Graph serializes an event, shared by ``calendarView`` and the events routes.

One renderer for every event the sandbox holds, seeded or written through Graph, so that
an interview created with ``POST /events`` looks the same in ``GET /events/{id}``,
``calendarView`` and the attendee's copy. Fields the sandbox does not track get the
values Outlook gives a plain appointment (see ``concepts/outlook-calendar-online-meetings.md``
and ``api-reference/v1.0/resources/event.md`` in microsoft-graph-docs-contrib).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from .model import Attendee, Event, User
from .recurrence import Occurrence
from .timezones import windows_name
from .wire import graph_datetime

NEVER = "0001-01-01T00:00:00Z"
ICAL_PREFIX = "040000008200E00074C5B7101A82E008"
# Every property of microsoft.graph.event the sandbox emits (the $select vocabulary).
EVENT_PROPERTIES = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "originalStart",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "onlineMeeting",
    "attendees",
    "organizer",
)
CANONICAL = {name.lower(): name for name in EVENT_PROPERTIES}


def stamp(moment: datetime | None) -> str:
    """A UTC timestamp as Exchange writes it (``2026-03-11T15:00:00.1234567Z``)."""
    if moment is None:
        return NEVER
    return graph_datetime(moment.astimezone(UTC)) + "Z"


def change_key(event: Event) -> str:
    return event.change_key or event.id[-16:]


def etag(event: Event) -> str:
    return f'W/"{change_key(event)}"'


def ical_uid(event: Event) -> str:
    return event.ical_uid or f"{ICAL_PREFIX}{event.id[-32:]}"


def web_link(event: Event) -> str:
    return (
        f"https://outlook.office365.com/owa/?itemid={quote(event.id, safe='')}"
        "&exvsurl=1&path=/calendar/item"
    )


def _location(name: str) -> dict[str, Any]:
    if not name:
        return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
    return {
        "displayName": name,
        "locationType": "default",
        "uniqueId": name,
        "uniqueIdType": "private",
    }


def attendee_json(attendee: Attendee) -> dict[str, Any]:
    return {
        "type": attendee.type,
        "status": {"response": attendee.response, "time": stamp(attendee.response_time)},
        "emailAddress": {
            "name": attendee.name or attendee.address,
            "address": attendee.address,
        },
    }


def _response_status(event: Event, user: User) -> dict[str, Any]:
    if event.organizer.lower() == user.mail.lower():
        return {"response": "organizer", "time": NEVER}
    return {"response": event.response or "accepted", "time": stamp(event.response_time)}


def _stored(event: Event) -> dict[str, Any]:
    """Properties that are the same for every instance of ``event``."""
    created = event.created or datetime(2024, 1, 1, tzinfo=UTC)
    original_zone = event.zone_label or windows_name(event.time_zone)
    return {
        "@odata.etag": etag(event),
        "createdDateTime": stamp(created),
        "lastModifiedDateTime": stamp(event.modified or created),
        "changeKey": change_key(event),
        "categories": list(event.categories),
        "transactionId": event.transaction_id,
        "originalStartTimeZone": original_zone,
        "originalEndTimeZone": original_zone,
        "iCalUId": ical_uid(event),
        "reminderMinutesBeforeStart": event.reminder_minutes,
        "isReminderOn": not event.is_all_day,
        "hasAttachments": False,
        "bodyPreview": event.body_preview,
        "importance": event.importance,
        "sensitivity": event.sensitivity,
        "isAllDay": event.is_all_day,
        "isCancelled": event.is_cancelled,
        "responseRequested": event.response_requested,
        "allowNewTimeProposals": event.allow_new_time_proposals,
        "isDraft": False,
        "hideAttendees": False,
        "webLink": web_link(event),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": event.is_online_meeting,
        "onlineMeetingProvider": event.online_provider if event.is_online_meeting else "unknown",
        "body": {"contentType": event.body_type, "content": event.body},
        "onlineMeeting": dict(event.online_meeting) if event.online_meeting else None,
        "attendees": [attendee_json(a) for a in event.attendees],
        "organizer": {
            "emailAddress": {
                "name": event.organizer_name or event.organizer.split("@")[0],
                "address": event.organizer,
            }
        },
    }


def render_event(
    event: Event, user: User, zone: tzinfo, label: str, item: Occurrence | None = None
) -> dict[str, Any]:
    """The full event resource for ``user``'s calendar (``item``: one instance of a series)."""
    kind = item.kind if item else ("seriesMaster" if event.recurrence else "singleInstance")
    start, end = (item.start, item.end) if item else (event.start, event.end)
    where = item.location if item else event.location
    original = item.original_start if item else None
    instance_id = event.id
    if kind != "singleInstance" and original is not None:
        instance_id = f"{event.id}_{original:%Y%m%d}"
    return _stored(event) | {
        "id": instance_id,
        "subject": item.subject if item else event.subject,
        "isOrganizer": event.organizer.lower() == user.mail.lower(),
        "seriesMasterId": None if kind in ("singleInstance", "seriesMaster") else event.id,
        "showAs": item.show_as if item else event.show_as,
        "type": kind,
        "originalStart": None if original is None else original.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "responseStatus": _response_status(event, user),
        "start": {"dateTime": graph_datetime(start.astimezone(zone)), "timeZone": label},
        "end": {"dateTime": graph_datetime(end.astimezone(zone)), "timeZone": label},
        "location": _location(where),
        "locations": [_location(where)] if where else [],
        "recurrence": event.recurrence if item is None else None,
    }


def extended_json(event: Event, wanted: str | None) -> list[dict[str, str]]:
    """``singleValueExtendedProperties`` expanded, all or the one whose id matches."""
    from .odata_query import property_key

    key = property_key(wanted) if wanted is not None else None
    return [
        {"id": pid, "value": value}
        for k, (pid, value) in event.extended.items()
        if key is None or k == key
    ]
