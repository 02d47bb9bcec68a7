"""GraphClient's calendarView delta and subscription calls on the wire (httpx.MockTransport).

What each request looks like (path, query, Prefer, body), that every nextLink is followed and
nothing but the state token is sent after the first page, that a round's pages merge into one
change set, that 410 (``syncStateNotFound`` / ``resyncRequired``) becomes ``SyncTokenExpired``,
and that links pointing away from Graph are refused before a token is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hiresync.providers.errors import BadRequest, ProviderError, SyncTokenExpired
from hiresync.providers.microsoft.client import GraphClient, RetryPolicy, events_resource
from hiresync.providers.microsoft.parse import (
    DeltaPage,
    is_occurrence_stub,
    merge_delta_pages,
    parse_subscription,
)
from tests.contract.graph_spec import template_for, validate_request_body

GRAPH = "https://graph.example.test"
ROOT = f"{GRAPH}/v1.0"
START, END = datetime(2026, 3, 16, tzinfo=UTC), datetime(2026, 3, 23, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


async def _token(force_refresh: bool) -> str:
    return "token"


def make_client(handler: Handler) -> GraphClient:
    async def sleep(seconds: float) -> None:
        return None

    return GraphClient(
        graph_url=GRAPH,
        get_token=_token,
        retry=RetryPolicy(max_retries=1),
        transport=httpx.MockTransport(handler),
        sleep=sleep,
    )


def pages(*bodies: dict[str, Any]) -> tuple[Handler, list[httpx.Request]]:
    """Answer each request with the next body (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = bodies[min(len(seen), len(bodies)) - 1]
        status = 410 if "error" in body else 200
        return httpx.Response(status, json=body)

    return handler, seen


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.event", "id": event_id, "subject": "x"} | fields


def gone(event_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


NEXT = f"{ROOT}/users/pat/calendarView/delta?$skiptoken=page2"
DELTA = f"{ROOT}/users/pat/calendarView/delta?$deltatoken=round2"


# -- calendarView delta ---------------------------------------------------------------------------


async def test_a_first_round_sends_the_window_once_and_follows_every_next_link() -> None:
    handler, seen = pages(
        {"@odata.nextLink": NEXT, "value": [event("a"), event("b")]},
        {"@odata.deltaLink": DELTA, "value": [event("c")]},
    )
    client = make_client(handler)
    delta = await client.calendar_view_delta("pat@contoso.com", START, END, page_size=2)
    assert [e["id"] for e in delta.events] == ["a", "b", "c"] and delta.removed == ()
    assert delta.delta_link == DELTA and delta.pages == 2
    first, second = seen
    assert first.url.path == "/v1.0/users/pat@contoso.com/calendarView/delta"
    assert dict(first.url.params) == {
        "startDateTime": "2026-03-16T00:00:00Z",
        "endDateTime": "2026-03-23T00:00:00Z",
    }
    assert template_for(first.url.path) == "/users/{user-id}/calendarView/microsoft.graph.delta()"
    prefer = first.headers["Prefer"]
    assert 'outlook.timezone="UTC"' in prefer and "odata.maxpagesize=2" in prefer
    assert 'IdType="ImmutableId"' in prefer
    assert str(second.url) == NEXT and second.headers["Prefer"] == prefer  # the link, as given


async def test_a_delta_link_round_reports_changes_and_removals() -> None:
    handler, seen = pages(
        {"@odata.deltaLink": DELTA, "value": [gone("a"), event("b", subject="new")]}
    )
    client = make_client(handler)
    delta = await client.calendar_view_delta(
        "pat", delta_link=f"{ROOT}/users/pat/calendarView/delta?$deltatoken=round1"
    )
    assert delta.removed == ("a",) and [e["subject"] for e in delta.events] == ["new"]
    assert (
        seen[0].url.params["$deltatoken"] == "round1" and "startDateTime" not in seen[0].url.params
    )


async def test_a_named_calendar_uses_its_own_path() -> None:
    handler, seen = pages({"@odata.deltaLink": DELTA, "value": []})
    await make_client(handler).calendar_view_delta("pat", START, END, calendar_id="AAMk/x=")
    assert seen[0].url.raw_path.startswith(
        b"/v1.0/users/pat/calendars/AAMk%2Fx%3D/calendarView/delta"
    )


@pytest.mark.parametrize("code", ["syncStateNotFound", "resyncRequired"])
async def test_an_expired_or_reset_token_raises_sync_token_expired(code: str) -> None:
    handler, seen = pages({"error": {"code": code, "message": "The delta token is expired."}})
    client = make_client(handler)
    with pytest.raises(SyncTokenExpired) as caught:
        await client.calendar_view_delta("pat", delta_link=DELTA)
    assert caught.value.code == code and len(seen) == 1  # 410 is not retried


async def test_an_expired_skiptoken_mid_round_raises_too() -> None:
    handler, seen = pages(
        {"@odata.nextLink": NEXT, "value": [event("a")]},
        {"error": {"code": "syncStateNotFound", "message": "gone"}},
    )
    with pytest.raises(SyncTokenExpired):
        await make_client(handler).calendar_view_delta("pat", START, END)
    assert len(seen) == 2


async def test_links_away_from_graph_are_refused_before_the_token_travels() -> None:
    handler, seen = pages({"@odata.nextLink": "https://evil.example/steal", "value": []})
    client = make_client(handler)
    with pytest.raises(ProviderError, match="outside Microsoft Graph"):
        await client.calendar_view_delta("pat", START, END)
    assert len(seen) == 1
    with pytest.raises(ProviderError, match="outside Microsoft Graph"):
        await client.calendar_view_delta("pat", delta_link="https://evil.example/delta")
    assert len(seen) == 1


async def test_a_page_without_either_link_is_an_error_and_a_window_is_needed() -> None:
    handler, _ = pages({"value": [event("a")]})
    client = make_client(handler)
    with pytest.raises(ProviderError, match="nextLink or deltaLink"):
        await client.calendar_view_delta("pat", START, END)
    with pytest.raises(ValueError, match="start and end"):
        await client.calendar_view_delta("pat")


async def test_pages_can_be_consumed_one_by_one() -> None:
    handler, _ = pages(
        {"@odata.nextLink": NEXT, "value": [event("a")]},
        {"@odata.deltaLink": DELTA, "value": [gone("b")]},
    )
    seen = [p async for p in make_client(handler).iter_calendar_view_delta("pat", START, END)]
    assert [(p.next_link, p.delta_link) for p in seen] == [(NEXT, None), (None, DELTA)]
    assert seen[1].removed == ("b",)


def test_the_last_word_on_an_id_wins_within_a_round() -> None:
    """delta-query-overview.md, "Replays": an entity can appear more than once."""
    one = DeltaPage((event("a"), event("b")), (), NEXT, None)
    two = DeltaPage((event("a", subject="again"),), ("b",), None, DELTA)
    merged = merge_delta_pages([one, two])
    assert [e["subject"] for e in merged.events] == ["again"] and merged.removed == ("b",)
    with pytest.raises(ValueError, match="deltaLink"):
        merge_delta_pages([one])


def test_occurrence_stubs_are_recognised() -> None:
    stub = {"id": "m_20260316", "type": "occurrence", "seriesMasterId": "m"}
    assert is_occurrence_stub(stub)  # type: ignore[arg-type]
    assert not is_occurrence_stub(event("e", type="occurrence"))  # type: ignore[arg-type]


# -- subscriptions -------------------------------------------------------------------------------


SUBSCRIPTION = {
    "id": "7f1a2b3c-0000-4000-8000-000000000001",
    "resource": "users/pat/events",
    "changeType": "created,updated,deleted",
    "notificationUrl": "https://hooks.example/graph",
    "lifecycleNotificationUrl": "https://hooks.example/graph/lifecycle",
    "expirationDateTime": "2026-03-18T15:00:00.0000000Z",
    "clientState": "s3cret",
}


def answering(status: int, body: Any = None) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    return handler, seen


async def test_create_subscription_sends_graphs_body() -> None:
    handler, seen = answering(201, SUBSCRIPTION)
    client = make_client(handler)
    created = await client.create_subscription(
        events_resource("pat"),
        "https://hooks.example/graph",
        expiration=datetime(2026, 3, 18, 15, tzinfo=UTC),
        client_state="s3cret",
        lifecycle_url="https://hooks.example/graph/lifecycle",
    )
    assert created["id"] == SUBSCRIPTION["id"]
    (request,) = seen
    body = json.loads(request.content)
    validate_request_body("POST", "/v1.0/subscriptions", body)
    assert body == {
        "changeType": "created,updated,deleted",
        "notificationUrl": "https://hooks.example/graph",
        "resource": "users/pat/events",
        "expirationDateTime": "2026-03-18T15:00:00Z",
        "clientState": "s3cret",
        "lifecycleNotificationUrl": "https://hooks.example/graph/lifecycle",
    }
    assert request.method == "POST" and request.url.path == "/v1.0/subscriptions"
    assert request.headers["Prefer"] == 'IdType="ImmutableId"'
    info = parse_subscription(created)
    assert info.expires == datetime(2026, 3, 18, 15, tzinfo=UTC)
    assert info.change_types == ("created", "updated", "deleted")


async def test_create_subscription_checks_its_arguments_and_maps_a_failed_handshake() -> None:
    handler, seen = answering(
        400,
        {
            "error": {
                "code": "ValidationError",
                "message": "Subscription validation request failed.",
            }
        },
    )
    client = make_client(handler)
    later = datetime(2026, 3, 18, tzinfo=UTC)
    with pytest.raises(ValueError, match="128"):
        await client.create_subscription(
            "users/pat/events", "https://h", expiration=later, client_state="x" * 129
        )
    with pytest.raises(ValueError, match="change types"):
        await client.create_subscription(
            "users/pat/events",
            "https://h",
            expiration=later,
            client_state="s",
            change_types=("moved",),
        )
    assert not seen
    with pytest.raises(BadRequest) as caught:
        await client.create_subscription(
            "users/pat/events", "https://h", expiration=later, client_state="s"
        )
    assert caught.value.code == "ValidationError"
    assert events_resource("pat", "AAMk=") == "users/pat/calendars/AAMk%3D/events"


async def test_renew_reauthorize_delete_and_list() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "PATCH":
            return httpx.Response(200, json=SUBSCRIPTION)
        if request.method == "DELETE":
            return httpx.Response(404 if "gone" in request.url.path else 204)
        if request.url.path.endswith("/reauthorize"):
            return httpx.Response(204)
        if "$skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [SUBSCRIPTION]})
        return httpx.Response(
            200,
            json={"value": [SUBSCRIPTION], "@odata.nextLink": f"{ROOT}/subscriptions?$skiptoken=2"},
        )

    client = make_client(handler)
    sub_id = SUBSCRIPTION["id"]
    await client.renew_subscription(sub_id, datetime(2026, 3, 20, tzinfo=UTC))
    assert seen[-1].url.path == f"/v1.0/subscriptions/{sub_id}"
    assert json.loads(seen[-1].content) == {"expirationDateTime": "2026-03-20T00:00:00Z"}
    await client.reauthorize_subscription(sub_id)
    assert (seen[-1].method, seen[-1].url.path) == (
        "POST",
        f"/v1.0/subscriptions/{sub_id}/reauthorize",
    )
    assert await client.delete_subscription(sub_id) is True
    assert await client.delete_subscription("gone") is False
    assert len(await client.list_subscriptions()) == 2
