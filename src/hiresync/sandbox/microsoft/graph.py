"""Graph v1.0 front door: routing, bearer-token checks, permissions, faults and throttling.

Each call goes through, in order: route match (case-insensitive, like Graph) → token
(401 ``InvalidAuthenticationToken``) → permission from the tenant's *current* consent
(403) → statistics and the request log (``stats.calls``) → a call back on a throttled
app's mailbox before its Retry-After has passed (counted in ``stats.early``; with
``throttle_early`` answered 429 again) → injected faults (fail-next, throttle, unavailable) → Outlook's
per-app-per-mailbox concurrency limit (429 ``ApplicationThrottled``) → latency → handler →
for writes, the "committed but the response was lost" fault (``drop_response_after_commit_next``)
→ for a call drawn slow (``slow_rate``), ``slow_ms`` more before the answer; a slow write is
applied or, at ``1 - slow_write_applied``, dropped by the gateway (a late 504, nothing written).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import tokens
from .model import Tenant, User
from .sandbox import MicrosoftSandbox
from .wire import graph_error

USER_READ = frozenset(
    {
        "User.Read.All",
        "User.ReadBasic.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
CALENDAR_WRITE = frozenset({"Calendars.ReadWrite", "Calendars.ReadWrite.Shared"})
CALENDAR_READ = frozenset(
    {
        "Calendars.Read",
        "Calendars.ReadWrite",
        "Calendars.ReadBasic",
        "Calendars.Read.Shared",
        "Calendars.ReadWrite.Shared",
    }
)
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass
class GraphCall:
    """Everything a Graph handler needs about the current call."""

    request: Request
    sandbox: MicrosoftSandbox
    tenant: Tenant
    claims: dict[str, Any]
    params: dict[str, str]
    me: User | None = None

    @property
    def delegated(self) -> bool:
        return self.claims.get("idtyp") == "user"


Handler = Callable[[GraphCall], Awaitable[Response]]


class ResponseLost(ConnectionAbortedError):
    """Raised after the response started, so the server drops the connection mid-answer."""


class LostResponse(Response):
    """A committed write whose answer never arrives: headers, a few bytes, then a dropped
    connection (the client sees a transport error such as httpx.RemoteProtocolError)."""

    def __init__(self, status: int) -> None:
        super().__init__(status_code=status)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise ResponseLost("sandbox fault: response dropped after the write was committed")


@dataclass(frozen=True)
class GraphRoute:
    pattern: re.Pattern[str]
    method: str
    handler: Handler
    permissions: frozenset[str]
    mailbox: bool  # subject to Outlook's per-mailbox limits
    name: str
    writes: bool = False  # changes a mailbox (the drop-response fault applies)


def _route(
    path: str,
    method: str,
    handler: Handler,
    permissions: frozenset[str],
    *,
    mailbox: bool,
    name: str,
    writes: bool = False,
) -> GraphRoute:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"
    return GraphRoute(
        re.compile(regex, re.IGNORECASE), method, handler, permissions, mailbox, name, writes
    )


def _event_routes(prefix: str) -> list[GraphRoute]:
    """Events in the default calendar (``events``, ``calendar/events``) or a named one."""
    from . import graph_events as ev

    one = r"/(?:events|calendar/events|calendars/{cid}/events)"
    rows = [
        ("", "POST", ev.create_event, CALENDAR_WRITE, "createEvent"),
        ("", "GET", ev.list_events, CALENDAR_READ, "listEvents"),
        ("/{eid}", "GET", ev.get_event, CALENDAR_READ, "getEvent"),
        ("/{eid}", "PATCH", ev.update_event, CALENDAR_WRITE, "updateEvent"),
        ("/{eid}", "DELETE", ev.delete_event, CALENDAR_WRITE, "deleteEvent"),
        (
            r"/{eid}/(?:microsoft\.graph\.)?cancel",
            "POST",
            ev.cancel_event,
            CALENDAR_WRITE,
            "cancelEvent",
        ),
    ]
    routes = [
        _route(
            prefix + one + tail,
            method,
            handler,
            perms,
            mailbox=True,
            name=name,
            writes=method != "GET",
        )
        for tail, method, handler, perms, name in rows
    ]
    return routes + _calendar_routes(prefix)


def _calendar_routes(prefix: str) -> list[GraphRoute]:
    """The mailbox's calendars themselves (``graph_calendars``)."""
    from . import graph_calendars as cal

    rows = [
        ("/calendar", "GET", cal.get_calendar, CALENDAR_READ, "getCalendar"),
        ("/calendars", "GET", cal.list_calendars, CALENDAR_READ, "listCalendars"),
        ("/calendars", "POST", cal.create_calendar, CALENDAR_WRITE, "createCalendar"),
        ("/calendars/{cid}", "GET", cal.get_calendar, CALENDAR_READ, "getCalendar"),
        ("/calendars/{cid}", "PATCH", cal.update_calendar, CALENDAR_WRITE, "updateCalendar"),
        ("/calendars/{cid}", "DELETE", cal.delete_calendar, CALENDAR_WRITE, "deleteCalendar"),
    ]
    return [
        _route(
            prefix + path, method, handler, perms, mailbox=True, name=name, writes=method != "GET"
        )
        for path, method, handler, perms, name in rows
    ]


