"""Graph's events and calendar routes: create, read, find, update, delete, cancel.

Wire behaviour, with the page of ``microsoft-graph-docs-contrib`` each comes from:

* ``POST …/events`` → 201 with the whole event (user-post-events.md); a retry carrying
  the ``transactionId`` of an event already in the mailbox creates nothing and answers
  201 with that event (resources/event.md: the id exists "to avoid redundant POST
  operations in case of client retries"; observed: 201, no second event).
* ``GET …/events/{id}`` with ``$select`` and ``$expand=singleValueExtendedProperties(
  $filter=id eq '…')``; ``GET …/events?$filter=singleValueExtendedProperties/Any(…)``
  (singlevaluelegacyextendedproperty-get.md). Other filters: 400
  ``ErrorInvalidUrlQueryFilter`` (⚠ the sandbox supports no other filter).
* ``PATCH`` → 200 with the event, new changeKey (event-update.md); ``DELETE`` → 204
  (event-delete.md); ``POST …/cancel`` → 202, organizer only (event-cancel.md).
* unknown ids → 404 ``ErrorItemNotFound``; times in UTC unless ``Prefer: outlook.timezone``.
* every route also under ``calendars/{id}/``: a create or list there is that calendar's; an
  event is found by id whichever calendar holds it (ids are unique in the mailbox,
  microsoft-graph-docs issue #391). The calendars themselves: ``graph_calendars.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from . import meetings
from .event_body import fingerprint, parse_event_body
from .event_wire import CANONICAL, etag, extended_json, render_event
from .graph import GraphCall
from .graph_calendar import BadRequest, output_zone
from .model import Calendar, Event, User
from .odata_query import (
    PropertyFilter,
    UnsupportedQuery,
    parse_expand,
    parse_filter,
    parse_select,
)
from .wire import graph_error, graph_headers, graph_json, graph_root

NOT_FOUND = "The specified object was not found in the store."
NOT_ORGANIZER = "Your request can't be completed. You need to be an organizer to cancel a meeting."


class GraphProblem(Exception):
    """A Graph error answer raised from deep inside a handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def calendar_id(user: User) -> str:
    """The id of the user's (only) calendar: stable, opaque, Outlook-shaped."""
    raw = b"\x00\x00\x0e\x00" + user.id.encode()
    return "AAMkAD" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def target(call: GraphCall) -> tuple[User, Calendar | None]:
    """The mailbox, and the calendar the path names (``calendars/{cid}``; None: the default
    one, also when named by its id). An unknown or deleted calendar: 404 ErrorItemNotFound."""
    ref = call.params.get("uid", "")
    user = call.sandbox.find_user(call.tenant, ref)
    if user is None or not user.has_mailbox:
        raise GraphProblem(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
    wanted = call.params.get("cid")
    if wanted is None or wanted == calendar_id(user):
        return user, None
    found = call.sandbox.calendar_of(user, wanted)
    if found is None:
        raise GraphProblem(404, "ErrorItemNotFound", NOT_FOUND)
    return user, found


def _mailbox(call: GraphCall) -> User:
    return target(call)[0]


def _event(call: GraphCall) -> tuple[User, Event]:
    user = _mailbox(call)
    event = meetings.find_event(user, call.params.get("eid", ""))
    if event is None:
        raise GraphProblem(404, "ErrorItemNotFound", NOT_FOUND)
    return user, event


async def _body(call: GraphCall) -> Any:
    try:
        return json.loads(await call.request.body() or b"null")
    except ValueError as exc:
        raise BadRequest(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set "
            "and payload is of valid JSON format.",
        ) from exc


def _answer(call: GraphCall, work: Any) -> Any:
    """Wrap a handler so GraphProblem/BadRequest become Graph error bodies."""

    async def run() -> Response:
        try:
            return await work(call)
        except GraphProblem as exc:
            return graph_error(call.request, exc.status, exc.code, exc.message)
        except BadRequest as exc:
            return graph_error(call.request, 400, exc.code, exc.message)

    return run()


def _context(call: GraphCall, user: User, tail: str) -> str:
    return f"{graph_root(call.request)}/$metadata#users('{quote(user.id)}')/{tail}"


def _render(call: GraphCall, user: User, event: Event) -> tuple[dict[str, Any], str | None]:
    zone, label, applied = output_zone(call)
    return render_event(event, user, zone, label), applied


def _prefer(applied: str | None) -> dict[str, str] | None:
    return {"Preference-Applied": applied} if applied else None


async def create_event(call: GraphCall) -> Response:
    return await _answer(call, _create)


async def _create(call: GraphCall) -> Response:
    user, calendar = target(call)
    raw = await _body(call)
    changes = parse_event_body(raw)
    output_zone(call)  # an unsupported Prefer zone fails before anything is written
    event, _ = meetings.create(call.sandbox, call.tenant, user, changes, fingerprint(raw), calendar)
    body, applied = _render(call, user, event)
    body = {"@odata.context": _context(call, user, "events/$entity"), **body}
    return graph_json(call.request, body, 201, headers=_prefer(applied))


def _select(call: GraphCall) -> tuple[str, ...] | None:
    raw = call.request.query_params.get("$select")
    if not raw:
        return None
    try:
        return parse_select(raw, CANONICAL)
    except UnsupportedQuery as exc:
        raise GraphProblem(
            400,
            "RequestBroker--ParseUri",
            f"Could not find a property named '{exc}' on type 'Microsoft.OutlookServices.Event'.",
        ) from exc


def _shape(
    full: dict[str, Any], event: Event, select: tuple[str, ...] | None, expand: str | None
) -> dict[str, Any]:
    """``$select`` keeps id and the etag; ``$expand`` adds matching extended properties."""
    if select is not None:
        full = {"@odata.etag": etag(event), "id": full["id"]} | {
            k: full[k] for k in select if k in full and k != "id"
        }
    if expand is not None:
        found = extended_json(event, None if expand == "*" else expand)
        if found:  # no match: Outlook leaves the navigation property out
            full["singleValueExtendedProperties"] = found
    return full


def _expand(call: GraphCall) -> str | None:
    raw = call.request.query_params.get("$expand")
    if not raw:
        return None
    try:
        wanted = parse_expand(raw).property_id
    except UnsupportedQuery as exc:
        raise GraphProblem(
            400, "RequestBroker--ParseUri", f"Parsing OData Select and Expand failed: '{raw}'."
        ) from exc
    return "*" if wanted is None else wanted


async def get_event(call: GraphCall) -> Response:
    return await _answer(call, _get)


async def _get(call: GraphCall) -> Response:
    user, event = _event(call)
    select, expand = _select(call), _expand(call)
    full, applied = _render(call, user, event)
    tail = f"events({','.join(select)})/$entity" if select else "events/$entity"
    body = {"@odata.context": _context(call, user, tail), **_shape(full, event, select, expand)}
    return graph_json(call.request, body, headers=_prefer(applied))


def _filter(call: GraphCall) -> PropertyFilter | None:
    raw = call.request.query_params.get("$filter")
    if raw is None:
        return None
    try:
        return parse_filter(raw)
    except UnsupportedQuery as exc:
        raise GraphProblem(
            400,
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        ) from exc


def _page(call: GraphCall) -> tuple[int, int]:
    limits, query = call.sandbox.limits, call.request.query_params
    top, skip = query.get("$top"), query.get("$skip", "0")
    if (top is not None and not top.isdigit()) or not skip.isdigit():
        raise GraphProblem(400, "BadRequest", "Invalid $top or $skip value.")
    size = limits.events_page_size if top is None else int(top)
    return max(1, min(size, limits.events_max_page_size)), int(skip)


async def list_events(call: GraphCall) -> Response:
    return await _answer(call, _list)


async def _list(call: GraphCall) -> Response:
    """The events of one calendar: ``calendars/{cid}/events``, or the default one's (⚠
    whether ``/events`` also lists other calendars' is not said; it does not here)."""
    user, calendar = target(call)
    wanted, select, expand = _filter(call), _select(call), _expand(call)
    size, skip = _page(call)
    zone, label, applied = output_zone(call)
    events = call.sandbox.events_in(user, calendar)
    found = [e for e in events if wanted is None or wanted.matches(e.extended)]
    page = found[skip : skip + size]
    body: dict[str, Any] = {"@odata.context": _context(call, user, "events")}
    if skip + size < len(found):
        body["@odata.nextLink"] = _next(call, skip + size)
    body["value"] = [_shape(render_event(e, user, zone, label), e, select, expand) for e in page]
    return graph_json(call.request, body, headers=_prefer(applied))


def _next(call: GraphCall, skip: int) -> str:
    keep = [(k, v) for k, v in call.request.query_params.multi_items() if k != "$skip"]
    parts = [f"{k}={quote(v, safe=':')}" for k, v in keep] + [f"$skip={skip}"]
    return f"{graph_root(call.request)}/{call.request.path_params['path'].strip('/')}?" + (
        "&".join(parts)
    )


async def update_event(call: GraphCall) -> Response:
    return await _answer(call, _update)


async def _update(call: GraphCall) -> Response:
    user, event = _event(call)
    changes = parse_event_body(await _body(call))
    output_zone(call)
    meetings.update(call.sandbox, call.tenant, user, event, changes)
    body, applied = _render(call, user, event)
    body = {"@odata.context": _context(call, user, "events/$entity"), **body}
    return graph_json(call.request, body, headers=_prefer(applied))


async def delete_event(call: GraphCall) -> Response:
    return await _answer(call, _delete)


async def _delete(call: GraphCall) -> Response:
    user, event = _event(call)
    meetings.remove(call.sandbox, call.tenant, user, event)
    return Response(status_code=204, headers=graph_headers(call.request))


async def cancel_event(call: GraphCall) -> Response:
    return await _answer(call, _cancel)


async def _cancel(call: GraphCall) -> Response:
    user, event = _event(call)
    raw = await _body(call)
    params = {k.lower(): v for k, v in (raw or {}).items()} if isinstance(raw, dict) else None
    if params is None or set(params) - {"comment"}:
        raise BadRequest("RequestBodyRead", "The parameter 'comment' is the only one accepted.")
    if event.organizer.lower() != user.mail.lower():
        raise GraphProblem(400, "ErrorInvalidRequest", NOT_ORGANIZER)
    meetings.remove(call.sandbox, call.tenant, user, event, str(params.get("comment") or ""))
    return Response(status_code=202, headers=graph_headers(call.request))
