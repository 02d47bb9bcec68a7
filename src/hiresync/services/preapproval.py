"""Admin pre-approval of the Zoom app, as hiring teams on Zoom Business accounts meet it.

A Zoom account can require an admin to pre-approve an app before its members may add it;
the member then sees Zoom's own "Request Pre-approval" page instead of the consent screen.
hiresync mirrors that on its side, because Zoom's admins and hiresync's admins are often
not the same people: a member asks here ("Request pre-approval"), every admin of the hiring
organization is told in the app and by e-mail what to do in Zoom, an admin marks the request
approved here once it is done in Zoom, and the member is told they can connect. Connecting
successfully closes an open request too (the approval evidently happened).

Zoom's ``app.authorization_request_created`` webhook is recorded the same way when its
payload names a team member's e-mail; the documented payload names only the requester
(``requester_name``), so usually it is logged and ignored.

A request is ``requested`` until approved; at most one is open per member and provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.runtime import Runtime
from hiresync.services import notifications
from hiresync.services.errors import AlreadyExists, Forbidden, NotFound
from hiresync.store.tables import MeetingAccount, PreapprovalRequest, User

log = structlog.get_logger(__name__)
ZOOM = "zoom"
PAGE = "/settings/connected-apps"
# Where a payload might name the requester's e-mail (none is in Zoom's documented schema).
EMAIL_FIELDS = ("requester_email", "user_email", "email")


async def open_request(
    session: AsyncSession, user: User, provider: str = ZOOM
) -> PreapprovalRequest | None:
    return await session.scalar(
        select(PreapprovalRequest).where(
            PreapprovalRequest.organization_id == user.organization_id,
            PreapprovalRequest.user_id == user.id,
            PreapprovalRequest.provider == provider,
            PreapprovalRequest.status == "requested",
        )
    )


async def pending(
    session: AsyncSession, org_id: uuid.UUID
) -> list[tuple[PreapprovalRequest, User]]:
    """The organization's open requests, oldest first, with who asked."""
    rows = await session.execute(
        select(PreapprovalRequest, User)
        .join(User, User.id == PreapprovalRequest.user_id)
        .where(
            PreapprovalRequest.organization_id == org_id,
            PreapprovalRequest.status == "requested",
        )
        .order_by(PreapprovalRequest.requested_at)
    )
    return [(row[0], row[1]) for row in rows]


def _admin_message(user: User) -> tuple[str, str]:
    title = f"{user.name} asks an admin to pre-approve hiresync in Zoom"
    body = (
        f"{user.name} ({user.email}) wants to connect their Zoom account to hiresync, so that "
        "their interviews get Zoom links. Their Zoom account requires an admin to pre-approve "
        "the app first.\n\n"
        "What to do:\n"
        "1. Sign in to the Zoom App Marketplace (marketplace.zoom.us) as an admin of your "
        "company's Zoom account.\n"
        "2. Under Manage, find the hiresync app (or the request from "
        f"{user.email}) and pre-approve it for your users.\n"
        "3. In hiresync, open Settings › Connected applications and click “Mark approved” "
        f"next to {user.name}'s request, so they are told they can connect."
    )
    return title, body