def _subscription_routes() -> list[GraphRoute]:
    """``/subscriptions`` (Outlook events are the only resource, so calendar permissions)."""
    from . import graph_subscriptions as subs

    rows = [
        ("subscriptions", "POST", subs.create_subscription, "createSubscription"),
        ("subscriptions", "GET", subs.list_subscriptions, "listSubscriptions"),
        ("subscriptions/{sid}", "GET", subs.get_subscription, "getSubscription"),
        ("subscriptions/{sid}", "PATCH", subs.update_subscription, "updateSubscription"),
        ("subscriptions/{sid}", "DELETE", subs.delete_subscription, "deleteSubscription"),
        (
            r"subscriptions/{sid}/(?:microsoft\.graph\.)?reauthorize",
            "POST",
            subs.reauthorize_subscription,
            "reauthorizeSubscription",
        ),
    ]
    return [
        _route(path, method, handler, CALENDAR_READ, mailbox=False, name=name)
        for path, method, handler, name in rows
    ]


def build_routes() -> list[GraphRoute]:
    from .graph_calendar import calendar_view, get_schedule
    from .graph_delta import calendar_view_delta
    from .graph_users import get_user, list_users

    routes = []
    for prefix in ("users/{uid}", "me"):
        routes += [
            _route(
                prefix + r"/calendar/(?:microsoft\.graph\.)?getSchedule",
                "POST",
                get_schedule,
                CALENDAR_READ,
                mailbox=True,
                name="getSchedule",
            ),
            _route(
                prefix + r"/(?:calendar/|calendars/{cid}/)?calendarView",
                "GET",
                calendar_view,
                CALENDAR_READ,
                mailbox=True,
                name="calendarView",
            ),
            _route(
                prefix
                + r"/(?:calendar/|calendars/{cid}/)?calendarView/(?:microsoft\.graph\.)?delta(?:\(\))?",
                "GET",
                calendar_view_delta,
                CALENDAR_READ,
                mailbox=True,
                name="calendarViewDelta",
            ),
            *_event_routes(prefix),
        ]
    routes += [
        _route("users", "GET", list_users, USER_READ, mailbox=False, name="listUsers"),
        _route("users/{uid}", "GET", get_user, USER_READ, mailbox=False, name="getUser"),
        _route("me", "GET", get_user, USER_READ | {"User.Read"}, mailbox=False, name="getUser"),
        *_subscription_routes(),
    ]
    return routes


