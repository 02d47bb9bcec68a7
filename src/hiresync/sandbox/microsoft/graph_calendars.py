"""A mailbox's calendars: list, get, create, rename, delete (``…/calendar``, ``…/calendars``).

Wire behaviour, with the page of ``microsoft-graph-docs-contrib`` (or the thread) each comes
from:

* ``GET …/calendars`` lists the default calendar and every other one, paged with
  ``@odata.nextLink`` (user-list-calendars.md; ⚠ the page size); ``$select`` keeps ``id``;
* ``POST …/calendars {"name"}`` → 201 with the calendar (user-post-calendars.md); a name the
  mailbox already has → 409 ``ErrorFolderExists`` (what a retried create meets: corso PR
  #3318, "Handle 409, ErrorFolderExists … while creating destination calendar"; folder names
  compare case-insensitively ⚠);
* ``PATCH …/calendars/{id}`` ``name``/``color`` → 200 (calendar-update.md);
* ``DELETE …/calendars/{id}`` → 204: "Delete a calendar other than the default calendar"
  (calendar-delete.md); the default one is refused with Exchange's
  ``ErrorDeleteDistinguishedFolder`` ("an attempt is made to delete a distinguished folder",
  EWS response codes; ⚠ the status, 400). Its events go with it; delta and every route under
  it then answer 404 ``ErrorItemNotFound``, and its subscriptions end
  (``Limits.deleted_calendar_subscriptions`` ⚠);
* only the default calendar counts in ``getSchedule`` ("schedule items that match existing
  events in Alex' default calendar", outlook-get-free-busy-schedule.md; docs issue #851:
  "This call return events only from the built-in default calendar").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from . import meetings
from .graph import GraphCall
from .graph_calendar import BadRequest
from .graph_events import (
    GraphProblem,
    _answer,
    _body,
    _context,
    _next,
    _page,
    calendar_id,
    target,
)
from .model import Calendar, User
from .wire import graph_headers, graph_json, graph_root

EXISTS = "A folder with the specified name already exists."
DISTINGUISHED = "Distinguished folders cannot be deleted."
COLORS = frozenset(
    [
        "auto",
        "lightBlue",
        "lightGreen",
        "lightOrange",
        "lightGray",
        "lightYellow",
        "lightTeal",
        "lightPink",
        "lightBrown",
        "lightRed",
        "maxColor",
    ]
)
WRITABLE = frozenset({"name", "color", "hexColor"})


def calendar_json(call: GraphCall, user: User, calendar: Calendar | None = None) -> dict[str, Any]:
    """A calendar resource: the default one (``calendar`` None) or another."""
    allowed = list(meetings.allowed_providers(call.tenant, user))
    ident = calendar_id(user) if calendar is None else calendar.id
    return {
        "@odata.id": f"{graph_root(call.request)}/users('{quote(user.id)}')/calendars('{ident}')",
        "id": ident,
        "name": user.calendar_name if calendar is None else calendar.name,
        "color": user.calendar_color if calendar is None else calendar.color,
        "hexColor": "",
        "isDefaultCalendar": calendar is None,
        "changeKey": ident[-16:] if calendar is None else calendar.change_key,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": allowed,
        "defaultOnlineMeetingProvider": allowed[0] if allowed else "unknown",
        "isTallyingResponses": True,
        "isRemovable": calendar is not None,
        "owner": {"name": user.display_name, "address": user.mail},
    }


def _selected(call: GraphCall, full: dict[str, Any]) -> dict[str, Any]:
    raw = call.request.query_params.get("$select")
    if not raw:
        return full
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = wanted - full.keys()
    if unknown:
        raise GraphProblem(
            400,
            "RequestBroker--ParseUri",
            f"Could not find a property named '{sorted(unknown)[0]}' on type "
            "'Microsoft.OutlookServices.Calendar'.",
        )
    return {k: v for k, v in full.items() if k in wanted or k in ("@odata.id", "id")}


async def get_calendar(call: GraphCall) -> Response:
    return await _answer(call, _get)


async def _get(call: GraphCall) -> Response:
    user, calendar = target(call)
    tail = "calendars/$entity" if "cid" in call.params else "calendar/$entity"
    full = _selected(call, calendar_json(call, user, calendar))
    return graph_json(call.request, {"@odata.context": _context(call, user, tail), **full})


async def list_calendars(call: GraphCall) -> Response:
    return await _answer(call, _list)


async def _list(call: GraphCall) -> Response:
    user, _ = target(call)
    everything = [None, *user.calendars]
    size, skip = _page(call)
    size = min(size, call.sandbox.limits.calendars_page_size)
    body: dict[str, Any] = {"@odata.context": _context(call, user, "calendars")}
    if skip + size < len(everything):
        body["@odata.nextLink"] = _next(call, skip + size)
    body["value"] = [
        _selected(call, calendar_json(call, user, c)) for c in everything[skip : skip + size]
    ]
    return graph_json(call.request, body)


async def _changes(call: GraphCall) -> dict[str, Any]:
    raw = await _body(call)
    if not isinstance(raw, dict) or set(raw) - WRITABLE - {"@odata.type"}:
        raise BadRequest(
            "RequestBodyRead", "The request body holds properties a calendar cannot be given."
        )
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise BadRequest("ErrorInvalidParameter", "The calendar's name cannot be empty.")
    color = raw.get("color")
    if color is not None and color not in COLORS:
        raise BadRequest("RequestBodyRead", f"The value '{color}' is not a calendarColor.")
    return raw


async def create_calendar(call: GraphCall) -> Response:
    return await _answer(call, _create)


async def _create(call: GraphCall) -> Response:
    user, _ = target(call)
    raw = await _changes(call)
    if not raw.get("name"):
        raise BadRequest("ErrorInvalidParameter", "The calendar's name cannot be empty.")
    try:
        made = call.sandbox.add_calendar(user, raw["name"], raw.get("color") or "auto")
    except ValueError as exc:
        raise GraphProblem(409, "ErrorFolderExists", EXISTS) from exc
    body = {
        "@odata.context": _context(call, user, "calendars/$entity"),
        **calendar_json(call, user, made),
    }
    return graph_json(call.request, body, 201)


async def update_calendar(call: GraphCall) -> Response:
    return await _answer(call, _update)


async def _update(call: GraphCall) -> Response:
    user, calendar = target(call)
    raw = await _changes(call)
    name = str(raw["name"]).strip() if raw.get("name") else None
    current = user.calendar_name if calendar is None else calendar.name
    if name and name.lower() != current.lower():
        taken = {user.calendar_name.lower(), *(c.name.lower() for c in user.calendars)}
        if name.lower() in taken:
            raise GraphProblem(409, "ErrorFolderExists", EXISTS)
    if calendar is None:
        user.calendar_name = name or user.calendar_name
        user.calendar_color = raw.get("color") or user.calendar_color
    else:
        calendar.name = name or calendar.name
        calendar.color = raw.get("color") or calendar.color
        calendar.change_key = meetings._random_key(call.sandbox, 18)
    body = {
        "@odata.context": _context(call, user, "calendars/$entity"),
        **calendar_json(call, user, calendar),
    }
    return graph_json(call.request, body)


async def delete_calendar(call: GraphCall) -> Response:
    return await _answer(call, _delete)


async def _delete(call: GraphCall) -> Response:
    user, calendar = target(call)
    if calendar is None:
        raise GraphProblem(400, "ErrorDeleteDistinguishedFolder", DISTINGUISHED)
    call.sandbox.drop_calendar(call.tenant, user, calendar)
    return Response(status_code=204, headers=graph_headers(call.request))
