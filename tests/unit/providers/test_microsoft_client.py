"""GraphClient on the wire: retries, throttling, token refresh, paging, concurrency, errors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
import httpx
import pytest

from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from hiresync.providers.microsoft.client import GraphClient, RetryPolicy, mailbox_of

GRAPH = "https://graph.example.test"
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Tokens:
    """A token callable that records how it was asked and hands out numbered tokens."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.issued = 0

    async def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh or not self.issued:
            self.issued += 1
        return f"token-{self.issued}"


def make_client(
    handler: Handler, *, retry: RetryPolicy | None = None, max_concurrency: int = 16
) -> tuple[GraphClient, list[float], Tokens]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    tokens = Tokens()
    client = GraphClient(
        graph_url=GRAPH,
        get_token=tokens,
        retry=retry or RetryPolicy(max_retries=3),
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        max_concurrency=max_concurrency,
    )
    return client, sleeps, tokens


def graph_error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message or code}}
    return httpx.Response(status, json=body, headers=headers)


def sequence(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``responses`` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


OK = httpx.Response(200, json={"value": []})


# -- throttling and transient failures ---------------------------------------------------------


async def test_retry_after_on_429_is_waited_exactly_before_the_retry() -> None:
    handler, seen = sequence(graph_error(429, "ApplicationThrottled", **{"Retry-After": "7"}), OK)
    client, sleeps, _ = make_client(handler)
    assert await client.request("GET", "users") == {"value": []}
    assert sleeps == [7.0]
    assert len(seen) == 2


async def test_throttling_that_outlasts_the_retry_budget_raises_rate_limited() -> None:
    handler, seen = sequence(graph_error(429, "ApplicationThrottled", **{"Retry-After": "3"}))
    client, sleeps, _ = make_client(handler, retry=RetryPolicy(max_retries=2))
    with pytest.raises(RateLimited) as caught:
        await client.request("GET", "users")
    assert caught.value.retry_after == 3.0
    assert caught.value.code == "ApplicationThrottled"
    assert len(seen) == 3 and sleeps == [3.0, 3.0]


async def test_a_retry_after_longer_than_the_cap_is_handed_back_not_slept() -> None:
    handler, seen = sequence(graph_error(429, "ApplicationThrottled", **{"Retry-After": "900"}))
    client, sleeps, _ = make_client(handler)
    with pytest.raises(RateLimited) as caught:
        await client.request("GET", "users")
    assert caught.value.retry_after == 900.0
    assert sleeps == [] and len(seen) == 1


async def test_503_with_retry_after_is_retried_then_succeeds() -> None:
    handler, _ = sequence(graph_error(503, "ServiceUnavailable", **{"Retry-After": "2"}), OK)
    client, sleeps, _ = make_client(handler)
    assert await client.request("GET", "users") == {"value": []}
    assert sleeps == [2.0]


async def test_persistent_5xx_ends_in_provider_unavailable_with_growing_backoff() -> None:
    handler, seen = sequence(graph_error(504, "GatewayTimeout"))
    client, sleeps, _ = make_client(handler, retry=RetryPolicy(max_retries=3, base_delay=1.0))
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "users")
    assert len(seen) == 4
    # Each wait lies in [cap/2, cap] with cap doubling: 1, 2, 4 seconds.
    for wait, cap in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert cap / 2 <= wait <= cap


async def test_connection_errors_are_retried_then_reported_unavailable() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("connection refused", request=request)

    client, sleeps, _ = make_client(handler, retry=RetryPolicy(max_retries=2))
    with pytest.raises(ProviderUnavailable):
        await client.request("GET", "users")
    assert attempts == 3 and len(sleeps) == 2


async def test_a_timeout_is_retried_and_the_request_recovers() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return OK

    client, _, _ = make_client(handler)
    assert await client.request("GET", "users") == {"value": []}


# -- tokens ------------------------------------------------------------------------------------


async def test_a_token_expiring_mid_query_is_refreshed_once_and_the_request_succeeds() -> None:
    handler, seen = sequence(
        graph_error(401, "InvalidAuthenticationToken", "Access token has expired."), OK
    )
    client, sleeps, tokens = make_client(handler)
    assert await client.request("GET", "users") == {"value": []}
    assert tokens.calls == [False, False, True]
    assert [r.headers["Authorization"] for r in seen] == ["Bearer token-1", "Bearer token-2"]
    assert sleeps == []


async def test_a_token_refused_twice_means_the_connection_is_revoked() -> None:
    handler, seen = sequence(graph_error(401, "InvalidAuthenticationToken"))
    client, _, tokens = make_client(handler)
    with pytest.raises(AuthRevoked):
        await client.request("GET", "users")
    assert len(seen) == 2 and tokens.calls == [False, False, True]


async def test_a_burst_of_401s_renews_the_token_once() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.01)
        if request.headers["Authorization"] == "Bearer token-1":
            return graph_error(401, "InvalidAuthenticationToken", "expired")
        return OK

    client, _, tokens = make_client(handler)
    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(client.request, "GET", "users")
    assert tokens.issued == 2  # one refresh served every request


