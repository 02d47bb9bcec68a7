"""The Zoom sandbox delivers webhooks as Zoom does: ``endpoint.url_validation``, signed
``meeting.updated`` / ``meeting.deleted`` / ``app_deauthorized`` (``x-zm-signature`` recomputed
here independently), retries on server errors and timeouts only, and the Marketplace spec.

Split from the former ``test_sandbox_zoom.py``; fixtures and helpers live in
``zoom_fixtures.py``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from hiresync.sandbox.zoom import (
    DEMO_CLIENT_ID,
    ZoomSandbox,
)
from tests.contract.zoom_fixtures import (  # noqa: F401 (fixtures: found by pytest by name)
    FAY,
    Receiver,
    assert_signed,
    base_fixture,
    bearer,
    create,
    hook_fixture,
    http_fixture,
    receiver_fixture,
    sandbox_fixture,
    tokens_for,
)
from tests.contract.zoom_spec import (
    SpecViolation,
    validate_webhook,
)

# -- OAuth -----------------------------------------------------------------------------------------


def test_marketplace_spec_rejects_an_undocumented_field() -> None:
    good = {
        "event": "app_deauthorized",
        "payload": {
            "user_id": "u",
            "account_id": "a",
            "client_id": "c",
            "deauthorization_time": "2026-03-11T15:00:00.000Z",
            "signature": "s",
            "event_ts": 1,
        },
    }
    validate_webhook(good)
    with pytest.raises(SpecViolation, match="not defined by the spec"):
        validate_webhook(good | {"event_ts": 1})


# -- webhooks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "passed"), [("correct", True), ("wrong", False), ("slow", False)])
def test_endpoint_validation_checks_the_hmac_answer_within_the_timeout(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver, mode: str, passed: bool
) -> None:
    hook.validation = mode
    sandbox.limits.webhook_timeout = 1.0
    result = http.post(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks/validate").json()
    assert result["passed"] is passed
    headers, raw = hook.received[-1]
    challenge = json.loads(raw)
    assert challenge["event"] == "endpoint.url_validation" and challenge["payload"]["plainToken"]
    assert isinstance(challenge["event_ts"], int)
    assert_signed(headers, raw)
    assert http.get(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks").json()["validated"] is passed


def test_a_change_made_in_zoom_sends_signed_meeting_updated(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    meeting_id = create(http, bearer(http, sandbox, FAY)).json()["id"]
    sandbox.limits.api_changes_emit_events = False
    sandbox.update_meeting_in_zoom(
        meeting_id, start_time=datetime(2031, 5, 1, 12, tzinfo=UTC), duration=60
    )
    sandbox.deliver_webhooks()
    assert [json.loads(b)["event"] for _, b in hook.received] == [
        "endpoint.url_validation",
        "meeting.updated",
    ]
    headers, raw = hook.received[-1]
    assert_signed(headers, raw)
    payload = json.loads(raw)["payload"]
    fay = sandbox.user(FAY)
    assert (payload["account_id"], payload["operator"], payload["operator_id"]) == (
        fay.account_id,
        FAY,
        fay.id,
    )
    assert (
        payload["object"]["id"] == meeting_id
        and payload["object"]["start_time"] == "2031-05-01T12:00:00Z"
    )
    assert payload["object"]["duration"] == 60 and payload["old_object"]["duration"] == 45
    assert set(payload["object"]) == {"id", "uuid", "start_time", "duration"}


def test_control_api_changes_a_meeting_as_the_host_would_in_zoom(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    changed = http.patch(
        f"/_control/meetings/{meeting_id}", json={"topic": "Panel", "duration": 90}
    )
    assert changed.status_code == 200
    after = http.get(f"/v2/meetings/{meeting_id}", headers=auth).json()
    assert (after["topic"], after["duration"]) == ("Panel", 90)
    assert http.patch(f"/_control/meetings/{meeting_id}", json={"duration": -1}).status_code == 400
    assert http.patch("/_control/meetings/1", json={"topic": "x"}).status_code == 404


def test_a_meeting_deleted_in_zoom_is_gone_and_notified(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    http.delete(f"/_control/meetings/{meeting_id}")
    assert http.get(f"/v2/meetings/{meeting_id}", headers=auth).json()["code"] == 3001
    sandbox.deliver_webhooks()
    (deleted,) = hook.events("meeting.deleted")
    assert (
        deleted["payload"]["object"]["id"] == meeting_id
        and deleted["payload"]["object"]["host_id"] == sandbox.user(FAY).id
    )


def test_changes_through_the_api_are_notified_too(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    http.patch(f"/v2/meetings/{meeting_id}", json={"topic": "Renamed"}, headers=auth)
    sandbox.deliver_webhooks()
    (updated,) = hook.events("meeting.updated")
    assert updated["payload"]["object"] == {
        "id": meeting_id,
        "uuid": updated["payload"]["object"]["uuid"],
        "topic": "Renamed",
    }


def test_retries_only_server_errors_and_records_every_attempt(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    hook.statuses[:] = [500, 503, 200, 404]
    assert sandbox.deauthorize(FAY) is None  # nothing authorized: nothing to notify
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks(force=True)
    (retried,) = sandbox.deliveries(event="app_deauthorized")
    assert retried.status == "delivered" and [a.status for a in retried.attempts] == [500, 503, 200]
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks(force=True)
    client_error = sandbox.deliveries(event="app_deauthorized")[-1]
    assert client_error.status == "failed" and [a.status for a in client_error.attempts] == [404]
    listed = http.get("/_control/webhooks/deliveries", params={"event": "app_deauthorized"}).json()
    assert [d["status"] for d in listed] == ["delivered", "failed"]


def test_timeouts_are_retried_until_attempts_run_out(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    url = sandbox.apps[DEMO_CLIENT_ID].webhook.endpoint_url  # type: ignore[union-attr]
    subscription = {"endpoint_url": url, "events": ["app_deauthorized"]}
    put = http.put(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks", json=subscription)
    assert put.json() == subscription | {"validated": None}
    assert sandbox.validate_endpoint().passed  # before answers get slow
    hook.delay, sandbox.limits.webhook_timeout = 0.6, 0.3
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks()
    (delivery,) = sandbox.deliveries(event="app_deauthorized")
    assert delivery.status == "retrying" and delivery.attempts[0].error.startswith("ReadTimeOut")
    sandbox.deliver_webhooks(force=True)
    assert delivery.status == "failed" and len(delivery.attempts) == 4


def test_an_endpoint_that_fails_validation_gets_no_events(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    hook.validation = "wrong"
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks()
    assert [e["event"] for e in hook.events()] == ["endpoint.url_validation"]
    assert sandbox.deliveries(event="app_deauthorized")[0].status == "blocked"


def test_background_delivery_needs_no_trigger(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    sandbox.limits.webhook_delivery = "background"
    tokens_for(http, sandbox, FAY)
    http.post(f"/_control/users/{FAY}/deauthorize", json={})
    deadline = time.monotonic() + 5
    while not hook.events("app_deauthorized") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(hook.events("app_deauthorized")) == 1
