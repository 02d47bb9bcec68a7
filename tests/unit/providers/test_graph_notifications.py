"""Parsing and verifying inbound Graph notifications (providers/microsoft/notifications.py).

Bodies are the shapes of change-notifications-delivery-webhooks.md and
change-notifications-lifecycle-events.md; forged ones (wrong or missing clientState, an
unknown subscription) must never come out as accepted, and malformed ones raise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hiresync.providers.microsoft import notifications
from hiresync.providers.microsoft.notifications import (
    LifecycleEvent,
    MalformedNotification,
    RejectReason,
    parse_notifications,
    validation_token,
)

SUB = "7f1a2b3c-0000-4000-8000-000000000001"
OTHER = "7f1a2b3c-0000-4000-8000-000000000002"
TENANT = "3f2c9a7e-5b1d-4c8e-9a6f-2d7b1e4c8a90"
STATES = {SUB: "s3cret-state", OTHER: "other-state"}


def change(**fields: Any) -> dict[str, Any]:
    item = {
        "subscriptionId": SUB,
        "subscriptionExpirationDateTime": "2026-03-18T15:00:00.1234567Z",
        "clientState": "s3cret-state",
        "changeType": "updated",
        "resource": "Users/u-1/Events/AAMk-1",
        "tenantId": TENANT,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": "Users/u-1/Events/AAMk-1",
            "@odata.etag": 'W/"DwAAABYAAAC9"',
            "id": "AAMk-1",
        },
    }
    return item | fields


def lifecycle(event: str, **fields: Any) -> dict[str, Any]:
    item = {
        "subscriptionId": SUB,
        "subscriptionExpirationDateTime": "2026-03-18T15:00:00+00:00",
        "tenantId": TENANT,
        "clientState": "s3cret-state",
        "lifecycleEvent": event,
    }
    return item | fields


def body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


def test_a_verified_change_becomes_an_event_change() -> None:
    batch = parse_notifications(body(change()), STATES)
    assert batch.all_verified and not batch.lifecycle
    (found,) = batch.changes
    assert (found.subscription_id, found.change_type, found.user_id, found.event_id) == (
        SUB,
        "updated",
        "u-1",
        "AAMk-1",
    )
    assert found.etag == 'W/"DwAAABYAAAC9"' and found.tenant_id == TENANT
    assert found.subscription_expires == datetime(2026, 3, 18, 15, 0, 0, 123456, tzinfo=UTC)


def test_a_forged_client_state_is_rejected_not_accepted() -> None:
    batch = parse_notifications(
        body(change(clientState="guess"), change(changeType="created")), STATES
    )
    assert [c.change_type for c in batch.changes] == ["created"]
    assert [(r.subscription_id, r.reason) for r in batch.rejected] == [
        (SUB, RejectReason.CLIENT_STATE_MISMATCH)
    ]
    assert not batch.all_verified


def test_a_missing_client_state_or_another_subscriptions_state_is_rejected() -> None:
    no_state = change()
    del no_state["clientState"]
    swapped = change(clientState="other-state")  # valid, but for OTHER
    batch = parse_notifications(body(no_state, swapped), STATES)
    assert not batch.changes
    assert {r.reason for r in batch.rejected} == {RejectReason.CLIENT_STATE_MISMATCH}


def test_an_unknown_subscription_is_rejected_with_a_dict_or_a_callable() -> None:
    forged = change(subscriptionId="00000000-0000-4000-8000-00000000dead")
    for states in (STATES, STATES.get):
        batch = parse_notifications(body(forged), states)
        assert not batch.changes
        assert batch.rejected[0].reason is RejectReason.UNKNOWN_SUBSCRIPTION


def test_client_state_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(notifications.hmac, "compare_digest", spy)
    parse_notifications(body(change(clientState="nope")), STATES)
    assert calls == [(b"s3cret-state", b"nope")]


def test_lifecycle_notifications_are_parsed_and_verified() -> None:
    batch = parse_notifications(
        body(
            lifecycle("reauthorizationRequired"),
            lifecycle("subscriptionRemoved"),
            lifecycle("missed"),
            lifecycle("missed", clientState="forged"),
            lifecycle("somethingNew"),
        ),
        STATES,
    )
    assert [n.event for n in batch.lifecycle] == [
        LifecycleEvent.REAUTHORIZATION_REQUIRED,
        LifecycleEvent.SUBSCRIPTION_REMOVED,
        LifecycleEvent.MISSED,
    ]
    assert batch.lifecycle[0].subscription_expires == datetime(2026, 3, 18, 15, tzinfo=UTC)
    assert [r.reason for r in batch.rejected] == [
        RejectReason.CLIENT_STATE_MISMATCH,
        RejectReason.UNKNOWN_LIFECYCLE_EVENT,
    ]
    assert batch.rejected[1].detail == "somethingNew"


def test_ids_come_from_resource_data_or_the_resource() -> None:
    bare = change(resource="users/u-2@" + TENANT + "/events/AAMk-2", changeType="deleted")
    del bare["resourceData"]
    (found,) = parse_notifications(body(bare), STATES).changes
    assert (found.user_id, found.event_id, found.etag) == ("u-2", "AAMk-2", None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "no 'value' array"),
        (b'{"value": {}}', "no 'value' array"),
        (b'{"value": ["x"]}', "is not an object"),
        (body({"changeType": "created"}), "subscriptionId"),
        (body(change(changeType="moved")), "not a change type"),
        (body(change(resource=None)), "resource"),
        (body(change(resource="Users/u/Messages", resourceData={})), "no event id"),
        (body(change(resourceData="x")), "resourceData"),
        (body(change(subscriptionExpirationDateTime="soon")), "not a timestamp"),
    ],
)
def test_malformed_bodies_raise(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedNotification, match=message):
        parse_notifications(raw, STATES)


def test_an_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedNotification, match="over 100 bytes"):
        parse_notifications(body(change()), STATES, max_bytes=100)


def test_an_empty_batch_and_the_validation_request() -> None:
    assert parse_notifications('{"value": []}', STATES).all_verified
    token = "Validation: Testing client application reachability for subscription Request-Id: 1"
    assert validation_token({"validationToken": token}) == token
    assert validation_token({}) is None
