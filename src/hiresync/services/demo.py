"""Seed the demo's hiring organization: a team that overlaps the sandbox tenant on purpose,
with people matched by primary address, sign-in name, alias and odd capitalisation, and a
few who have no mailbox, so every state of the Calendar sync page shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.services import apikeys, team
from hiresync.store.tables import Organization

DEMO_SLUG = "acme-talent"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    email: str
    role: str
    time_zone: str


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    api_key: str | None


async def seed(
    session: AsyncSession, people: list[DemoPerson], admin: DemoPerson, password: str
) -> DemoLogin:
    """Create the organization and team once; later runs change nothing."""
    existing = await session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    if existing is not None:
        return DemoLogin(admin.email, password, None)
    org = await team.create_organization(session, "Acme Talent (demo)", DEMO_SLUG)
    await team.add_user(
        session, org.id, team.NewUser(admin.name, admin.email, "admin", admin.time_zone, password)
    )
    for person in people:
        await team.add_user(
            session, org.id, team.NewUser(person.name, person.email, person.role, person.time_zone)
        )
    _, key = await apikeys.create(session, org.id, "demo")
    return DemoLogin(admin.email, password, key)