async def _create(
    runtime: Runtime, session: AsyncSession, user: User, provider: str, source: str
) -> tuple[PreapprovalRequest, list[uuid.UUID]]:
    """The user's open request, made (and every admin notified) if there is none yet."""
    existing = await open_request(session, user, provider)
    if existing is not None:
        return existing, []
    row = PreapprovalRequest(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        provider=provider,
        status="requested",
        source=source,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # the same request, a moment ago (a double click)
        again = await open_request(session, user, provider)
        assert again is not None
        return again, []
    admins = list(
        await session.scalars(
            select(User).where(User.organization_id == user.organization_id, User.role == "admin")
        )
    )
    title, body = _admin_message(user)
    ids = await notifications.notify(
        runtime, session, admins, "zoom_preapproval_requested", title, body, PAGE + "#preapprovals"
    )
    log.info("preapproval.requested", user=str(user.id), source=source, admins=len(admins))
    return row, ids


async def request(
    runtime: Runtime, user: User, provider: str = ZOOM
) -> tuple[PreapprovalRequest, list[uuid.UUID]]:
    """Ask the organization's admins to pre-approve the app; asking twice changes nothing.
    Returns the request and the notifications whose e-mails are to be sent."""
    async with runtime.db.transaction() as session:
        connected = await session.scalar(
            select(MeetingAccount.id).where(
                MeetingAccount.organization_id == user.organization_id,
                MeetingAccount.user_id == user.id,
                MeetingAccount.provider == provider,
                MeetingAccount.status == "active",
            )
        )
        if connected is not None:
            raise AlreadyExists(
                "Your Zoom account is already connected, so it needs no pre-approval."
            )
        return await _create(runtime, session, user, provider, "hiresync")


async def approve(
    runtime: Runtime, admin: User, request_id: uuid.UUID
) -> tuple[PreapprovalRequest, list[uuid.UUID]]:
    """An admin marks the request approved (after approving in Zoom); the requester is told."""
    if admin.role != "admin":
        raise Forbidden(
            "Only an admin of this hiring organization can mark a pre-approval as done.",
            hint="Ask one of your organization's admins.",
        )
    async with runtime.db.transaction() as session:
        row = await session.scalar(
            select(PreapprovalRequest)
            .where(
                PreapprovalRequest.id == request_id,
                PreapprovalRequest.organization_id == admin.organization_id,
            )
            .with_for_update()
        )
        if row is None:
            raise NotFound("That pre-approval request does not exist.")
        if row.status == "approved":
            return row, []
        row.status, row.approved_at, row.approved_by = "approved", datetime.now(UTC), admin.id
        requester = await session.get(User, row.user_id)
        ids = await notifications.notify(
            runtime,
            session,
            [requester] if requester else [],
            "zoom_preapproval_approved",
            "hiresync is pre-approved in Zoom: you can connect now",
            f"{admin.name} pre-approved hiresync for your company's Zoom account. Open "
            "Settings › Connected applications and click Connect Zoom to have Zoom links "
            "created for your interviews.",
            PAGE,
        )
    log.info("preapproval.approved", request=str(request_id), by=str(admin.id))
    return row, ids


async def close_open(session: AsyncSession, user: User, provider: str = ZOOM) -> None:
    """Connecting succeeded, so an open request was evidently granted."""
    await session.execute(
        update(PreapprovalRequest)
        .where(
            PreapprovalRequest.organization_id == user.organization_id,
            PreapprovalRequest.user_id == user.id,
            PreapprovalRequest.provider == provider,
            PreapprovalRequest.status == "requested",
        )
        .values(status="approved", approved_at=datetime.now(UTC))
    )


def _requester_email(payload: Mapping[str, Any]) -> str | None:
    for name in EMAIL_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and "@" in value and len(value) <= 320:
            return value.strip().lower()
    return None


async def record_from_zoom(
    runtime: Runtime, session: AsyncSession, payload: Mapping[str, Any]
) -> list[uuid.UUID]:
    """``app.authorization_request_created``: a request for the one team member with the
    requester's e-mail, when the payload names it; otherwise logged and ignored."""
    email = _requester_email(payload)
    if email is None:
        log.info(
            "preapproval.zoom_request_ignored",
            reason="the payload names no e-mail",
            requester_name=str(payload.get("requester_name", ""))[:200],
        )
        return []
    users = list(await session.scalars(select(User).where(User.email_key == email)))
    if len(users) != 1:
        log.info(
            "preapproval.zoom_request_ignored",
            reason="no team member has this e-mail" if not users else "several team members do",
        )
        return []
    _, ids = await _create(runtime, session, users[0], ZOOM, "zoom")
    return ids
