"""Change-notification subscriptions on the sandbox, against a real receiver on a loopback port.

Requests and answers are held to the ``/subscriptions`` paths of the paths spec and to the
``subscription`` and ``changeNotification`` types of the types file (``graph_spec``). The
behaviours are Graph's (subscription.md, change-notifications-delivery-webhooks.md, the
notificationUrl-validation include, change-notifications-lifecycle-events.md): the validation
handshake, clientState echoed, expiry limits, renewal, deletion, notifications on create,
update and delete, lifecycle notifications, silent expiry and the 3-second budget.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hiresync.providers.microsoft import AppTokenProvider, GraphClient
from hiresync.providers.microsoft.client import events_resource
from hiresync.providers.microsoft.notifications import parse_notifications
from hiresync.providers.microsoft.parse import parse_subscription
from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from hiresync.sandbox.microsoft.model import User
from tests.contract.conftest import replace_limits
from tests.contract.graph_spec import (
    validate_entity,
    validate_request_body,
    validate_response,
)
from tests.servers import serve_in_thread

GRAPH = "/graph/v1.0"
STATE = "hiresync-client-state-7f3a"
_numbers = itertools.count(1)


@dataclass
class Receiver:
    """A notification endpoint: answers validations per ``modes[path]`` (correct, wrong,
    slow, status, json) and notifications with ``statuses`` (then 202), those to ``/hook``
    after ``delay`` (lifecycle ones at once)."""

    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    validations: list[tuple[str, str, str]] = field(default_factory=list)  # path, token, type
    modes: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0

    def reset(self) -> None:
        self.posts.clear()
        self.validations.clear()
        self.modes.clear()
        self.statuses.clear()
        self.delay = 0.0

    def notifications(self, path: str = "/hook") -> list[dict[str, Any]]:
        return [n for p, _, body in self.posts if p == path for n in json.loads(body)["value"]]

    async def endpoint(self, request: Request) -> Response:
        path = request.url.path
        token = request.query_params.get("validationToken")
        if token is not None:
            self.validations.append((path, token, request.headers.get("content-type", "")))
            return await self._validate(path, token)
        self.posts.append((path, dict(request.headers), await request.body()))
        if path == "/hook":
            await asyncio.sleep(self.delay)
        return Response(status_code=self.statuses.pop(0) if self.statuses else 202)

    async def _validate(self, path: str, token: str) -> Response:
        mode = self.modes.get(path, "correct")
        if mode == "slow":
            await asyncio.sleep(1.5)
        if mode == "status":
            return PlainTextResponse(token, status_code=202)
        if mode == "wrong":
            return PlainTextResponse(token.upper())
        if mode == "json":
            return Response(json.dumps(token), media_type="application/json")
        return PlainTextResponse(token)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = Starlette(routes=[Route("/{path:path}", hook.endpoint, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield hook, url


@pytest.fixture
def hook(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, receiver: tuple[Receiver, str]
) -> Iterator[Receiver]:
    """The receiver, reset; deliveries manual; no subscription left behind."""
    endpoint, _ = receiver
    endpoint.reset()
    replace_limits(ms_sandbox, notification_delivery="manual")
    yield endpoint
    ms_sandbox.subscriptions.items.clear()
    ms_sandbox.notifications.deliveries.clear()
    ms_sandbox.notifications.health.clear()


@pytest.fixture
def base(receiver: tuple[Receiver, str]) -> str:
    return receiver[1]


@pytest.fixture
def mailbox(ms_sandbox: MicrosoftSandbox) -> User:
    number = next(_numbers)
    return ms_sandbox.add_user(
        "contoso.com", display_name=f"Sub Scriber{number}", mail=f"subscriber{number}@contoso.com"
    )


def soon(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def graph(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A Graph call whose body and answer are validated against the specs."""
    if "json" in kwargs:
        validate_request_body(method, path, kwargs["json"])
    response = http.request(method, GRAPH + path, **kwargs)
    body = response.json() if response.content else None
    validate_response(method, GRAPH + path, response.status_code, body)
    if response.status_code in (200, 201) and method != "DELETE" and path != "/subscriptions":
        validate_entity("subscription", {k: v for k, v in body.items() if k != "@odata.context"})
    return response


