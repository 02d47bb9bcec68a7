"""REST ``/v2`` front door: routing, bearer tokens, scopes, faults, rate limits.

Each call goes through, in order: route match → token (401 code 124 "Invalid access token." /
"Access token is expired.", zoom_rb#36, remote-office-hours-queue#512) → scopes (400 code 4711)
→ statistics → injected faults (fail-next, throttle, unavailable) → the account's per-second and
(free plans) per-day limit for the route's category (429 with ``X-RateLimit-Category``,
``X-RateLimit-Type: QPS|Daily-limit``; developers.zoom.us/docs/api/rate-limits) → latency →
handler (:mod:`.rest`) → for writes, the "committed but the answer was lost" fault → for a call
drawn slow (``slow_rate``), ``slow_ms`` more before the answer; a slow write is applied or, at
``1 - slow_write_applied``, never reaches the handler (a late 504, nothing written).

Categories follow the API reference's "Rate Limit Label": creating and listing meetings and
reading settings are Medium, the rest Light.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .model import LIGHT, MEDIUM, Account, Grant, User
from .wire import next_utc_midnight, zoom_datetime, zoom_error

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

USER_READ = frozenset({"user:read", "user:read:admin", "user:read:user", "user:read:settings"})
MEETING_READ = frozenset(
    {
        "meeting:read",
        "meeting:read:admin",
        "meeting:write",
        "meeting:write:admin",
        "meeting:read:meeting",
        "meeting:read:list_meetings",
    }
)
MEETING_WRITE = frozenset(
    {
        "meeting:write",
        "meeting:write:admin",
        "meeting:write:meeting",
        "meeting:update:meeting",
        "meeting:delete:meeting",
    }
)
QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. Refer to the response header "
    "for details on when you can make another request."
)


@dataclass
class ApiCall:
    """Everything a handler needs about the current call."""

    request: Request
    sandbox: ZoomSandbox
    grant: Grant
    me: User
    account: Account
    params: dict[str, str]
    category: str

    def headers(self, **extra: str) -> dict[str, str]:
        """``X-RateLimit-Category`` always; the daily quota on plans that have one."""
        headers = {"X-RateLimit-Category": self.category}
        daily = self.sandbox.daily_remaining(self.account, self.category)
        if daily is not None:
            headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"] = map(str, daily)
        return headers | extra


Handler = Callable[[ApiCall], Awaitable[Response]]


@dataclass(frozen=True)
class ApiRoute:
    pattern: re.Pattern[str]
    method: str
    handler: Handler
    scopes: frozenset[str]
    category: str
    name: str
    writes: bool = False


class ResponseLost(ConnectionAbortedError):
    """Raised after the response started, so the server drops the connection mid-answer."""


class LostResponse(Response):
    """A committed write whose answer never arrives (the client sees a transport error)."""

    def __init__(self, status: int) -> None:
        super().__init__(status_code=status)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise ResponseLost("sandbox fault: response dropped after the write was committed")


def build_routes() -> list[ApiRoute]:
    from . import rest

    rows = [
        ("users/{uid}", "GET", rest.get_user, USER_READ, LIGHT, "getUser", False),
        ("users/{uid}/settings", "GET", rest.get_settings, USER_READ, MEDIUM, "getSettings", False),
        ("users/{uid}/meetings", "GET", rest.list_meetings, MEETING_READ, MEDIUM, "listMeetings", False),
        ("users/{uid}/meetings", "POST", rest.create_meeting, MEETING_WRITE, MEDIUM, "createMeeting", True),
        ("meetings/{mid}", "GET", rest.get_meeting, MEETING_READ, LIGHT, "getMeeting", False),
        ("meetings/{mid}", "PATCH", rest.update_meeting, MEETING_WRITE, LIGHT, "updateMeeting", True),
        ("meetings/{mid}", "DELETE", rest.delete_meeting, MEETING_WRITE, LIGHT, "deleteMeeting", True),
    ]  # fmt: skip
    return [
        ApiRoute(
            re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"),
            method,
            handler,
            scopes,
            category,
            name,
            writes,
        )
        for path, method, handler, scopes, category, name, writes in rows
    ]


class RestFrontDoor:
    """The Starlette endpoint for ``/v2/{path}``."""

    def __init__(self, sandbox: ZoomSandbox) -> None:
        self.sandbox = sandbox
        self.routes = build_routes()

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"].strip("/")
        matched = [r for r in self.routes if r.pattern.match(path)]
        if not matched:
            return zoom_error(404, 404, "Not Found")
        route = next((r for r in matched if r.method == request.method), None)
        if route is None:
            return zoom_error(405, 405, f"Method {request.method} is not allowed.")
        call = self._authenticate(request, route, path)
        if isinstance(call, Response):
            return call
        return await self._run(call, route)

    def _authenticate(self, request: Request, route: ApiRoute, path: str) -> ApiCall | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        owner = (
            self.sandbox.token_owner(token.strip())
            if scheme.lower() == "bearer"
            else "Invalid access token."
        )
        if isinstance(owner, str):
            self.sandbox.stats.oauth["rejected_tokens"] += 1
            return zoom_error(401, 124, owner)
        grant, me = owner
        if not set(grant.scopes) & route.scopes:
            wanted = ", ".join(sorted(route.scopes))
            return zoom_error(
                400, 4711, f"Invalid access token, does not contain scopes:[{wanted}]."
            )
        params = route.pattern.match(path).groupdict()  # type: ignore[union-attr]
        account = self.sandbox.accounts[me.account_id]
        return ApiCall(request, self.sandbox, grant, me, account, params, route.category)

    async def _run(self, call: ApiCall, route: ApiRoute) -> Response:
        sandbox, faults = self.sandbox, call.account.faults
        sandbox.stats.by_route[route.name] += 1
        sandbox.stats.by_account[call.account.id] += 1
        refused = self._injected_fault(call) or self._rate_limited(call)
        await self._sleep(faults.latency_ms)
        if refused is not None:
            return refused
        await call.request.body()  # read (and cache) before taking the lock
        slow = bool(faults.slow_rate) and sandbox.random.random() < faults.slow_rate
        if slow:
            sandbox.stats.slow[call.account.id] += 1
            if route.writes and sandbox.random.random() >= faults.slow_write_applied:
                await self._sleep(faults.slow_ms)
                return zoom_error(504, 504, "The service is temporarily unavailable.")
        with sandbox.lock:
            response = await route.handler(call)
        if route.writes and response.status_code < 300:
            response = self._maybe_lose(call, response)
        if slow:  # committed, and the server carries on when the client has given up
            await self._sleep(faults.slow_ms)
        return response

    def _injected_fault(self, call: ApiCall) -> Response | None:
        faults, rng = call.account.faults, self.sandbox.random
        status = 0
        if faults.fail_next > 0:
            faults.fail_next -= 1
            status = faults.fail_status
        elif faults.throttle_rate and rng.random() < faults.throttle_rate:
            status = 429
        elif faults.unavailable_rate and rng.random() < faults.unavailable_rate:
            status = 503
        if not status:
            return None
        if status == 429:
            self.sandbox.stats.throttled[f"{call.account.id}/QPS"] += 1
            return self._qps(call, retry_after=str(faults.retry_after))
        self.sandbox.stats.unavailable[call.account.id] += 1
        return zoom_error(
            status,
            status,
            "The service is temporarily unavailable. Please try again later.",
            headers={"Retry-After": str(faults.retry_after)},
        )

    def _qps(self, call: ApiCall, retry_after: str | None = None) -> Response:
        headers = {"X-RateLimit-Category": call.category, "X-RateLimit-Type": "QPS"}
        if retry_after and self.sandbox.limits.qps_retry_after:
            headers["Retry-After"] = retry_after
        return zoom_error(429, 429, QPS_MESSAGE, headers=headers)

    def _rate_limited(self, call: ApiCall) -> Response | None:
        over = self.sandbox.take_rate(call.account, call.category)
        if over is None:
            return None
        kind, limit, remaining = over
        self.sandbox.stats.throttled[f"{call.account.id}/{kind}"] += 1
        if kind == "QPS":
            return self._qps(call, retry_after="1")
        headers = {
            "X-RateLimit-Category": call.category,
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "Retry-After": zoom_datetime(next_utc_midnight(self.sandbox.now())),
        }
        return zoom_error(429, 429, DAILY_MESSAGE, headers=headers)

    def _maybe_lose(self, call: ApiCall, response: Response) -> Response:
        faults = call.account.faults
        if faults.drop_response_after_commit_next <= 0:
            return response
        faults.drop_response_after_commit_next -= 1
        self.sandbox.stats.dropped[call.account.id] += 1
        if faults.drop_response_status:
            return zoom_error(
                faults.drop_response_status,
                faults.drop_response_status,
                "The service is temporarily unavailable. Please try again later.",
            )
        return LostResponse(response.status_code)

    @staticmethod
    async def _sleep(latency_ms: int) -> None:
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
