"""A team member's own calendar sync, for the hiring platform's engineers: how it is doing
(the same view as Settings › My calendar) and "sync now" for all their calendars."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.api.v1.calendar_sync_schemas import CalendarSyncOut, RunIn, RunOut
from hiresync.services import calendar_settings, team
from hiresync.services.calendar_settings import AccountView, CalendarView, SyncStatus

router = APIRouter(tags=["calendar sync"])


def _calendar(c: CalendarView) -> dict[str, Any]:
    progress = None
    if c.state == "initial":
        progress = {"done": c.done, "total": c.total, "percent": c.percent}
    return {
        "id": c.id,
        "name": c.name,
        "role": c.role,
        "state": c.state,
        "direction": c.direction,
        "progress": progress,
        "last_synced_at": c.last_synced_at,
        "counts": c.counts,
        "quarantined": c.quarantined,
        "problem": c.problem,
    }


def _account(a: AccountView) -> dict[str, Any]:
    return {
        "id": a.id,
        "provider": a.provider,
        "address": a.address,
        "status": a.status,
        "state": a.state,
        "headline": a.headline,
        "connected_at": a.connected_at,
        "external_meetings": a.external_meetings,
        "problem": a.problem,
        "calendars": [_calendar(c) for c in a.calendars],
    }


def status_out(user_id: uuid.UUID, status: SyncStatus) -> CalendarSyncOut:
    return CalendarSyncOut.model_validate(
        {
            "user_id": user_id,
            "connected": status.connected,
            "headline": status.headline,
            "accounts": [_account(a) for a in status.accounts],
            "not_removed": status.leftovers,
            "not_removed_count": status.leftover_count,
        },
        from_attributes=True,
    )


@router.get("/users/{user_id}/calendar-sync", response_model=CalendarSyncOut)
async def get_calendar_sync(
    user_id: uuid.UUID, org: OrgDep, session: SessionDep
) -> CalendarSyncOut:
    """Whether the person's calendar is synchronized, with what, how each calendar is
    doing (first-sync progress, last synchronized, counts, items set aside) and, for each
    problem, what is wrong and what to do."""
    user = await team.get_user(session, org, user_id)
    return status_out(user.id, await calendar_settings.status_for(session, user))


@router.post("/users/{user_id}/calendar-sync/run", response_model=RunOut, status_code=202)
async def run_calendar_sync(
    user_id: uuid.UUID,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: RunIn | None = None,
) -> RunOut:
    """Queue a sync of each of the person's calendars (a run already waiting is not
    doubled). 409 when they have no calendar connected, or it needs reconnecting."""
    user = await team.get_user(session, org, user_id)
    force = body.force if body else False
    queued = await calendar_settings.sync_all(runtime, session, user, force=force)
    return RunOut(queued=[c.id for c in queued])
