"""Inbound Zoom webhooks: verified, never replayed, then acted on in one transaction.

Zoom signs each call: ``x-zm-signature`` = ``v0=`` + hex HMAC-SHA256(secret token,
``v0:{x-zm-request-timestamp}:{raw body}``). A call is accepted only when

1. the signature matches (compared in constant time) — else 401 ``bad_signature``;
2. its timestamp is within five minutes of our clock — else 401 ``stale_timestamp``
   (400 ``malformed_timestamp`` when it is not a number);
3. its signature was not seen before within that window — else 401 ``replayed``. Seen
   signatures are rows (unique), so several server processes agree; rows older than
   twice the window, which no fresh timestamp can match any more, are pruned;
4. its body is a JSON object with an ``event`` — else 400 ``malformed_body``.

The signature is remembered in the same transaction as the event's effect, so a call that
fails midway leaves nothing behind, and Zoom's retry (re-signed, so not a replay) works.
Every answer is quick and JSON; nothing here makes a network call (e-mails are sent after
the answer, by the route's background task), so Zoom's three seconds are kept.

Events: ``endpoint.url_validation`` (the challenge), ``app_deauthorized`` (the connection
is removed and that user's Zoom data deleted), ``meeting.updated``/``meeting.deleted``
(recorded in ``meeting_events`` and applied to their interviews by the
``apply_meeting_events`` job queued with them: see services.meeting_push),
``app.authorization_request_created`` (see services.preapproval); others are logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.runtime import Runtime
from hiresync.services import meeting_accounts, meeting_push, preapproval
from hiresync.services.errors import ServiceError
from hiresync.store.tables import InboundWebhookSignature, MeetingAccount, MeetingEvent

log = structlog.get_logger(__name__)
PROVIDER = "zoom"
WINDOW = timedelta(minutes=5)
MAX_BODY = 256 * 1024
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Rejected(ServiceError):
    """Not a genuine, fresh call from Zoom."""

    status = 401
    code = "bad_signature"


class Malformed(ServiceError):
    status = 400
    code = "malformed_body"


class NotConfigured(ServiceError):
    status = 503
    code = "zoom_webhooks_not_configured"


def _rejected(code: str, message: str) -> Rejected:
    error = Rejected(message)
    error.code = code
    return error


def _malformed(code: str, message: str) -> Malformed:
    error = Malformed(message)
    error.code = code
    return error


def too_large() -> Malformed:
    return _malformed("too_large", f"The body is larger than any Zoom event ({MAX_BODY} bytes).")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """The call's signature, once it is genuine and fresh; raises Rejected/Malformed."""
    timestamp = headers.get("x-zm-request-timestamp") or ""
    signature = headers.get("x-zm-signature") or ""
    if not timestamp or not signature:
        raise _rejected(
            "missing_signature", "x-zm-signature and x-zm-request-timestamp are required."
        )
    if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(
        sign(secret, timestamp, body), signature
    ):
        raise _rejected("bad_signature", "The signature does not match the body.")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise _malformed("malformed_timestamp", "x-zm-request-timestamp must be in seconds.")
    if abs(now.timestamp() - int(timestamp)) > WINDOW.total_seconds():
        raise _rejected("stale_timestamp", "The timestamp is more than five minutes away.")
    return signature


