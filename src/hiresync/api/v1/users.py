"""Hiring-team members: the people whose calendars hiresync reads."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from hiresync.api.deps import OrgDep, SessionDep
from hiresync.api.v1.schemas import MatchOut, UserIn, UserOut, UserPatch
from hiresync.services import team
from hiresync.store.tables import DirectoryMatch, User

router = APIRouter(tags=["users"])


def user_out(user: User, match: DirectoryMatch | None) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        email=user.email,
        role=user.role,  # type: ignore[arg-type]
        time_zone=user.time_zone,
        working_hours=user.working_hours,
        max_interviews_per_day=user.max_interviews_per_day,
        max_interviews_per_week=user.max_interviews_per_week,
        match=MatchOut(mailbox=match.mailbox, matched_on=match.matched_on) if match else None,  # type: ignore[arg-type]
    )


async def _match(session: SessionDep, user_id: uuid.UUID) -> DirectoryMatch | None:
    return await session.scalar(select(DirectoryMatch).where(DirectoryMatch.user_id == user_id))


@router.get("/users", response_model=list[UserOut])
async def list_users(org: OrgDep, session: SessionDep) -> list[UserOut]:
    users = await team.list_users(session, org)
    matches = {
        m.user_id: m
        for m in await session.scalars(
            select(DirectoryMatch).where(DirectoryMatch.organization_id == org)
        )
    }
    return [user_out(u, matches.get(u.id)) for u in users]


@router.post("/users", response_model=UserOut, status_code=201)
async def add_user(body: UserIn, org: OrgDep, session: SessionDep) -> UserOut:
    """Add a team member. If the company calendar is connected they are matched at once."""
    user = await team.add_user(session, org, team.NewUser(**body.model_dump()))
    return user_out(user, await _match(session, user.id))


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, org: OrgDep, session: SessionDep) -> UserOut:
    user = await team.get_user(session, org, user_id)
    return user_out(user, await _match(session, user.id))


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID, body: UserPatch, org: OrgDep, session: SessionDep
) -> UserOut:
    user = await team.update_user(session, org, user_id, body.model_dump(exclude_unset=True))
    return user_out(user, await _match(session, user.id))


@router.delete("/users/{user_id}", status_code=204)
async def remove_user(user_id: uuid.UUID, org: OrgDep, session: SessionDep) -> Response:
    await team.remove_user(session, org, user_id)
    return Response(status_code=204)
