"""``calendar/getSchedule`` and ``calendarView``: Exchange's free/busy and expanded events."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from .freebusy import schedule_information, unresolved
from .graph import GraphCall
from .model import User
from .recurrence import Occurrence
from .timezones import resolve_zone
from .wire import graph_error, graph_json, graph_root

_PREFER_TZ = re.compile(r'outlook\.timezone\s*=\s*"?([^",;]+)"?', re.IGNORECASE)
_PREFER_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _bad(call: GraphCall, exc: BadRequest) -> Response:
    return graph_error(call.request, 400, exc.code, exc.message)


def _unsupported_zone(name: str) -> BadRequest:
    return BadRequest(
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value "
        f"is not supported: '{name}'.",
    )


def output_zone(call: GraphCall) -> tuple[tzinfo, str, str | None]:
    """(zone, label, applied preference) from ``Prefer: outlook.timezone``; UTC by default."""
    found = _PREFER_TZ.search(call.request.headers.get("prefer", ""))
    if not found:
        return UTC, "UTC", None
    name = found.group(1).strip()
    zone = resolve_zone(name)
    if zone is None:
        raise _unsupported_zone(name)
    return zone, name, f'outlook.timezone="{name}"'


def parse_datetime_tz(value: Any, label: str) -> datetime:
    """A ``dateTimeTimeZone`` (Windows or IANA zone name) to an aware UTC datetime."""
    if not isinstance(value, dict):
        raise BadRequest("ErrorInvalidParameter", f"The value of '{label}' is invalid.")
    fields = {k.lower(): v for k, v in value.items()}
    zone_name = fields.get("timezone") or "UTC"
    zone = resolve_zone(str(zone_name))
    if zone is None:
        raise _unsupported_zone(str(zone_name))
    moment = _parse_iso(str(fields.get("datetime") or ""), label)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _parse_iso(raw: str, label: str) -> datetime:
    """ISO 8601 as Graph accepts it: ``Z``/offset optional, up to 7 fractional digits."""
    text = raw.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(
            "ErrorInvalidParameter", f"The value '{raw}' of parameter '{label}' is invalid."
        ) from exc


async def _json_body(call: GraphCall) -> dict[str, Any]:
    try:
        body = json.loads(await call.request.body() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure "
            "Content-Type header is set and payload is of valid JSON format.",
        )
    return {k.lower(): v for k, v in body.items()}  # Schedules == schedules (CSDL vs docs)


def _interval(raw: Any) -> int:
    if raw is None:
        return 30
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if not 5 <= value <= 1440:
        raise BadRequest(
            "ErrorInvalidParameter",
            "The parameter 'AvailabilityViewInterval' is "
            "invalid. It must be between 5 and 1440 minutes.",
        )
    return value


def _schedule_request(
    call: GraphCall, body: dict[str, Any]
) -> tuple[list[str], datetime, datetime, int]:
    limits = call.sandbox.limits
    schedules = body.get("schedules")
    if (
        not isinstance(schedules, list)
        or not schedules
        or not all(isinstance(s, str) for s in schedules)
    ):
        raise BadRequest("ErrorInvalidParameter", "The value of 'Schedules' is invalid.")
    if len(schedules) > limits.max_schedules:
        raise BadRequest(
            "ErrorMailboxDataArrayTooBig",
            f"The number of mailboxes requested ({len(schedules)}) exceeds the "
            f"allowed limit of {limits.max_schedules}.",
        )
    start = parse_datetime_tz(body.get("starttime"), "StartTime")
    end = parse_datetime_tz(body.get("endtime"), "EndTime")
    if end <= start:
        raise BadRequest("ErrorInvalidTimeInterval", "The end time must be after the start time.")
    days = math.ceil((end - start).total_seconds() / 86400)
    if days > limits.max_schedule_days:
        raise BadRequest(
            "ErrorTimeIntervalTooBig",
            "The requested time duration specified for FreeBusyViewOptions."
            f"TimeWindow is too long. The allowed limit = {limits.max_schedule_days}"
            f" days; the actual limit = {days} days.",
        )
    return schedules, start, end, _interval(body.get("availabilityviewinterval"))


async def get_schedule(call: GraphCall) -> Response:
    """``POST /users/{id}/calendar/getSchedule``; unknown addresses get a per-entry error."""
    try:
        body = await _json_body(call)
        schedules, start, end, interval = _schedule_request(call, body)
        zone, label, applied = output_zone(call)
    except BadRequest as exc:
        return _bad(call, exc)
    sandbox, digit = call.sandbox, call.sandbox.limits.working_elsewhere_digit
    value = []
    for address in schedules:
        user = sandbox.find_mailbox(call.tenant, address)
        if user is None or not user.has_mailbox:
            value.append(unresolved(address))
            continue
        items = sandbox.mailbox_index(user).overlapping(start, end)
        value.append(
            schedule_information(user, address, items, start, end, interval, zone, label, digit)
        )
    context = (
        f"{graph_root(call.request)}/$metadata#Collection(microsoft.graph.scheduleInformation)"
    )
    headers = {"Preference-Applied": applied} if applied else None
    return graph_json(call.request, {"@odata.context": context, "value": value}, headers=headers)


def _mailbox(call: GraphCall) -> User | Response:
    ref = call.params.get("uid", "")
    user = call.sandbox.find_user(call.tenant, ref)
    if user is None or not user.has_mailbox:
        return graph_error(
            call.request, 404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid."
        )
    return user


def _view_window(call: GraphCall) -> tuple[datetime, datetime]:
    query = {k.lower(): v for k, v in call.request.query_params.items()}
    if not query.get("startdatetime") or not query.get("enddatetime"):
        raise BadRequest(
            "ErrorInvalidParameter",
            "This request requires a time window "
            "specified by the query string parameters StartDateTime and "
            "EndDateTime.",
        )
    start = _parse_iso(query["startdatetime"], "StartDateTime")
    end = _parse_iso(query["enddatetime"], "EndDateTime")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return start.astimezone(UTC), end.astimezone(UTC)


def _page_size(call: GraphCall) -> tuple[int, str | None]:
    limits = call.sandbox.limits
    found = _PREFER_PAGE.search(call.request.headers.get("prefer", ""))
    top = call.request.query_params.get("$top")
    if top and top.isdigit():
        return max(1, min(int(top), limits.calendar_view_max_page_size)), None
    if found:
        size = max(1, min(int(found.group(1)), limits.calendar_view_max_page_size))
        return size, f"odata.maxpagesize={size}"
    return limits.calendar_view_page_size, None


async def calendar_view(call: GraphCall) -> Response:
    """Occurrences overlapping the window (series expanded, cancelled ones removed), paged
    with ``$skip`` in ``@odata.nextLink`` as Outlook does; the default calendar's, or under
    ``calendars/{id}/`` that calendar's (404 ``ErrorItemNotFound`` once it is deleted)."""
    from .graph_events import GraphProblem, target

    user = _mailbox(call)
    if isinstance(user, Response):
        return user
    try:
        calendar = target(call)[1]
        start, end = _view_window(call)
        zone, label, applied_tz = output_zone(call)
    except GraphProblem as exc:
        return graph_error(call.request, exc.status, exc.code, exc.message)
    except BadRequest as exc:
        return _bad(call, exc)
    size, applied_page = _page_size(call)
    skip_raw = call.request.query_params.get("$skip", "0")
    skip = int(skip_raw) if skip_raw.isdigit() else 0
    items = [
        o
        for o in call.sandbox.mailbox_index(user, calendar).overlapping(start, end)
        if o.start < end and not o.event.is_cancelled
    ]
    page = items[skip : skip + size]
    root = graph_root(call.request)
    body: dict[str, Any] = {
        "@odata.context": f"{root}/$metadata#users('{quote(user.id)}')/calendarView"
    }
    if skip + size < len(items):
        body["@odata.nextLink"] = _view_next(call, root, skip + size)
    body["value"] = [event_json(o, user, zone, label) for o in page]
    applied = ", ".join(p for p in (applied_page, applied_tz) if p)
    return graph_json(
        call.request, body, headers={"Preference-Applied": applied} if applied else None
    )


def _view_next(call: GraphCall, root: str, skip: int) -> str:
    keep = [(k, v) for k, v in call.request.query_params.multi_items() if k != "$skip"]
    parts = [f"{k}={quote(v, safe=':')}" for k, v in keep] + [f"$skip={skip}"]
    cid = call.params.get("cid")
    view = f"calendars/{cid}/calendarView" if cid else "calendarView"
    return f"{root}/users/{call.params.get('uid', '')}/{view}?" + "&".join(parts)


def event_json(item: Occurrence, user: User, zone: tzinfo, label: str) -> dict[str, Any]:
    """An event resource as Graph serializes an instance in a calendar view."""
    from .event_wire import render_event

    return render_event(item.event, user, zone, label, item)
