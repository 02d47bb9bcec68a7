"""The Microsoft ``EventWriter``: what it sends to Graph and how it reads the answers,
with HTTP faked by ``httpx.MockTransport`` (the live-sandbox behaviour is in
tests/contract and tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from hiresync.providers.base import EventAttendee, EventDraft
from hiresync.providers.microsoft.client import GraphClient, RetryPolicy
from hiresync.providers.microsoft.events import KEY_PROPERTY, MicrosoftEvents, event_body, written
from tests.contract.graph_spec import validate_request_body

DRAFT = EventDraft(
    key="7b0c7c8e-6c1d-4e55-9e0b-111111111111",
    transaction_id="tx-1",
    subject="Technical interview",
    body_html="<p>Interview with Alex.</p>",
    start=datetime(2026, 3, 30, 8, 0, tzinfo=UTC),  # 09:00 in London (BST)
    end=datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
    time_zone="Europe/London",
    location="Room 4",
    attendees=(
        EventAttendee("ivan@contoso.com", "Ivan"),
        EventAttendee("alex@example.org", "Alex"),
    ),
    online_meeting=True,
)


def test_the_event_is_written_in_the_interviews_own_zone_across_dst() -> None:
    body = event_body(DRAFT, with_meeting=True)
    assert body["start"] == {"dateTime": "2026-03-30T09:00:00", "timeZone": "GMT Standard Time"}
    assert body["end"]["dateTime"] == "2026-03-30T10:00:00"
    assert [a["emailAddress"]["address"] for a in body["attendees"]] == [
        "ivan@contoso.com",
        "alex@example.org",
    ]
    assert body["isOnlineMeeting"] is True and body["onlineMeetingProvider"] == "teamsForBusiness"
    assert "isOnlineMeeting" not in event_body(DRAFT, with_meeting=False)


def test_create_and_update_bodies_match_the_graph_spec() -> None:
    create = event_body(DRAFT, with_meeting=True)
    create["transactionId"] = DRAFT.transaction_id
    create["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": DRAFT.key}]
    validate_request_body("POST", "/users/olga@contoso.com/events", create)
    validate_request_body(
        "PATCH", "/users/olga@contoso.com/events/AAMk=", event_body(DRAFT, with_meeting=False)
    )


def test_answers_are_read_with_teams_link_and_responses() -> None:
    event = written(
        {
            "id": "AAMk=",
            "iCalUId": "040000",
            "onlineMeeting": {"joinUrl": "https://teams.example/l/1"},
            "attendees": [
                {
                    "emailAddress": {"address": "Ivan@Contoso.com"},
                    "status": {"response": "declined"},
                },
                {
                    "emailAddress": {"address": "alex@example.org"},
                    "status": {"response": "notResponded"},
                },
            ],
        }
    )
    assert event.join_url == "https://teams.example/l/1"
    assert event.responses == (("ivan@contoso.com", "declined"), ("alex@example.org", "none"))


def writer(handler) -> MicrosoftEvents:  # type: ignore[no-untyped-def]
    async def token(force: bool = False) -> str:
        return "t"

    client = GraphClient(
        graph_url="https://graph.test",
        get_token=token,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=1, base_delay=0, max_delay=0),
    )
    return MicrosoftEvents(client)


async def test_create_carries_the_transaction_id_and_our_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "AAMk=", "attendees": []})

    event = await writer(handler).create("olga@contoso.com", DRAFT)
    sent = json.loads(seen[0].content)
    assert event.event_id == "AAMk="
    assert seen[0].url.path == "/v1.0/users/olga@contoso.com/events"
    assert sent["transactionId"] == "tx-1"
    assert sent["singleValueExtendedProperties"] == [{"id": KEY_PROPERTY, "value": DRAFT.key}]


async def test_find_asks_for_our_key_and_skips_cancelled_events() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert f"ep/id eq '{KEY_PROPERTY}'" in request.url.params["$filter"]
        assert f"ep/value eq '{DRAFT.key}'" in request.url.params["$filter"]
        return httpx.Response(
            200, json={"value": [{"id": "old", "isCancelled": True}, {"id": "live"}]}
        )

    found = await writer(handler).find("olga@contoso.com", DRAFT.key)
    assert found is not None and found.event_id == "live"


@pytest.mark.parametrize("status", [404])
async def test_cancelling_an_event_already_gone_counts_as_done(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "ErrorItemNotFound", "message": "not found"}}
        return httpx.Response(status, json=body)

    await writer(handler).cancel("olga@contoso.com", "AAMk=", "Sorry")
