"""``GET …/calendarView/delta``: incremental sync of a calendar view, as Graph serves it.

Wire behaviour (microsoft-graph-docs-contrib ``api-reference/v1.0/api/event-delta.md`` and
``concepts/delta-query-events.md``, ``delta-query-overview.md``):

* the first request carries ``startDateTime``/``endDateTime``; every later one only the
  ``@odata.nextLink`` (``$skiptoken``) or ``@odata.deltaLink`` (``$deltatoken``) it was given,
  which encode the window;
* ``Prefer: odata.maxpagesize=N`` caps a page (see :mod:`.delta_state` for the series
  exception), ``Prefer: outlook.timezone`` sets the zone of ``start``/``end`` (UTC by default),
  as for ``calendarView``; both apply per request;
* ``$select``, ``$expand``, ``$filter``, ``$orderby`` and ``$search`` are not supported: 400
  ``ErrorInvalidUrlQuery`` (⚠ the wording of the message);
* ``@odata.context`` is ``$metadata#Collection(event)``, every item carries ``@odata.type``;
* an expired, evicted or unknown token: **410 Gone**, ``syncStateNotFound`` ("The sync state
  generation is not found…", concepts/errors.md); after a synchronization reset: 410
  ``resyncRequired`` with a ``Location`` header holding the initial request
  (delta-query-overview.md, "Synchronization reset").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from .delta_state import Round, Row, TokenGone, changes, current_view
from .event_wire import render_event
from .graph import GraphCall
from .graph_calendar import _PREFER_PAGE, BadRequest, _view_window, output_zone
from .graph_events import GraphProblem, target
from .model import Calendar, User
from .wire import graph_error, graph_json, graph_root

UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search")
EXPIRED = (
    "The sync state generation is not found. The delta token is expired and data must be "
    "synchronized again."
)
RESET = "The delta token is no longer valid, and the app must reset the sync state."
STUB_KEYS = ("@odata.type", "@odata.etag", "id", "seriesMasterId", "type", "start", "end")
EVENT_TYPE = "#microsoft.graph.event"


async def calendar_view_delta(call: GraphCall) -> Response:
    try:
        return _delta(call)
    except GraphProblem as exc:
        return graph_error(call.request, exc.status, exc.code, exc.message)
    except BadRequest as exc:
        return graph_error(call.request, 400, exc.code, exc.message)
    except TokenGone as exc:
        return _gone(call, exc)


def _delta(call: GraphCall) -> Response:
    user, calendar = target(call)  # a deleted calendar: 404 ErrorItemNotFound, token or not
    zone, label, applied_zone = output_zone(call)
    size, applied_page = _page_size(call)
    round_, offset = _round(call, user, calendar)
    sandbox, limits = call.sandbox, call.sandbox.limits
    rows, following = round_.page(offset, size)
    body: dict[str, Any] = {
        "@odata.context": f"{graph_root(call.request)}/$metadata#Collection(event)"
    }
    if following < len(round_.groups):
        token = sandbox.delta_tokens.skip_link(round_, following, sandbox.clock(), limits)
        body["@odata.nextLink"] = _link(call, f"$skiptoken={token}")
    else:
        token = sandbox.delta_tokens.delta_link(round_, sandbox.clock(), limits)
        body["@odata.deltaLink"] = _link(call, f"$deltatoken={token}")
    body["value"] = [_render(row, user, zone, label) for row in rows]
    applied = ", ".join(p for p in (applied_page, applied_zone) if p)
    return graph_json(
        call.request, body, headers={"Preference-Applied": applied} if applied else None
    )


def _round(call: GraphCall, user: User, calendar: Calendar | None) -> tuple[Round, int]:
    """The round this request belongs to and the group offset of its page. Tokens belong to
    one calendar (``tenant/user`` for the default one, ``tenant/user/calendar`` another)."""
    sandbox, query = call.sandbox, call.request.query_params
    holder: User | Calendar = user if calendar is None else calendar
    mailbox = f"{call.tenant.id}/{user.id}" + ("" if calendar is None else f"/{calendar.id}")
    now, limits = sandbox.clock(), sandbox.limits
    skip, delta = query.get("$skiptoken"), query.get("$deltatoken")
    if skip:
        token = sandbox.delta_tokens.find(skip, mailbox, now, limits)
        if token.round is None:  # a $deltatoken passed as $skiptoken
            raise TokenGone(False, token)
        return token.round, token.offset
    index = sandbox.mailbox_index(user, calendar)
    if delta:
        token = sandbox.delta_tokens.find(delta, mailbox, now, limits)
        if token.snapshot is None:
            raise TokenGone(False, token)
        if token.snapshot.version == holder.version:  # nothing was written since
            return Round(mailbox, token.start, token.end, [], token.snapshot), 0
        groups, snapshot = current_view(holder, index, token.start, token.end, limits)
        sent = changes(token.snapshot, groups, snapshot, limits)
        return Round(mailbox, token.start, token.end, _paged(sent, call), snapshot), 0
    bad = [name for name in UNSUPPORTED if name in query]
    if bad:
        raise BadRequest(
            "ErrorInvalidUrlQuery",
            "The following parameters are not supported with change tracking over the "
            f"'CalendarView' resource: '{', '.join(bad)}'.",
        )
    start, end = _view_window(call)
    groups, snapshot = current_view(holder, index, start, end, limits)
    return Round(mailbox, start, end, _paged(groups, call), snapshot), 0


def _paged(groups: list[list[Row]], call: GraphCall) -> list[list[Row]]:
    if call.sandbox.limits.delta_split_series:
        return [[row] for rows in groups for row in rows]
    return groups


def _page_size(call: GraphCall) -> tuple[int, str | None]:
    limits = call.sandbox.limits
    found = _PREFER_PAGE.search(call.request.headers.get("prefer", ""))
    if not found:
        return limits.delta_page_size, None
    size = max(1, min(int(found.group(1)), limits.delta_max_page_size))
    return size, f"odata.maxpagesize={size}"


def _link(call: GraphCall, query: str) -> str:
    """The delta function's URL as the client called it, with only the state token."""
    return f"{graph_root(call.request)}/{call.request.path_params['path'].strip('/')}?{query}"


def _render(row: Row, user: User, zone: Any, label: str) -> dict[str, Any]:
    if row.kind == "removed":
        return {"@odata.type": EVENT_TYPE, "id": row.item_id, "@removed": {"reason": "deleted"}}
    if row.kind == "master":
        assert row.master is not None
        return {"@odata.type": EVENT_TYPE, **render_event(row.master, user, zone, label)}
    assert row.occurrence is not None
    full = {
        "@odata.type": EVENT_TYPE,
        **render_event(row.occurrence.event, user, zone, label, row.occurrence),
    }
    return {key: full[key] for key in STUB_KEYS} if row.kind == "stub" else full


def _gone(call: GraphCall, exc: TokenGone) -> Response:
    if not exc.reset or exc.token is None:
        return graph_error(call.request, 410, "syncStateNotFound", EXPIRED)
    window = {"startDateTime": _iso(exc.token.start), "endDateTime": _iso(exc.token.end)}
    query = "&".join(f"{k}={quote(v, safe=':')}" for k, v in window.items())
    location = _link(call, f"{query}&$deltatoken=")
    return graph_error(call.request, 410, "resyncRequired", RESET, {"Location": location})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