# -- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (
            graph_error(403, "Authorization_RequestDenied", "Insufficient privileges"),
            AuthRevoked,
            "Authorization_RequestDenied",
        ),
        (graph_error(404, "ErrorItemNotFound"), NotFound, "ErrorItemNotFound"),
        (
            graph_error(400, "ErrorInvalidParameter", "bad interval"),
            BadRequest,
            "ErrorInvalidParameter",
        ),
    ],
)
async def test_graph_errors_are_translated_with_graphs_code_and_message(
    response: httpx.Response, error: type[ProviderError], code: str
) -> None:
    handler, seen = sequence(response)
    client, _, _ = make_client(handler)
    with pytest.raises(error) as caught:
        await client.request("GET", "users/a@x.test")
    assert caught.value.code == code
    assert caught.value.message == response.json()["error"]["message"]
    assert len(seen) == 1  # not retried: retrying cannot help


async def test_a_success_that_is_not_json_is_a_provider_failure() -> None:
    handler, _ = sequence(httpx.Response(200, text="<html>proxy error</html>"))
    client, _, _ = make_client(handler)
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        await client.request("GET", "users")


# -- paging ------------------------------------------------------------------------------------


async def test_list_users_follows_every_next_link_verbatim() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params.get("$skiptoken") or 0)
        body: dict[str, object] = {"value": [{"id": f"u{page}"}]}
        if page < 2:
            body["@odata.nextLink"] = f"{GRAPH}/v1.0/users?$skiptoken={page + 1}"
        return httpx.Response(200, json=body)

    client, _, _ = make_client(handler)
    pages = [page async for page in client.list_users()]
    assert [user["id"] for page in pages for user in page] == ["u0", "u1", "u2"]
    first = seen[0].url.params
    assert first["$top"] == "999"
    assert first["$select"] == "id,displayName,mail,userPrincipalName,proxyAddresses,accountEnabled"
    assert all("$select" not in r.url.params for r in seen[1:])  # the link carries the query


async def test_paging_is_bounded_when_a_server_never_stops() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [], "@odata.nextLink": f"{GRAPH}/v1.0/users"})

    client, _, _ = make_client(handler, retry=RetryPolicy(max_pages=5))
    with pytest.raises(ProviderError, match="5 pages"):
        async for _ in client.list_users():
            pass


async def test_a_next_link_to_another_host_is_refused_and_gets_no_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/users"}
        )

    client, _, _ = make_client(handler)
    with pytest.raises(ProviderError, match="outside"):
        async for _ in client.list_users():
            pass
    assert all(r.url.host == "graph.example.test" for r in seen)


# -- requests we send --------------------------------------------------------------------------


async def test_get_schedule_sends_camel_case_utc_body_on_the_anchor_mailbox() -> None:
    handler, seen = sequence(OK)
    client, _, _ = make_client(handler)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    end = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    await client.get_schedule(
        "Ann@Contoso.test", ["ann@contoso.test", "bo@contoso.test"], start, end, 30
    )
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == "/v1.0/users/Ann@Contoso.test/calendar/getSchedule"
    assert request.headers["Prefer"] == 'outlook.timezone="UTC"'
    assert json.loads(request.content) == {
        "schedules": ["ann@contoso.test", "bo@contoso.test"],
        "startTime": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-03-30T09:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 30,
    }


async def test_calendar_view_asks_for_utc_and_immutable_ids() -> None:
    handler, seen = sequence(httpx.Response(200, json={"value": [{"id": "e1"}]}))
    client, _, _ = make_client(handler)
    events = await client.calendar_view(
        "u1", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    )
    assert events == [{"id": "e1"}]
    request = seen[0]
    assert request.url.path == "/v1.0/users/u1/calendarView"
    assert request.url.params["startDateTime"] == "2026-03-02T00:00:00Z"
    assert 'IdType="ImmutableId"' in request.headers["Prefer"]
    assert 'outlook.timezone="UTC"' in request.headers["Prefer"]


# -- concurrency -------------------------------------------------------------------------------


async def test_never_more_than_four_requests_in_flight_per_mailbox() -> None:
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    overall_peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal overall_peak
        mailbox = mailbox_of(str(request.url)) or ""
        in_flight[mailbox] += 1
        peak[mailbox] = max(peak[mailbox], in_flight[mailbox])
        overall_peak = max(overall_peak, sum(in_flight.values()))
        await anyio.sleep(0.01)
        in_flight[mailbox] -= 1
        return OK

    client, _, _ = make_client(handler, max_concurrency=12)
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    async with anyio.create_task_group() as group:
        for i in range(60):
            mailbox = f"m{i % 2}@contoso.test"
            group.start_soon(client.get_schedule, mailbox, [mailbox], start, end)
    assert set(peak) == {"m0@contoso.test", "m1@contoso.test"}
    assert max(peak.values()) == 4  # the Outlook limit, reached but never exceeded
    assert overall_peak == 8  # the two mailboxes do run side by side


async def test_the_overall_cap_bounds_requests_across_mailboxes() -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return OK

    client, _, _ = make_client(handler, max_concurrency=6)
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    async with anyio.create_task_group() as group:
        for i in range(40):
            group.start_soon(client.get_schedule, f"m{i}@x.test", [f"m{i}@x.test"], start, end)
    assert peak == 6


def test_mailbox_is_read_from_the_users_segment_of_the_path() -> None:
    assert mailbox_of(f"{GRAPH}/v1.0/users/Ann%40X.test/calendar/getSchedule") == "ann@x.test"
    assert mailbox_of("users/abc-123/calendarView?x=1") == "abc-123"
    assert mailbox_of(f"{GRAPH}/v1.0/users?$top=999") is None