def subscribe(
    http: httpx.Client, base: str, user: User, *, lifecycle: bool = True, **changes: Any
) -> httpx.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{base}/hook",
        "resource": f"users/{user.id}/events",
        "expirationDateTime": soon(),
        "clientState": STATE,
    }
    if lifecycle:
        body["lifecycleNotificationUrl"] = f"{base}/lifecycle"
    return graph(http, "POST", "/subscriptions", json=body | changes)


def check_notification(item: dict[str, Any]) -> None:
    """A changeNotification per the types file (resourceData is an open type)."""
    validate_entity("changeNotification", {k: v for k, v in item.items() if k != "resourceData"})
    if "resourceData" in item:
        validate_entity("resourceData", item["resourceData"], strict=False)


def interview(user: User, hour: int = 10) -> dict[str, Any]:
    return {
        "subject": "Interview",
        "start": {"dateTime": f"2026-04-01T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-04-01T{hour:02d}:45:00", "timeZone": "UTC"},
    }


# -- the validation handshake -----------------------------------------------------------------------


def test_the_handshake_posts_a_token_and_expects_it_back_as_plain_text(
    ms_graph: httpx.Client, hook: Receiver, base: str, mailbox: User
) -> None:
    response = subscribe(ms_graph, base, mailbox)
    assert response.status_code == 201, response.text
    sub = response.json()
    assert sub["clientState"] == STATE and sub["resource"] == f"users/{mailbox.id}/events"
    assert sub["changeType"] == "created,updated,deleted" and sub["applicationId"]
    assert sub["lifecycleNotificationUrl"] == f"{base}/lifecycle"
    assert [v[0] for v in hook.validations] == ["/hook", "/lifecycle"]  # both URLs are validated
    _, token, content_type = hook.validations[0]
    assert token.startswith("Validation: Testing client application reachability")
    assert content_type.startswith("text/plain")


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong", "Response must exactly match validationToken query parameter."),
        ("json", "Response must exactly match validationToken query parameter."),
        ("status", "Notification endpoint must respond with 200 OK to validation request."),
        ("slow", "Subscription validation request timed out."),
    ],
)
def test_a_failed_handshake_creates_nothing(
    ms_graph: httpx.Client,
    ms_sandbox: MicrosoftSandbox,
    hook: Receiver,
    base: str,
    mailbox: User,
    mode: str,
    message: str,
) -> None:
    replace_limits(ms_sandbox, validation_timeout=1.0, notification_delivery="manual")
    hook.modes["/hook"] = mode
    response = subscribe(ms_graph, base, mailbox)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ValidationError" and error["message"].endswith(message)
    assert not ms_sandbox.list_subscriptions(CONTOSO_ID)


