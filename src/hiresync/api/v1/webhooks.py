"""Webhook endpoints of the hiring platform, and the log of what was sent to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.services import webhooks
from hiresync.store.tables import WebhookDelivery, WebhookEndpoint

router = APIRouter(tags=["webhooks"])


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, examples=["https://ats.example.com/hiresync/webhooks"])
    event_types: list[str] = Field(
        default_factory=list,
        description="Which events to send; empty for all: " + ", ".join(webhooks.EVENT_TYPES),
    )
    description: str | None = Field(default=None, max_length=300)


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    created_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(
        description="Signing secret (whsec_…) for verifying messages per the Standard "
        "Webhooks spec; also readable later at GET …/secret."
    )


class SecretOut(BaseModel):
    secret: str


class DeliveryOut(BaseModel):
    id: uuid.UUID
    message_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict


def endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "event_types": list(e.event_types or []),
        "enabled": e.enabled,
        "created_at": e.created_at,
    }


@router.post("/webhook-endpoints", response_model=EndpointCreatedOut, status_code=201)
async def create_endpoint(
    body: EndpointIn, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """Subscribe an endpoint to interview and attendee events, signed per Standard Webhooks."""
    new = webhooks.NewEndpoint(body.url, tuple(body.event_types), body.description)
    endpoint, secret = await webhooks.create_endpoint(runtime, session, org, new)
    await session.refresh(endpoint)
    return {**endpoint_out(endpoint), "secret": secret}


@router.get("/webhook-endpoints", response_model=list[EndpointOut])
async def list_endpoints(org: OrgDep, session: SessionDep) -> Any:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == org)
        .order_by(WebhookEndpoint.created_at)
    )
    return [endpoint_out(e) for e in rows]


@router.get("/webhook-endpoints/{endpoint_id}/secret", response_model=SecretOut)
async def endpoint_secret(
    endpoint_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    endpoint = await webhooks.get_endpoint(session, org, endpoint_id)
    return {"secret": webhooks.secret_of(runtime, endpoint)}


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: uuid.UUID, org: OrgDep, session: SessionDep) -> Response:
    await session.delete(await webhooks.get_endpoint(session, org, endpoint_id))
    return Response(status_code=204)


@router.post("/webhook-endpoints/{endpoint_id}/test", status_code=202)
async def test_endpoint(
    endpoint_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> dict[str, str]:
    """Send a ``webhook.test`` message to every endpoint that takes it (this one included)."""
    await webhooks.get_endpoint(session, org, endpoint_id)
    await webhooks.emit(runtime, session, org, "webhook.test", {"endpoint_id": str(endpoint_id)})
    return {"status": "queued"}


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
async def deliveries(
    endpoint_id: uuid.UUID, org: OrgDep, session: SessionDep, limit: int = 100
) -> Any:
    """The delivery log, newest first: each message, its attempts and its outcome."""
    await webhooks.get_endpoint(session, org, endpoint_id)
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.organization_id == org, WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(min(max(limit, 1), 500))
    )
    return [
        {
            c: getattr(d, c)
            for c in (
                "id", "message_id", "event_type", "status", "attempts", "last_status_code",
                "last_error", "next_attempt_at", "delivered_at", "created_at", "payload",
            )
        }
        for d in rows
    ]  # fmt: skip
