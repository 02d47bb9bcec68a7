"""What the interview form asks while the recruiter fills it in: the warnings of their Zoom
plan for the time chosen (issue #5: "checked when the interview is scheduled; a clash shows
a warning with the overlapping interview"), before anything is saved.

JSON for the form's script; the same sentences appear on the interview page once saved.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import SessionDep
from hiresync.services import meeting_accounts, meeting_push
from hiresync.services.errors import ServiceError
from hiresync.store.tables import User
from hiresync.web.interview_pages import _times
from hiresync.web.session import current_user

router = APIRouter(include_in_schema=False)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _host_of(
    session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID | None
) -> User | None:
    """When editing, the host the interview's meeting already has (of this organization)."""
    if interview_id is None:
        return None
    row = await meeting_push.meeting_of(session, interview_id)
    if row is None or row.organization_id != org_id or row.host_user_id is None:
        return None
    return await session.get(User, row.host_user_id)


@router.get("/interviews/zoom-plan")
async def zoom_plan(
    request: Request,
    session: SessionDep,
    date: str = "",
    time: str = "",
    minutes: str = "",
    tz: str = "",
    interview: str = "",
) -> JSONResponse:
    """``{"connected": bool, "warnings": [...]}`` for the meeting's host: the signed-in user,
    or when editing (``interview``) the host the meeting has, that interview left out of the
    overlaps. An incomplete time asks
    for nothing yet (the form says what is missing when it is posted)."""
    found = await current_user(request, session)
    if found is None:
        return JSONResponse({"error": "Sign in again to check the Zoom plan."}, status_code=401)
    user, org = found
    leave_out = _uuid(interview)
    host = await _host_of(session, org.id, leave_out) or user
    account = await meeting_accounts.live_account(session, host)
    if account is None or account.status != "active":
        return JSONResponse({"connected": False, "warnings": []})
    try:
        start, end, _ = _times(date, time, minutes, tz)
    except ServiceError:
        return JSONResponse({"connected": True, "warnings": []})
    warnings = await meeting_push.plan_warnings(
        session, org.id, host, account, start, end, leave_out=leave_out
    )
    return JSONResponse({"connected": True, "warnings": warnings})
