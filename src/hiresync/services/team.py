"""Organizations and their hiring teams: the people whose calendars hiresync serves."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.services import directory, scheduling_settings, validation
from hiresync.services.errors import AlreadyExists, InvalidInput, NotFound
from hiresync.services.passwords import hash_password, verify_password
from hiresync.store.tables import Organization, User


@dataclass(frozen=True)
class NewUser:
    name: str
    email: str
    role: str = "interviewer"
    time_zone: str = "UTC"
    password: str | None = None
    working_hours: dict[str, list[list[str]]] | None = None
    max_interviews_per_day: int | None = None
    max_interviews_per_week: int | None = None


async def create_organization(
    session: AsyncSession, name: str, slug: str | None = None
) -> Organization:
    name = validation.name(name)
    slug = slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", slug):
        raise InvalidInput(
            f"{slug!r} is not a usable slug", hint="Use lower-case letters, digits and -."
        )
    if await session.scalar(select(Organization).where(Organization.slug == slug)):
        raise AlreadyExists(f"An organization with slug {slug!r} exists.", field="slug")
    org = Organization(name=name, slug=slug)
    session.add(org)
    await session.flush()
    return org


async def get_organization(session: AsyncSession, ref: str) -> Organization:
    """By id or slug."""
    try:
        clause = Organization.id == uuid.UUID(ref)
    except ValueError:
        clause = Organization.slug == ref
    org = await session.scalar(select(Organization).where(clause))
    if org is None:
        raise NotFound(f"No organization {ref!r}.", hint="List them with `hiresync org list`.")
    return org


async def add_user(session: AsyncSession, org_id: uuid.UUID, new: NewUser) -> User:
    """Add a team member; if the company calendar is connected they are matched at once."""
    email = validation.email(new.email)
    user = User(
        organization_id=org_id,
        name=validation.name(new.name),
        email=email,
        email_key=email.lower(),
        role=validation.role(new.role),
        time_zone=validation.time_zone(new.time_zone),
        password_hash=hash_password(new.password) if new.password else None,
        working_hours=scheduling_settings.working_hours_json(new.working_hours)
        if new.working_hours is not None
        else None,
        max_interviews_per_day=scheduling_settings.cap(
            new.max_interviews_per_day, "max_interviews_per_day"
        ),
        max_interviews_per_week=scheduling_settings.cap(
            new.max_interviews_per_week, "max_interviews_per_week"
        ),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise AlreadyExists(
            f"{email} is already on this hiring team.",
            field="email",
            hint="Update that person instead of adding them again.",
        ) from exc
    await directory.match_user(session, user)
    return user


async def get_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await session.scalar(
        select(User).where(User.organization_id == org_id, User.id == user_id)
    )
    if user is None:
        raise NotFound(f"No user {user_id} in this organization.", field="user_id")
    return user


async def find_by_email(session: AsyncSession, org_id: uuid.UUID, email: str) -> User | None:
    return await session.scalar(
        select(User).where(User.organization_id == org_id, User.email_key == email.strip().lower())
    )


async def list_users(session: AsyncSession, org_id: uuid.UUID) -> list[User]:
    rows = await session.scalars(
        select(User).where(User.organization_id == org_id).order_by(User.name, User.email)
    )
    return list(rows)


_NOT_NULL = ("name", "email", "role", "time_zone")


async def update_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    """Apply ``changes`` (only the keys present); ``None`` clears hours and caps."""
    user = await get_user(session, org_id, user_id)
    for key in _NOT_NULL:
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be cleared.", field=key)
    if "working_hours" in changes:
        raw = changes["working_hours"]
        user.working_hours = None if raw is None else scheduling_settings.working_hours_json(raw)
    for cap in ("max_interviews_per_day", "max_interviews_per_week"):
        if cap in changes:
            setattr(user, cap, scheduling_settings.cap(changes[cap], cap))
    if "name" in changes:
        user.name = validation.name(changes["name"])
    if "role" in changes:
        user.role = validation.role(changes["role"])
    if "time_zone" in changes:
        user.time_zone = validation.time_zone(changes["time_zone"])
    if "email" in changes:
        user.email = validation.email(changes["email"])
        user.email_key = user.email.lower()
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise AlreadyExists(
                f"{user.email} is already on this hiring team.", field="email"
            ) from exc
        await directory.match_user(session, user)
    await session.flush()
    return user


async def remove_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    user = await get_user(session, org_id, user_id)
    await session.delete(user)
    await session.flush()


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The user with this e-mail and password, in whichever organization holds it."""
    rows = await session.scalars(select(User).where(User.email_key == email.strip().lower()))
    for user in rows:
        if verify_password(password, user.password_hash):
            return user
    return None
