"""Webhooks out: the hiring platform's endpoints hear about every interview change.

Messages follow the Standard Webhooks specification (signed with the reference
``standardwebhooks`` library: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` headers, HMAC-SHA256 over ``id.timestamp.body``). A message is
written in the same transaction as the change it reports, with the job that delivers
it (transactional outbox), so a change is never reported without having happened, nor
happened without being reported. Failed deliveries are retried on the configured
schedule with the same ``webhook-id`` (receivers de-duplicate on it), then marked
failed; every attempt shows in the delivery log.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from hiresync.jobs.engine import defer_in_transaction
from hiresync.runtime import Runtime
from hiresync.services.errors import InvalidInput, NotFound
from hiresync.store.tables import WebhookDelivery, WebhookEndpoint

log = structlog.get_logger(__name__)

EVENT_TYPES = (
    "interview.created",
    "interview.confirmed",
    "interview.rescheduled",
    "interview.updated",  # an edit; its data lists the ``changed`` fields
    "interview.cancelled",
    "interview.calendar_synced",
    "interview.calendar_failed",
    "attendee.responded",
    "webhook.test",
)
MAX_ENDPOINTS = 20


@dataclass(frozen=True)
class NewEndpoint:
    url: str
    event_types: tuple[str, ...] = ()
    description: str | None = None


def secret_context(endpoint_id: uuid.UUID) -> str:
    """Where a signing secret is sealed: it opens only for its own endpoint."""
    return f"webhook:{endpoint_id}"


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(
            f"{url!r} is not an http(s) URL.",
            hint="Give the full address of your endpoint, like https://ats.example.com/hooks.",
            field="url",
        )
    return url.strip()


def check_types(types: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s): {', '.join(unknown)}.",
            hint=f"Known types: {', '.join(EVENT_TYPES)}; leave the list empty for all.",
            field="event_types",
        )
    return tuple(dict.fromkeys(types))


async def create_endpoint(
    runtime: Runtime, session: AsyncSession, org_id: uuid.UUID, new: NewEndpoint
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (``whsec_…``), kept sealed at rest."""
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == org_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise InvalidInput(
            f"An organization may have at most {MAX_ENDPOINTS} endpoints.", field="url"
        )
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        organization_id=org_id,
        url=check_url(new.url),
        description=new.description,
        event_types=list(check_types(new.event_types)),
        enabled=True,
    )
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    endpoint.sealed = runtime.keyring.seal(secret, context=secret_context(endpoint.id))
    endpoint.key_id = runtime.keyring.active
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_endpoint(
    session: AsyncSession, org_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == org_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id} in this organization.")
    return endpoint


def secret_of(runtime: Runtime, endpoint: WebhookEndpoint) -> str:
    return runtime.keyring.open(endpoint.sealed, context=secret_context(endpoint.id))


async def emit(
    runtime: Runtime,
    session: AsyncSession,
    org_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
) -> int:
    """Queue ``event_type`` for every enabled endpoint that wants it, in ``session``'s
    transaction; returns how many messages were queued."""
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == org_id, WebhookEndpoint.enabled.is_(True)
        )
    )
    payload = {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    queued = 0
    for endpoint in endpoints:
        if endpoint.event_types and event_type not in endpoint.event_types:
            continue
        delivery = WebhookDelivery(
            id=uuid.uuid4(),
            organization_id=org_id,
            endpoint_id=endpoint.id,
            message_id=f"msg_{uuid.uuid4().hex}",
            event_type=event_type,
            payload=payload,
            status="pending",
            attempts=0,
        )
        session.add(delivery)
        await session.flush()
        await _queue(runtime, session, delivery.id, delay=0)
        queued += 1
    return queued


async def _queue(
    runtime: Runtime, session: AsyncSession, delivery_id: uuid.UUID, delay: float
) -> None:
    options: dict[str, Any] = {"args": {"delivery_id": str(delivery_id)}}
    if delay:
        options["schedule_in"] = {"seconds": delay}
    await defer_in_transaction(runtime.jobs, session, "deliver_webhook", **options)


def retry_schedule(runtime: Runtime) -> list[float]:
    return [float(x) for x in runtime.settings.webhook_retry_seconds.split(",") if x.strip()]


def signed_request(
    secret: str, message_id: str, payload: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers of one attempt."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "hiresync-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
    return body.encode(), headers


async def deliver(runtime: Runtime, delivery_id: uuid.UUID) -> None:
    """One attempt; on failure, the next attempt is scheduled in the same transaction
    that records this one."""
    async with runtime.db.sessions() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            return
        body, headers = signed_request(
            secret_of(runtime, endpoint), delivery.message_id, delivery.payload
        )
        url = endpoint.url
    status, error = await _post(runtime, url, body, headers)
    async with runtime.db.transaction() as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "pending":
            return
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                "delivered",
                datetime.now(UTC),
                None,
            )
            return
        schedule = retry_schedule(runtime)
        if delivery.attempts > len(schedule):
            delivery.status, delivery.next_attempt_at = "failed", None
            log.warning("webhook.failed", delivery=str(delivery_id), url=url, error=error)
            return
        delay = schedule[delivery.attempts - 1]
        delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
        await _queue(runtime, session, delivery.id, delay)


async def _post(
    runtime: Runtime, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None]:
    try:
        async with httpx.AsyncClient(
            timeout=runtime.settings.webhook_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
