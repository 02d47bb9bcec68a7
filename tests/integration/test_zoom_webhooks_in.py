"""Zoom's webhooks into hiresync: only genuine, fresh, first-time calls are acted on (forged,
tampered, stale and replayed ones get a 4xx that says why, and change nothing); Zoom's
endpoint validation passes; removing the app in Zoom removes the connection and that user's
Zoom data; meeting changes made in Zoom are recorded for the interviews."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from hiresync.providers.base import MeetingRequest
from hiresync.runtime import Runtime
from hiresync.sandbox.zoom import DEMO_CLIENT_ID, DEMO_WEBHOOK_SECRET
from hiresync.services import meeting_accounts, team
from hiresync.services.zoom_webhooks import sign
from hiresync.store.db import Database
from hiresync.store.tables import MeetingAccount, MeetingEvent, Notification, PreapprovalRequest
from tests.conftest import Stack
from tests.integration.test_meeting_accounts import (
    account_of,
    connect_zoom,
    logged_in,
    new_zoom_user,
    page_text,
)


def post(
    stack: Stack,
    body: dict[str, Any] | bytes,
    *,
    secret: str = DEMO_WEBHOOK_SECRET,
    timestamp: int | None = None,
    tamper: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A call as Zoom makes it: compact JSON, signed over the exact bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signed = {
        "content-type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": sign(secret, stamp, raw),
    }
    if tamper:
        raw = raw.replace(b'"user_id":"', b'"user_id":"x', 1) + b" "
    return httpx.post(
        f"{stack.url}/webhooks/zoom", content=raw, headers=headers or signed, timeout=10
    )


def deauthorization(zoom_user: Any) -> dict[str, Any]:
    return {
        "event": "app_deauthorized",
        "payload": {
            "account_id": zoom_user.account_id,
            "user_id": zoom_user.id,
            "signature": uuid.uuid4().hex,
            "deauthorization_time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "client_id": DEMO_CLIENT_ID,
            "event_ts": int(time.time() * 1000),
        },
    }


def meeting_updated(meeting_id: int) -> dict[str, Any]:
    return {
        "event": "meeting.updated",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": "acct",
            "operator": "someone@example.com",
            "operator_id": "nobody",
            "operation": "all",
            "object": {"id": meeting_id, "uuid": "u", "topic": "Renamed"},
            "old_object": {"id": meeting_id, "uuid": "u", "topic": "Old"},
            "time_stamp": int(time.time() * 1000),
        },
    }


async def events_for(db: Database, meeting_id: str) -> list[MeetingEvent]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(MeetingEvent)
                .where(MeetingEvent.meeting_id == meeting_id)
                .order_by(MeetingEvent.received_at)
            )
        )


def test_zoom_validates_our_endpoint(stack: Stack) -> None:
    assert stack.zoom is not None
    result = stack.zoom.validate_endpoint()
    assert result.passed, result.detail


async def test_forged_tampered_stale_and_replayed_calls_change_nothing(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    assert stack.zoom is not None
    host = new_zoom_user(stack.zoom)
    assert connect_zoom(logged_in(stack, org.admin_email, org.password), host.id).status_code == 303
    removal = deauthorization(host)

    answers = {
        "bad_signature": [
            post(stack, removal, tamper=True),
            post(stack, removal, secret="not-the-secret"),
        ],
        "stale_timestamp": [post(stack, removal, timestamp=int(time.time()) - 6 * 60)],
        "missing_signature": [post(stack, removal, headers={"content-type": "application/json"})],
    }
    for code, got in answers.items():
        for answer in got:
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == code
    row = await account_of(db, org.admin_email, org)
    assert row is not None and row.status == "active" and row.access_sealed

    # Replay: the same signed call twice. The first is recorded, the second refused.
    meeting_id = 80_000_000_000 + int(time.time()) % 10**9
    stamp = int(time.time())
    first = post(stack, meeting_updated(meeting_id), timestamp=stamp)
    assert first.status_code == 200 and first.json() == {"received": "meeting.updated"}
    replayed = httpx.post(
        f"{stack.url}/webhooks/zoom",
        content=first.request.content,
        headers=dict(first.request.headers),
    )
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "replayed"
    assert len(await events_for(db, str(meeting_id))) == 1


def test_malformed_calls_get_a_400_never_a_500(stack: Stack) -> None:
    stamp = str(int(time.time()))
    not_json = b"{not json"
    answers = [
        post(stack, not_json),
        post(stack, b'["no", "event"]'),
        post(stack, {"event": "meeting.deleted", "payload": {"object": {}}}),
        post(stack, {"event": "endpoint.url_validation", "payload": {}}),
        post(stack, {"event": "app_deauthorized", "payload": {"user_id": 7}}),
        httpx.post(
            f"{stack.url}/webhooks/zoom",
            content=not_json,
            headers={
                "x-zm-request-timestamp": "soon",
                "x-zm-signature": sign(DEMO_WEBHOOK_SECRET, "soon", not_json),
            },
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] in ("malformed_body", "malformed_timestamp")
    assert answers[-1].json()["error"]["code"] == "malformed_timestamp"
    huge = post(stack, b"{" + b" " * (300 * 1024) + b"}")
    assert huge.status_code == 400 and huge.json()["error"]["code"] == "too_large"
    garbage = httpx.post(
        f"{stack.url}/webhooks/zoom",
        content=b"x",
        headers={"x-zm-request-timestamp": stamp, "x-zm-signature": "v0=zz"},
    )
    assert garbage.status_code == 401 and garbage.json()["error"]["code"] == "bad_signature"


async def test_removing_the_app_in_zoom_removes_the_connection_and_its_data(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    assert connect_zoom(browser, host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None

    zoom.deauthorize(host)
    sent = [d for d in zoom.deliver_webhooks(force=True) if host.id.encode() in d.body]
    assert [d.event for d in sent] == ["app_deauthorized"]
    assert sent[0].status == "delivered" and sent[0].attempts[-1].status == 200

    gone = await account_of(db, org.admin_email, org)
    assert gone is not None and gone.status == "disconnected"
    assert gone.access_sealed is None and gone.refresh_sealed is None and gone.key_id is None
    assert gone.external_user_id is None and gone.email is None and gone.display_name is None
    async with db.sessions() as session:
        kinds = list(
            await session.scalars(
                select(Notification.kind).where(Notification.user_id == row.user_id)
            )
        )
    assert kinds == ["zoom_deauthorized"]
    shown = page_text(browser)
    assert "Not connected" in shown and "hiresync was removed from the Zoom account" in shown


async def test_meeting_changes_made_in_zoom_are_recorded(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    assert connect_zoom(logged_in(stack, org.admin_email, org.password), host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    made = await (
        runtime.meeting_accounts["zoom"]
        .meetings(meeting_accounts.token_getter(runtime, row.id))
        .create(
            MeetingRequest(
                f"hs-{uuid.uuid4()}", "Interview", start, start + timedelta(hours=1), "UTC"
            )
        )
    )
    zoom.update_meeting_in_zoom(made.meeting_id, start_time=start + timedelta(hours=2))
    zoom.delete_meeting_in_zoom(made.meeting_id)
    zoom.deliver_webhooks(force=True)
    events = await events_for(db, made.meeting_id)
    assert [e.event for e in events][-2:] == ["meeting.updated", "meeting.deleted"]
    assert {e.organization_id for e in events} == {org.id}
    assert events[-1].payload["object"]["host_id"] == host.id
    # Zoom's retry of the same event (re-signed) is not recorded twice.
    delivered = next(
        d for d in zoom.deliveries(event="meeting.deleted") if made.meeting_id.encode() in d.body
    )
    again = post(stack, delivered.body, timestamp=int(time.time()) + 2)
    assert again.status_code == 200
    assert len(await events_for(db, made.meeting_id)) == len(events)


async def test_zoom_pre_approval_requests_are_recorded_when_they_name_a_team_member(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    example = {  # Zoom's documented example: it names no e-mail, so it cannot be matched
        "event": "app.authorization_request_created",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "app_name": "hiresync",
            "app_type": "User-managed OAuth App",
            "app_status": "published",
            "requester_name": "Jill Chill",
            "request_reason": "I need to install this app.",
        },
    }
    assert post(stack, example).status_code == 200
    async with db.sessions() as session:
        admin = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
        assert admin is not None
        count = select(func.count()).select_from(PreapprovalRequest)
        before = await session.scalar(count.where(PreapprovalRequest.organization_id == org.id))
    assert before == 0

    named = example | {"payload": example["payload"] | {"requester_email": org.admin_email}}
    assert post(stack, named).status_code == 200
    async with db.sessions() as session:
        rows = list(
            await session.scalars(
                select(PreapprovalRequest).where(PreapprovalRequest.organization_id == org.id)
            )
        )
        notes = list(
            await session.scalars(select(Notification).where(Notification.user_id == admin.id))
        )
    assert [(r.user_id, r.status, r.source) for r in rows] == [(admin.id, "requested", "zoom")]
    assert [n.kind for n in notes] == ["zoom_preapproval_requested"]


async def test_an_unknown_zoom_user_is_answered_quickly_and_ignored(
    stack: Stack, db: Database
) -> None:
    started = time.monotonic()
    answer = post(stack, deauthorization(type("U", (), {"id": "nobody", "account_id": "a"})()))
    assert answer.status_code == 200 and time.monotonic() - started < 3
    async with db.sessions() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(MeetingAccount)
            .where(MeetingAccount.external_user_id == "nobody")
        )
    assert live == 0