def test_the_lifecycle_url_must_pass_the_handshake_too(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    hook.modes["/lifecycle"] = "wrong"
    assert subscribe(ms_graph, base, mailbox).status_code == 400
    unreachable = subscribe(ms_graph, base, mailbox, notificationUrl="http://127.0.0.1:9/none")
    assert unreachable.status_code == 400
    assert not ms_sandbox.list_subscriptions(CONTOSO_ID)


def test_notification_urls_must_be_https_except_the_loopback_concession(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    assert (
        subscribe(ms_graph, base, mailbox, notificationUrl="http://example.com/hook").status_code
        == 400
    )
    replace_limits(ms_sandbox, http_notification_urls="never", notification_delivery="manual")
    refused = subscribe(ms_graph, base, mailbox)  # Graph's own rule: https only
    assert refused.status_code == 400 and "https" in refused.json()["error"]["message"]
    assert not hook.validations  # refused before any handshake


def test_bad_bodies_are_refused(
    ms_graph: httpx.Client, hook: Receiver, base: str, mailbox: User
) -> None:
    cases = {
        "changeType": "created,moved",
        "clientState": "x" * 129,
        "resource": f"users/{mailbox.id}/messages",
    }
    for key, value in cases.items():
        response = subscribe(ms_graph, base, mailbox, **{key: value})
        assert response.status_code == 400, key
    missing = ms_graph.post(
        f"{GRAPH}/subscriptions",
        json={
            "changeType": "created",
            "notificationUrl": f"{base}/hook",
            "resource": "users/x/events",
        },
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == (
        "expirationDateTime is a required property for subscription creation."
    )
    nobody = subscribe(ms_graph, base, mailbox, resource="users/nobody@contoso.com/events")
    assert nobody.status_code == 404


# -- expiry, renewal, listing, deletion -------------------------------------------------------------


def test_expiry_is_capped_at_10080_minutes_and_raised_to_45(
    ms_graph: httpx.Client, hook: Receiver, base: str, mailbox: User
) -> None:
    too_far = subscribe(ms_graph, base, mailbox, expirationDateTime=soon(10080 + 5))
    assert too_far.status_code == 400
    assert too_far.json()["error"] == too_far.json()["error"] | {
        "code": "ExtensionError",
        "message": "Subscription expiration can only be 10080 minutes in the future.",
    }
    short = subscribe(ms_graph, base, mailbox, expirationDateTime=soon(5)).json()
    expires = datetime.fromisoformat(short["expirationDateTime"].replace("0Z", "+00:00"))
    assert timedelta(minutes=44) < expires - datetime.now(UTC) <= timedelta(minutes=45)


def test_renewal_list_and_delete(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    sub = subscribe(ms_graph, base, mailbox).json()
    renewed = graph(
        ms_graph,
        "PATCH",
        f"/subscriptions/{sub['id']}",
        json={"expirationDateTime": soon(3 * 24 * 60)},
    )
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    too_far = graph(
        ms_graph, "PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": soon(20000)}
    )
    assert too_far.status_code == 400
    listed = graph(ms_graph, "GET", "/subscriptions").json()["value"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert graph(ms_graph, "GET", f"/subscriptions/{sub['id']}").json()["id"] == sub["id"]
    assert graph(ms_graph, "DELETE", f"/subscriptions/{sub['id']}").status_code == 204
    assert graph(ms_graph, "GET", f"/subscriptions/{sub['id']}").status_code == 404
    assert graph(ms_graph, "DELETE", f"/subscriptions/{sub['id']}").status_code == 404
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="x",
        start=datetime(2026, 4, 1, 9, tzinfo=UTC),
        end=datetime(2026, 4, 1, 10, tzinfo=UTC),
    )
    assert not ms_sandbox.deliver_notifications()  # a deleted subscription hears nothing


# -- change notifications ---------------------------------------------------------------------------


def test_graph_writes_notify_created_updated_deleted_with_the_client_state(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    sub = subscribe(ms_graph, base, mailbox).json()
    event = ms_graph.post(f"{GRAPH}/users/{mailbox.id}/events", json=interview(mailbox)).json()
    ms_graph.patch(f"{GRAPH}/users/{mailbox.id}/events/{event['id']}", json={"subject": "Moved"})
    ms_graph.delete(f"{GRAPH}/users/{mailbox.id}/events/{event['id']}")
    delivered = ms_sandbox.deliver_notifications()
    assert [d.status for d in delivered] == ["delivered"]  # batched into one POST
    _, headers, _ = hook.posts[-1]
    assert headers["content-type"].startswith("application/json")
    items = hook.notifications()
    assert [n["changeType"] for n in items] == ["created", "updated", "deleted"]
    for item in items:
        check_notification(item)
        assert item["subscriptionId"] == sub["id"] and item["clientState"] == STATE
        assert item["tenantId"] == CONTOSO_ID
        assert item["resource"] == f"Users/{mailbox.id}/Events/{event['id']}"
        assert item["resourceData"]["id"] == event["id"]
        assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert item["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert items[0]["resourceData"]["@odata.etag"].startswith('W/"')
    assert "@odata.etag" not in items[2]["resourceData"]
    batch = parse_notifications(hook.posts[-1][2], {sub["id"]: STATE})  # our parser agrees
    assert batch.all_verified and [c.change_type for c in batch.changes] == [
        "created",
        "updated",
        "deleted",
    ]


def test_edits_made_in_outlook_and_attendee_copies_notify(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    organizer = ms_sandbox.add_user(
        "contoso.com", display_name="Org", mail=f"org{next(_numbers)}@contoso.com"
    )
    sub = subscribe(ms_graph, base, mailbox, changeType="created,deleted").json()
    meeting = ms_sandbox.create_event_as_user(
        CONTOSO_ID,
        organizer.id,
        interview(organizer) | {"attendees": [{"emailAddress": {"address": mailbox.mail}}]},
    )
    ms_sandbox.update_event_as_user(CONTOSO_ID, organizer.id, meeting.id, {"subject": "Panel"})
    mine = ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="Dentist",
        start=datetime(2026, 4, 2, 9, tzinfo=UTC),
        end=datetime(2026, 4, 2, 10, tzinfo=UTC),
    )
    ms_sandbox.delete_event_as_user(CONTOSO_ID, mailbox.id, mine.id)
    ms_sandbox.deliver_notifications()
    items = hook.notifications()
    assert [n["changeType"] for n in items] == ["created", "created", "deleted"]  # no "updated"
    assert {n["subscriptionId"] for n in items} == {sub["id"]}
    assert items[2]["resourceData"]["id"] == mine.id


def test_deliveries_retry_on_failure_and_count_slow_answers(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    replace_limits(
        ms_sandbox,
        notification_delivery="manual",
        notification_timeout=0.6,
        notification_slow_after=0.2,
        notification_retry_delays=(0.01, 0.01),
    )
    subscribe(ms_graph, base, mailbox)
    hook.statuses[:] = [500, 503]
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="a",
        start=datetime(2026, 4, 1, 9, tzinfo=UTC),
        end=datetime(2026, 4, 1, 10, tzinfo=UTC),
    )
    (delivery,) = ms_sandbox.deliver_notifications(force=True)
    assert delivery.status == "delivered" and [a.status for a in delivery.attempts] == [
        500,
        503,
        202,
    ]
    hook.delay = 0.3  # answered, but over the "slow" threshold
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="b",
        start=datetime(2026, 4, 1, 11, tzinfo=UTC),
        end=datetime(2026, 4, 1, 12, tzinfo=UTC),
    )
    (slow,) = ms_sandbox.deliver_notifications(force=True)
    assert slow.status == "delivered" and slow.attempts[-1].slow
    stats = ms_graph.get("/_control/stats").json()["notifications"]
    assert stats["failed_attempts"] == 2 and stats["slow"] >= 1 and stats["delivered"] == 2


def test_over_the_budget_is_a_failure_and_a_dropped_notification_sends_missed(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    replace_limits(
        ms_sandbox,
        notification_delivery="manual",
        notification_timeout=0.3,
        notification_retry_delays=(0.01,),
    )
    sub = subscribe(ms_graph, base, mailbox).json()
    hook.delay = 0.6
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="a",
        start=datetime(2026, 4, 1, 9, tzinfo=UTC),
        end=datetime(2026, 4, 1, 10, tzinfo=UTC),
    )
    sent = ms_sandbox.deliver_notifications(force=True)
    change = next(d for d in sent if d.kind == "change")
    assert change.status == "dropped" and len(change.attempts) == 2
    assert all(a.status is None and a.slow for a in change.attempts)
    (missed,) = hook.notifications("/lifecycle")
    assert missed["lifecycleEvent"] == "missed" and missed["clientState"] == STATE
    validate_entity("changeNotification", missed)
    assert missed["subscriptionId"] == sub["id"]


def test_a_slow_endpoint_is_throttled_then_dropped(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    replace_limits(
        ms_sandbox,
        notification_delivery="manual",
        notification_slow_after=0.1,
        slow_endpoint_min_samples=2,
        slow_endpoint_throttle_percent=10.0,
        slow_endpoint_drop_percent=60.0,
        notification_batch_size=1,
    )
    subscribe(ms_graph, base, mailbox, lifecycle=False)
    hook.delay = 0.15
    for hour in (8, 9):
        ms_sandbox.add_event(
            CONTOSO_ID,
            mailbox.id,
            subject="s",
            start=datetime(2026, 4, 1, hour, tzinfo=UTC),
            end=datetime(2026, 4, 1, hour, 30, tzinfo=UTC),
        )
        ms_sandbox.deliver_notifications()
    hook.delay = 0.0
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="t",
        start=datetime(2026, 4, 1, 11, tzinfo=UTC),
        end=datetime(2026, 4, 1, 12, tzinfo=UTC),
    )
    dropped = ms_sandbox.notification_deliveries(kind="change")[-1]
    assert dropped.status == "dropped"  # 100 % slow ≥ 60 %: not even queued for later


def test_background_delivery_needs_no_call(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    replace_limits(ms_sandbox, notification_delivery="background")
    subscribe(ms_graph, base, mailbox)
    ms_graph.post(f"{GRAPH}/users/{mailbox.id}/events", json=interview(mailbox))
    deadline = time.monotonic() + 5
    while not hook.notifications() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [n["changeType"] for n in hook.notifications()] == ["created"]


# -- lifecycle and silent expiry --------------------------------------------------------------------


def test_reauthorization_required_pauses_delivery_until_reauthorize(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    replace_limits(ms_sandbox, notification_delivery="manual", reauthorization_grace=0.0)
    sub = subscribe(ms_graph, base, mailbox).json()
    response = ms_graph.post(
        f"/_control/subscriptions/{sub['id']}/lifecycle", json={"event": "reauthorizationRequired"}
    )
    assert response.json() == {"sent": True}
    time.sleep(0.01)
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="lost",
        start=datetime(2026, 4, 1, 9, tzinfo=UTC),
        end=datetime(2026, 4, 1, 10, tzinfo=UTC),
    )
    ms_sandbox.deliver_notifications()
    (challenge,) = hook.notifications("/lifecycle")
    assert challenge["lifecycleEvent"] == "reauthorizationRequired"
    assert not hook.notifications("/hook")  # paused: that change is lost (delta finds it)
    reauthorized = ms_graph.post(f"{GRAPH}/subscriptions/{sub['id']}/reauthorize")
    assert reauthorized.status_code == 204
    ms_sandbox.add_event(
        CONTOSO_ID,
        mailbox.id,
        subject="seen",
        start=datetime(2026, 4, 1, 11, tzinfo=UTC),
        end=datetime(2026, 4, 1, 12, tzinfo=UTC),
    )
    ms_sandbox.deliver_notifications()
    assert [n["changeType"] for n in hook.notifications("/hook")] == ["created"]


def test_revoked_consent_asks_for_reauthorization(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    subscribe(ms_graph, base, mailbox)
    ms_sandbox.revoke_consent(CONTOSO_ID, ms_sandbox.demo_client_id)
    ms_sandbox.deliver_notifications()
    assert [n["lifecycleEvent"] for n in hook.notifications("/lifecycle")] == [
        "reauthorizationRequired"
    ]


def test_subscription_removed_deletes_it_and_missed_keeps_it(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    kept = subscribe(ms_graph, base, mailbox).json()
    removed = subscribe(ms_graph, base, mailbox).json()
    without = subscribe(ms_graph, base, mailbox, lifecycle=False).json()
    assert ms_sandbox.emit_lifecycle(kept["id"], "missed") is True
    assert ms_sandbox.emit_lifecycle(removed["id"], "subscriptionRemoved") is True
    assert ms_sandbox.emit_lifecycle(without["id"], "missed") is False  # no lifecycle URL
    ms_sandbox.deliver_notifications()
    events = {(n["subscriptionId"], n["lifecycleEvent"]) for n in hook.notifications("/lifecycle")}
    assert events == {(kept["id"], "missed"), (removed["id"], "subscriptionRemoved")}
    for item in hook.notifications("/lifecycle"):
        validate_entity("changeNotification", item)
    assert graph(ms_graph, "GET", f"/subscriptions/{removed['id']}").status_code == 404
    assert graph(ms_graph, "GET", f"/subscriptions/{kept['id']}").status_code == 200


@pytest.mark.parametrize("keep_listed", [False, True])
def test_a_silently_expired_subscription_stops_without_a_word(
    ms_graph: httpx.Client,
    ms_sandbox: MicrosoftSandbox,
    hook: Receiver,
    base: str,
    mailbox: User,
    keep_listed: bool,
) -> None:
    sub = subscribe(ms_graph, base, mailbox).json()
    response = ms_graph.post(
        f"/_control/subscriptions/{sub['id']}/expire-silently", json={"keepListed": keep_listed}
    )
    assert response.status_code == 200
    ms_graph.post(f"{GRAPH}/users/{mailbox.id}/events", json=interview(mailbox))
    ms_sandbox.deliver_notifications(force=True)
    assert not hook.posts  # no change notification, no lifecycle event
    listed = graph(ms_graph, "GET", f"/subscriptions/{sub['id']}").status_code
    assert listed == (200 if keep_listed else 404)


def test_an_expired_subscription_is_gone(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    sub = subscribe(ms_graph, base, mailbox).json()
    ms_sandbox.subscriptions.items[sub["id"]].expires = datetime.now(UTC) - timedelta(seconds=1)
    assert graph(ms_graph, "GET", f"/subscriptions/{sub['id']}").status_code == 404
    assert sub["id"] not in [s["id"] for s in ms_graph.get("/_control/subscriptions").json()]


def test_control_api_lists_and_delivers(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, hook: Receiver, base: str, mailbox: User
) -> None:
    sub = subscribe(ms_graph, base, mailbox).json()
    ms_graph.post(f"{GRAPH}/users/{mailbox.id}/events", json=interview(mailbox))
    (summary,) = ms_graph.get("/_control/subscriptions", params={"tenant": "contoso.com"}).json()
    assert summary["id"] == sub["id"] and summary["state"] == "active"
    sent = ms_graph.post("/_control/notifications/deliver", json={}).json()
    assert [d["status"] for d in sent] == ["delivered"]
    log = ms_graph.get("/_control/notifications", params={"subscriptionId": sub["id"]}).json()
    assert log[0]["body"]["value"][0]["changeType"] == "created"


async def test_our_client_manages_a_subscription_end_to_end(
    ms_sandbox: MicrosoftSandbox, ms_base_url: str, hook: Receiver, base: str, mailbox: User
) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    tokens = AppTokenProvider(
        login_url=ms_base_url,
        tenant_id=CONTOSO_ID,
        client_id=ms_sandbox.demo_client_id,
        client_secret=ms_sandbox.demo_client_secret,
    )
    client = GraphClient(
        graph_url=ms_base_url + "/graph", get_token=tokens, event_hooks={"request": [record]}
    )
    try:
        wire = await client.create_subscription(
            events_resource(mailbox.id),
            f"{base}/hook",
            expiration=datetime.now(UTC) + timedelta(days=2),
            client_state=STATE,
            lifecycle_url=f"{base}/lifecycle",
        )
        created = parse_subscription(wire)
        assert created.client_state == STATE and created.lifecycle_url == f"{base}/lifecycle"
        later = datetime.now(UTC) + timedelta(days=6)
        renewed = parse_subscription(await client.renew_subscription(created.id, later))
        assert abs((renewed.expires - later).total_seconds()) < 1
        assert [s["id"] for s in await client.list_subscriptions()] == [created.id]
        await client.reauthorize_subscription(created.id)
        assert await client.delete_subscription(created.id) is True
        assert await client.delete_subscription(created.id) is False
    finally:
        await client.aclose()
        tokens.close()
    for request in sent:
        if request.content and "/subscriptions" in request.url.path:
            body = json.loads(request.content)
            if not request.url.path.endswith("reauthorize"):
                validate_request_body(request.method, request.url.path, body)