class GraphFrontDoor:
    """The Starlette endpoint for ``/graph/v1.0/{path}``."""

    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox
        self.routes = build_routes()

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"].strip("/")
        matched = [r for r in self.routes if r.pattern.match(path)]
        if not matched:
            segment = path.split("/")[-1] or path
            return graph_error(
                request, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
            )
        route = next((r for r in matched if r.method == request.method), None)
        if route is None:
            return graph_error(
                request,
                405,
                "Request_BadRequest",
                f"The requested resource does not support the HTTP method '{request.method}'.",
            )
        call = self._authenticate(request, route)
        if isinstance(call, Response):
            return call
        return await self._run(call, route)

    def _authenticate(self, request: Request, route: GraphRoute) -> GraphCall | Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if header and scheme.lower() != "bearer":
                raise tokens.TokenError("Access token validation failure.")
            claims = tokens.verify(self.sandbox.signing_key, token.strip(), self.sandbox.clock())
        except tokens.TokenError as exc:
            return graph_error(
                request,
                401,
                "InvalidAuthenticationToken",
                exc.message,
                {"WWW-Authenticate": WWW_AUTHENTICATE},
            )
        tenant = self.sandbox.tenants.get(claims.get("tid", ""))
        if tenant is None:
            return graph_error(
                request,
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid tenant.",
            )
        params = route.pattern.match(request.path_params["path"].strip("/")).groupdict()  # type: ignore[union-attr]
        call = GraphCall(request, self.sandbox, tenant, claims, params)
        if re.match(r"^/?me(/|$)", request.path_params["path"], re.IGNORECASE):
            if not call.delegated:
                return graph_error(
                    request,
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            call.me = tenant.users.get(claims.get("oid", ""))
            call.params["uid"] = claims.get("oid", "")
        if not self._permitted(call, route):
            return self._denied(request, route)
        return call

    def _permitted(self, call: GraphCall, route: GraphRoute) -> bool:
        """Token permissions intersected with what the tenant grants *now* (revocation bites)."""
        if call.delegated:
            granted = set(str(call.claims.get("scp", "")).split())
        else:
            current = call.tenant.grants.get(call.claims.get("appid", ""), ())
            granted = set(call.claims.get("roles", [])) & set(current)
        return bool(granted & route.permissions)

    @staticmethod
    def _denied(request: Request, route: GraphRoute) -> Response:
        if route.mailbox:
            return graph_error(
                request,
                403,
                "ErrorAccessDenied",
                "Access is denied. Check credentials and try again.",
            )
        return graph_error(
            request,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )

    async def _run(self, call: GraphCall, route: GraphRoute) -> Response:
        """Account for the call, answer it, and remember a Retry-After it was given."""
        sandbox, tenant = self.sandbox, call.tenant
        mailbox = self._mailbox_key(call) if route.mailbox else None
        stat_key = f"{tenant.id}/{mailbox or route.name}"
        sandbox.stats.by_route[route.name] += 1
        sandbox.stats.requests[stat_key] += 1
        sandbox.stats.by_mailbox_route[f"{stat_key}/{route.name}"] += 1
        arrived = sandbox.clock()
        slot = f"{call.claims.get('appid')}|{stat_key}"
        response = self._too_early(call, slot, stat_key, arrived)
        if response is None:
            response = await self._attempt(call, route, stat_key, slot, mailbox)
            told = _retry_after(response)
            if response.status_code == 429 and told is not None:
                sandbox.throttled_until[slot] = sandbox.clock() + told
        else:
            told = _retry_after(response)
        sandbox.stats.calls.append((arrived, stat_key, route.name, response.status_code, told))
        return response

    def _too_early(
        self, call: GraphCall, slot: str, stat_key: str, arrived: float
    ) -> Response | None:
        """A call back on a throttled app's mailbox before its Retry-After has passed: counted
        in ``stats.early`` and, with ``faults.throttle_early``, throttled again for the time
        left (Graph keeps throttling a client that does not wait; ⚠ how strictly)."""
        left = self.sandbox.throttled_until.get(slot, 0.0) - arrived
        if left <= 0:
            return None
        self.sandbox.stats.early[stat_key] += 1
        if not call.tenant.faults.throttle_early:
            return None
        self.sandbox.stats.throttled[stat_key] += 1
        return graph_error(
            call.request,
            429,
            "TooManyRequests",
            "Too many requests. Please retry after some time.",
            {"Retry-After": str(max(1, math.ceil(left)))},
        )

    async def _attempt(
        self, call: GraphCall, route: GraphRoute, stat_key: str, slot: str, mailbox: str | None
    ) -> Response:
        sandbox, faults = self.sandbox, call.tenant.faults
        injected = self._injected_fault(call, stat_key)
        if injected is not None:
            await self._sleep(faults.latency_ms)
            return injected
        if mailbox is None or faults.mailbox_concurrency is None:
            await self._sleep(faults.latency_ms)
            return await self._answer(call, route, stat_key)
        in_flight = sandbox.stats.in_flight
        if in_flight[slot] >= faults.mailbox_concurrency:
            sandbox.stats.throttled[stat_key] += 1
            return graph_error(
                call.request,
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": str(faults.retry_after)},
            )
        in_flight[slot] += 1
        peak = sandbox.stats.max_concurrency
        peak[stat_key] = max(peak.get(stat_key, 0), in_flight[slot])
        try:
            await self._sleep(faults.latency_ms)
            return await self._answer(call, route, stat_key)
        finally:
            in_flight[slot] -= 1

    async def _answer(self, call: GraphCall, route: GraphRoute, stat_key: str) -> Response:
        """The handler's answer, late for a call drawn slow. The mailbox stays busy while it
        waits (Outlook counts the request until it ends), and the server carries on when the
        client has given up, as a real one does."""
        faults = call.tenant.faults
        slow = bool(faults.slow_rate) and self.sandbox.random.random() < faults.slow_rate
        if not slow:
            return self._deliver(call, route, stat_key, await route.handler(call))
        self.sandbox.stats.slow[stat_key] += 1
        if route.writes and self.sandbox.random.random() >= faults.slow_write_applied:
            await self._sleep(faults.slow_ms)
            return graph_error(call.request, 504, "GatewayTimeout", "The operation has timed out.")
        response = self._deliver(call, route, stat_key, await route.handler(call))
        await self._sleep(faults.slow_ms)
        return response

    def _injected_fault(self, call: GraphCall, stat_key: str) -> Response | None:
        faults, rng, request = call.tenant.faults, self.sandbox.random, call.request
        retry = {"Retry-After": str(faults.retry_after)}
        if faults.fail_next > 0:
            faults.fail_next -= 1
            status = faults.fail_status
            if status == 429:
                self.sandbox.stats.throttled[stat_key] += 1
                return graph_error(
                    request,
                    429,
                    "TooManyRequests",
                    "Too many requests. Please retry after some time.",
                    retry,
                )
            return graph_error(
                request,
                status,
                "ServiceNotAvailable" if status == 503 else "InternalServerError",
                "The service is temporarily unavailable. Please retry later."
                if status == 503
                else "An internal server error occurred.",
                retry,
            )
        if faults.throttle_rate and rng.random() < faults.throttle_rate:
            self.sandbox.stats.throttled[stat_key] += 1
            return graph_error(
                request,
                429,
                "TooManyRequests",
                "Too many requests. Please retry after some time.",
                retry,
            )
        if faults.unavailable_rate and rng.random() < faults.unavailable_rate:
            return graph_error(
                request,
                503,
                "ServiceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
                retry,
            )
        return None

    def _deliver(
        self, call: GraphCall, route: GraphRoute, stat_key: str, response: Response
    ) -> Response:
        """The handler's answer, unless a write is due to lose it after committing."""
        faults = call.tenant.faults
        if not route.writes or response.status_code >= 400:
            return response
        if faults.drop_response_after_commit_next <= 0:
            return response
        faults.drop_response_after_commit_next -= 1
        self.sandbox.stats.dropped[stat_key] += 1
        if faults.drop_response_status:
            return graph_error(
                call.request,
                faults.drop_response_status,
                "GatewayTimeout" if faults.drop_response_status == 504 else "UnknownError",
                "The operation has timed out.",
            )
        return LostResponse(response.status_code)

    def _mailbox_key(self, call: GraphCall) -> str:
        """The mailbox a path addresses: id and UPN of one user share one counter."""
        ref = call.params.get("uid", "")
        user = self.sandbox.find_user(call.tenant, ref)
        return user.id if user else ref.lower()

    @staticmethod
    async def _sleep(latency_ms: int) -> None:
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)


def _retry_after(response: Response) -> float | None:
    """The Retry-After (seconds) an answer carries, if any."""
    value = response.headers.get("retry-after") if response.headers else None
    try:
        return float(value) if value else None
    except ValueError:
        return None
