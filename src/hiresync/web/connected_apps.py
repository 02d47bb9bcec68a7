"""Settings › Connected applications: each team member connects their own Zoom account,
asks their admins for Zoom's pre-approval, and reads their notifications; admins also see
the organization's open pre-approval requests and mark them approved.

Only presentation lives here; every decision is in ``services.meeting_accounts`` and
``services.preapproval``. A refused connection (cancelled, a reused or foreign answer, a
Zoom login already linked to another hiring account) comes back as this page with the
service's sentence and what to do, never a 500. Admin-only actions are checked on the
server whatever the page showed; e-mails go out by job after the change commits.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.runtime import Runtime
from hiresync.services import meeting_accounts, notifications, preapproval
from hiresync.services.errors import NotFound, ServiceError
from hiresync.store.tables import MeetingAccount, User
from hiresync.web.routes import _login, render
from hiresync.web.session import CsrfChecked, browser_id, current_user, flash, take_flashes

router = APIRouter(include_in_schema=False)
PAGE = meeting_accounts.PAGE


async def _last_ended(session: AsyncSession, user: User) -> MeetingAccount | None:
    """The user's latest ended connection, to say why it ended (e.g. removed in Zoom)."""
    return await session.scalar(
        select(MeetingAccount)
        .where(
            MeetingAccount.organization_id == user.organization_id,
            MeetingAccount.user_id == user.id,
            MeetingAccount.provider == meeting_accounts.ZOOM,
            MeetingAccount.status == "disconnected",
        )
        .order_by(MeetingAccount.disconnected_at.desc())
        .limit(1)
    )


async def _page(
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    *,
    problem: ServiceError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user, org = await _login(request, session)
    account = await meeting_accounts.live_account(session, user)
    context: dict[str, Any] = {
        "user": user,
        "organization": org,
        "nav": "connected-apps",
        "flashes": take_flashes(request),
        "zoom_ready": bool(runtime.settings.zoom_client_id),
        "account": account,
        "plan": meeting_accounts.plan_summary(account) if account else None,
        "ended": None if account else await _last_ended(session, user),
        "asked": await preapproval.open_request(session, user),
        "notes": await notifications.for_user(session, user),
        "pending": await preapproval.pending(session, org.id) if user.role == "admin" else [],
        "problem": problem,
        "email_on": notifications.email_configured(runtime),
    }
    return render(request, "connected_apps.html", status_code=status_code, **context)


@router.get(PAGE)
async def connected_apps(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    return await _page(request, session, runtime)


@router.post(PAGE + "/zoom/connect", dependencies=[CsrfChecked])
async def connect(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    user, _ = await _login(request, session)
    try:
        url = await meeting_accounts.start_connect(runtime, session, user, browser_id(request))
    except ServiceError as exc:
        return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    return RedirectResponse(url, status_code=303)


@router.get(PAGE + "/zoom/callback")
async def callback(request: Request, runtime: RuntimeDep) -> Response:
    async with runtime.db.sessions() as session:
        found = await current_user(request, session)
    if found is None:
        return RedirectResponse(f"/login?next={PAGE}", status_code=303)
    try:
        row = await meeting_accounts.finish_connect(
            runtime, found[0], browser_id(request), dict(request.query_params)
        )
    except ServiceError as exc:
        async with runtime.db.sessions() as session:
            return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    flash(request, "good", f"Zoom is connected as {row.email}. Your interviews can get Zoom links.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/zoom/disconnect", dependencies=[CsrfChecked])
async def disconnect(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    user, _ = await _login(request, session)
    if confirm != "yes":
        flash(request, "bad", "Nothing changed: disconnecting Zoom needs “Confirm Disconnect”.")
        return RedirectResponse(PAGE, status_code=303)
    try:
        outcome = await meeting_accounts.disconnect(runtime, user)
    except ServiceError as exc:
        return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    flash(request, "good" if outcome.revoked else "bad", outcome.message)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/zoom/preapproval", dependencies=[CsrfChecked])
async def request_preapproval(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    user, _ = await _login(request, session)
    try:
        _, ids = await preapproval.request(runtime, user)
    except ServiceError as exc:
        return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    if ids:
        flash(request, "good", "Pre-approval requested: your organization's admins are notified.")
    else:
        flash(request, "good", "You already asked; your organization's admins were notified then.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/preapprovals/{request_id}/approve", dependencies=[CsrfChecked])
async def approve(
    request_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    user, _ = await _login(request, session)
    try:
        row, _ = await preapproval.approve(runtime, user, _uuid(request_id))
    except ServiceError as exc:
        return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    requester = await session.get(User, row.user_id)
    flash(
        request, "good", f"Marked approved; {requester.name if requester else 'they'} can connect."
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/notifications/read", dependencies=[CsrfChecked])
async def mark_read(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    notification: Annotated[str, Form()] = "",
) -> Response:
    """One notification read (``notification`` is its id), or all of them without one."""
    user, _ = await _login(request, session)
    try:
        await notifications.mark_read(session, user, _uuid(notification) if notification else None)
    except ServiceError as exc:
        return await _page(request, session, runtime, problem=exc, status_code=exc.status)
    return RedirectResponse(PAGE + "#notifications", status_code=303)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("That item does not exist.") from exc