def parse(body: bytes) -> tuple[str, dict[str, Any], Any]:
    """(event, payload, event_ts) of a verified body; raises Malformed."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _malformed("malformed_body", "The body is not JSON.") from exc
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise _malformed("malformed_body", "The body has no event.")
    payload = message.get("payload", {})
    if not isinstance(payload, dict):
        raise _malformed("malformed_body", "The payload is not an object.")
    return message["event"], payload, message.get("event_ts")


@dataclass
class Answer:
    body: dict[str, Any]
    notifications: list[uuid.UUID] = field(default_factory=list)


async def receive(runtime: Runtime, headers: Mapping[str, str], body: bytes) -> Answer:
    """Verify, remember and act on one call (see the module docstring)."""
    secret = runtime.settings.zoom_webhook_secret
    if not secret:
        raise NotConfigured("Zoom webhooks are not set up on this server.")
    if len(body) > MAX_BODY:
        raise too_large()
    try:
        signature = verify(secret, headers, body, datetime.now(UTC))
        event, payload, event_ts = parse(body)
    except ServiceError as exc:
        log.warning("zoom_webhook.rejected", reason=exc.code)
        raise
    async with runtime.db.transaction() as session:
        if not await _remember(session, signature):
            log.warning("zoom_webhook.rejected", reason="replayed", zoom_event=event)
            raise _rejected("replayed", "This call was already received.")
        answer = await _dispatch(runtime, session, event, payload, body, event_ts)
    return answer


async def _remember(session: AsyncSession, signature: str) -> bool:
    """Record the signature; False when it was seen already (a replay)."""
    await session.execute(
        delete(InboundWebhookSignature).where(
            InboundWebhookSignature.received_at < func.now() - 2 * WINDOW
        )
    )
    stored = await session.scalar(
        insert(InboundWebhookSignature)
        .values(id=uuid.uuid4(), provider=PROVIDER, signature=signature)
        .on_conflict_do_nothing(constraint="uq_inbound_webhook_signatures_sig")
        .returning(InboundWebhookSignature.id)
    )
    return stored is not None


async def _dispatch(
    runtime: Runtime,
    session: AsyncSession,
    event: str,
    payload: dict[str, Any],
    body: bytes,
    event_ts: Any,
) -> Answer:
    if event == "endpoint.url_validation":
        return _validation(runtime.settings.zoom_webhook_secret, payload)
    if event == "app_deauthorized":
        return await _deauthorized(runtime, session, payload)
    if event in ("meeting.updated", "meeting.deleted"):
        answer = await _meeting_event(session, event, payload, body, event_ts)
        await meeting_push.queue_events(runtime, session)  # the consumer, with the event
        return answer
    if event == "app.authorization_request_created":
        ids = await preapproval.record_from_zoom(runtime, session, payload)
        return Answer({"received": event}, ids)
    log.info("zoom_webhook.ignored", zoom_event=event)
    return Answer({"received": event, "ignored": True})


def _validation(secret: str, payload: dict[str, Any]) -> Answer:
    plain = payload.get("plainToken")
    if not isinstance(plain, str) or not 0 < len(plain) <= 256:
        raise _malformed("malformed_body", "endpoint.url_validation needs payload.plainToken.")
    encrypted = hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
    log.info("zoom_webhook.url_validation")
    return Answer({"plainToken": plain, "encryptedToken": encrypted})


async def _deauthorized(runtime: Runtime, session: AsyncSession, payload: dict[str, Any]) -> Answer:
    user_id = payload.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise _malformed("malformed_body", "app_deauthorized needs payload.user_id.")
    client_id = payload.get("client_id")
    if client_id and client_id != runtime.settings.zoom_client_id:
        log.info("zoom_webhook.ignored", zoom_event="app_deauthorized", reason="another app")
        return Answer({"received": "app_deauthorized", "ignored": True})
    when = _instant(payload.get("deauthorization_time"))
    ids = await meeting_accounts.deauthorized(runtime, session, PROVIDER, user_id, when)
    await session.execute(delete(MeetingEvent).where(MeetingEvent.external_user_id == user_id))
    log.info("zoom_webhook.deauthorized", zoom_user=user_id, connections=len(ids))
    return Answer({"received": "app_deauthorized"}, ids)


async def _meeting_event(
    session: AsyncSession, event: str, payload: dict[str, Any], body: bytes, event_ts: Any
) -> Answer:
    meeting = payload.get("object")
    meeting_id = meeting.get("id") if isinstance(meeting, dict) else None
    if not isinstance(meeting_id, int | str) or isinstance(meeting_id, bool) or not meeting_id:
        raise _malformed("malformed_body", f"{event} needs payload.object.id.")
    assert isinstance(meeting, dict)
    people = [str(v)[:100] for v in (meeting.get("host_id"), payload.get("operator_id")) if v]
    account = (
        await session.scalar(
            select(MeetingAccount).where(
                MeetingAccount.provider == PROVIDER,
                MeetingAccount.status != "disconnected",
                MeetingAccount.external_user_id.in_(people),
            )
        )
        if people
        else None
    )
    await session.execute(
        insert(MeetingEvent)
        .values(
            id=uuid.uuid4(),
            organization_id=account.organization_id if account else None,
            provider=PROVIDER,
            event=event,
            meeting_id=str(meeting_id)[:100],
            external_user_id=account.external_user_id if account else next(iter(people), None),
            payload=payload,
            event_at=_moment(event_ts),
            body_hash=hashlib.sha256(body).hexdigest(),
        )
        .on_conflict_do_nothing(constraint="uq_meeting_events_body_hash")
    )
    log.info("zoom_webhook.meeting_event", zoom_event=event, meeting=str(meeting_id))
    return Answer({"received": event})


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 time (``2020-06-17T13:52:28.632Z``) as an aware datetime, if it is one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(event_ts: Any) -> datetime | None:
    """Zoom's ``event_ts`` (milliseconds) as a time, when it is one."""
    if isinstance(event_ts, bool) or not isinstance(event_ts, int | float):
        return None
    try:
        return datetime.fromtimestamp(event_ts / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
