"""Read a ``POST``/``PATCH`` event body into changes of the sandbox's :class:`Event`.

Outlook is strict about *what* a body says (unknown properties and enum values are 400
``RequestBodyRead``, end before start is refused) and lenient about *how* (property names
and enum literals in any case: the docs themselves send ``"contentType": "HTML"`` and
``"Comment"``). Read-only properties a client echoes back (``id``, ``iCalUId``…) are ignored,
as Graph ignores them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from .graph_calendar import BadRequest, parse_datetime_tz
from .model import Attendee
from .odata_query import InvalidPropertyId, property_key
from .recurrence import build_rule
from .timezones import resolve_zone

ENUMS = {
    "showas": ("show_as", ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")),
    "sensitivity": ("sensitivity", ("normal", "personal", "private", "confidential")),
    "importance": ("importance", ("low", "normal", "high")),
}
FLAGS = {
    "responserequested": "response_requested",
    "allownewtimeproposals": "allow_new_time_proposals",
    "isallday": "is_all_day",
    "isonlinemeeting": "is_online_meeting",
}
PROVIDERS = ("unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness")
READ_ONLY = frozenset(
    [
        "id",
        "createddatetime",
        "lastmodifieddatetime",
        "changekey",
        "icaluid",
        "isorganizer",
        "responsestatus",
        "type",
        "weblink",
        "seriesmasterid",
        "onlinemeeting",
        "onlinemeetingurl",
        "bodypreview",
        "hasattachments",
        "iscancelled",
        "originalstarttimezone",
        "originalendtimezone",
        "originalstart",
        "isdraft",
        "hideattendees",
        "isreminderon",
        "cancelledoccurrences",
    ]
)
KNOWN = frozenset(
    (
        *ENUMS,
        *FLAGS,
        "subject",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "attendees",
        "categories",
        "transactionid",
        "singlevalueextendedproperties",
        "recurrence",
        "onlinemeetingprovider",
        "reminderminutesbeforestart",
    )
)


def _read_error(message: str) -> BadRequest:
    return BadRequest("RequestBodyRead", message)


def _enum(value: Any, allowed: tuple[str, ...], type_name: str) -> str:
    for member in allowed:
        if isinstance(value, str) and value.lower() == member.lower():
            return member
    raise _read_error(
        f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.{type_name}'."
    )


def _string(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _read_error(f"Cannot convert a primitive value to the expected type for '{name}'.")
    return value


def _moment(value: Any, label: str) -> tuple[datetime, str, str]:
    """(UTC instant, IANA zone, zone as written) from a dateTimeTimeZone."""
    instant = parse_datetime_tz(value, label)
    written = str({k.lower(): v for k, v in value.items()}.get("timezone") or "UTC")
    zone = resolve_zone(written)
    return instant, getattr(zone, "key", "UTC"), written


def _attendees(raw: Any) -> list[Attendee]:
    if not isinstance(raw, list):
        raise _read_error("A collection was expected for property 'attendees'.")
    found: dict[str, Attendee] = {}
    for item in raw:
        email = item.get("emailAddress") if isinstance(item, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise BadRequest("ErrorInvalidRecipients", "At least one recipient isn't valid.")
        kind = _enum(
            item.get("type") or "required", ("required", "optional", "resource"), "attendeeType"
        )
        name = _string(email.get("name"), "name")
        found.setdefault(address.lower(), Attendee(address, name, kind))
    return list(found.values())


def _location(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, dict):
        raise _read_error("An object was expected for property 'location'.")
    return _string(raw.get("displayName"), "displayName")


def _extended(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        raise _read_error("A collection was expected for 'singleValueExtendedProperties'.")
    found = []
    for item in raw:
        pid = item.get("id") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        try:
            property_key(pid if isinstance(pid, str) else "")
        except InvalidPropertyId as exc:
            raise BadRequest(
                "ErrorInvalidExtendedPropertyValue", f"The extended property id '{pid}' is invalid."
            ) from exc
        found.append((str(pid), _string(value, "value")))
    return found


def _simple(key: str, value: Any, changes: dict[str, Any]) -> bool:
    """Enums, flags and strings; False when ``key`` is not one of them."""
    if key in ENUMS:
        field, allowed = ENUMS[key]
        changes[field] = _enum(value, allowed, "freeBusyStatus" if key == "showas" else key)
    elif key in FLAGS:
        if not isinstance(value, bool):
            raise _read_error(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'."
            )
        changes[FLAGS[key]] = value
    elif key == "subject":
        changes["subject"] = _string(value, "subject")
    elif key == "transactionid":
        changes["transaction_id"] = _string(value, "transactionId") or None
    elif key == "onlinemeetingprovider":
        changes["online_provider"] = _enum(value, PROVIDERS, "onlineMeetingProviderType")
    elif key == "reminderminutesbeforestart":
        changes["reminder_minutes"] = int(value)
    elif key == "categories":
        changes["categories"] = [_string(v, "categories") for v in value or []]
    else:
        return False
    return True


def _structured(key: str, value: Any, changes: dict[str, Any]) -> None:
    if key == "body":
        body = {k.lower(): v for k, v in (value or {}).items()}
        changes["body_type"] = _enum(
            body.get("contenttype") or "text", ("text", "html"), "bodyType"
        )
        changes["body"] = _string(body.get("content"), "content")
    elif key in ("start", "end"):
        changes[key] = _moment(value, key.capitalize() + "Time")
    elif key == "location":
        changes["location"] = _location(value)
    elif key == "locations" and value:
        changes.setdefault("location", _location(value[0]))
    elif key == "attendees":
        changes["attendees"] = _attendees(value)
    elif key == "singlevalueextendedproperties":
        changes["extended"] = _extended(value)
    elif key == "recurrence":
        changes["recurrence"] = value


def parse_event_body(body: Any) -> dict[str, Any]:
    """Changes named after :class:`Event` fields (``start``/``end`` as (utc, zone, label))."""
    if not isinstance(body, dict):
        raise BadRequest(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set "
            "and payload is of valid JSON format.",
        )
    changes: dict[str, Any] = {}
    for raw_key, value in body.items():
        key = raw_key.lower()
        if raw_key.startswith("@") or "@odata." in raw_key or key in READ_ONLY:
            continue
        if key not in KNOWN:
            raise _read_error(
                f"The property '{raw_key}' does not exist on type 'microsoft.graph.event'. Make "
                "sure to only use property names that are defined by the type or mark the "
                "type as open type."
            )
        try:
            if not _simple(key, value, changes):
                _structured(key, value, changes)
        except (AttributeError, TypeError, ValueError) as exc:
            raise _read_error(f"Invalid value for property '{raw_key}'.") from exc
    return changes


def check_times(start: datetime, end: datetime) -> None:
    if end < start:
        raise BadRequest(
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "The end date occurs before the start date.",
        )


def check_recurrence(event: Any) -> None:
    """Refuse a recurrence Exchange could not expand (the sandbox's expander decides)."""
    if event.recurrence is None:
        return
    try:
        build_rule(event)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest("ErrorInvalidRequest", "The recurrence pattern is not valid.") from exc


def fingerprint(body: Any) -> str:
    """Stable digest of a create body, to tell a retry from a different event."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
