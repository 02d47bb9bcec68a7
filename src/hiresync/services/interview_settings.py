"""Organization settings for interviews: who organizes them, and where they go in people's
own synced calendars.

By default the scheduler organizes (the event lives in their calendar and the
invitations come from them). Many hiring teams prefer a shared interviews mailbox
(``interviews@company``), so that an interview survives the recruiter's holiday or
departure and invitations come from one address; it must be a mailbox of the
connected directory, which is checked when it is set.

Seeds 002/003: per organization, interviews go into each person's primary calendar or stay
in a dedicated calendar hiresync creates in their account, named after the hiring
platform (``calendar_placement``: "primary", "dedicated", or "person" to let each person
choose when they start synchronization; ``dedicated_calendar_name``).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.config import Settings
from hiresync.services import candidate_mail, validation
from hiresync.services.errors import InvalidInput, NotFound
from hiresync.store.tables import DirectoryEntry, Organization

Organizer = Literal["scheduler", "shared_mailbox"]


Invitations = Literal["calendar", "email"]
Placement = Literal["person", "primary", "dedicated"]
PLACEMENTS = ("person", "primary", "dedicated")
DEDICATED_NAME = "Hiring interviews"  # until the organization names it after its platform


@dataclass(frozen=True)
class InterviewSettings:
    organizer: Organizer = "scheduler"
    shared_mailbox: str | None = None
    # "calendar": the candidate is an attendee and the calendar invites them; "email":
    # hiresync sends them its own iCalendar e-mail (services.candidate_mail).
    candidate_invitations: Invitations = "calendar"
    calendar_placement: Placement = "person"
    dedicated_calendar_name: str = DEDICATED_NAME


def settings_from(raw: dict[str, Any] | None) -> InterviewSettings:
    raw = raw or {}
    organizer = raw.get("organizer", "scheduler")
    return InterviewSettings(
        organizer="shared_mailbox" if organizer == "shared_mailbox" else "scheduler",
        shared_mailbox=raw.get("shared_mailbox"),
        candidate_invitations="email"
        if raw.get("candidate_invitations") == "email"
        else "calendar",
        calendar_placement=raw.get("calendar_placement")
        if raw.get("calendar_placement") in PLACEMENTS
        else "person",
        dedicated_calendar_name=raw.get("dedicated_calendar_name") or DEDICATED_NAME,
    )


async def load(session: AsyncSession, org_id: uuid.UUID) -> InterviewSettings:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"No organization {org_id}.")
    return settings_from(org.interview_settings)


async def _in_directory(session: AsyncSession, org_id: uuid.UUID, address: str) -> str | None:
    """The mailbox's primary address if the connected directory has it (enabled)."""
    key = address.lower()
    entry = await session.scalar(
        select(DirectoryEntry).where(
            DirectoryEntry.organization_id == org_id,
            DirectoryEntry.account_enabled.is_(True),
            or_(
                func.lower(DirectoryEntry.mail) == key,
                func.lower(DirectoryEntry.user_principal_name) == key,
            ),
        )
    )
    return (entry.mail or entry.user_principal_name) if entry else None


async def update(
    session: AsyncSession, org_id: uuid.UUID, changes: dict[str, Any], settings: Settings
) -> InterviewSettings:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"No organization {org_id}.")
    current = asdict(settings_from(org.interview_settings))
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise InvalidInput(f"Unknown setting(s): {', '.join(unknown)}.", field=unknown[0])
    merged = {**current, **changes}
    if merged["organizer"] not in ("scheduler", "shared_mailbox"):
        raise InvalidInput(
            f"organizer must be 'scheduler' or 'shared_mailbox', got {merged['organizer']!r}.",
            field="organizer",
        )
    if merged["candidate_invitations"] not in ("calendar", "email"):
        raise InvalidInput(
            "candidate_invitations must be 'calendar' or 'email'.", field="candidate_invitations"
        )
    if merged["calendar_placement"] not in PLACEMENTS:
        raise InvalidInput(
            "calendar_placement must be 'person', 'primary' or 'dedicated'.",
            field="calendar_placement",
        )
    name = str(merged["dedicated_calendar_name"] or "").strip()
    if not 1 <= len(name) <= 100 or any(c in name for c in "\r\n\t/"):
        raise InvalidInput(
            "The dedicated calendar's name needs 1 to 100 characters, on one line, without '/'.",
            hint='Name it after your hiring platform, like "Acme Recruit".',
            field="dedicated_calendar_name",
        )
    merged["dedicated_calendar_name"] = name
    if merged["candidate_invitations"] == "email":
        candidate_mail.require_smtp(settings)
    if merged["organizer"] == "shared_mailbox":
        if not merged["shared_mailbox"]:
            raise InvalidInput(
                "A shared mailbox organizer needs the mailbox's address.",
                hint='Set "shared_mailbox": "interviews@yourcompany.com".',
                field="shared_mailbox",
            )
        address = validation.email(merged["shared_mailbox"], field="shared_mailbox")
        found = await _in_directory(session, org_id, address)
        if found is None:
            raise InvalidInput(
                f"{address} is not a mailbox of the connected directory.",
                hint="Create the shared mailbox in Microsoft 365 (or check the address), "
                "then refresh the directory in Settings › Calendar sync.",
                field="shared_mailbox",
            )
        merged["shared_mailbox"] = found
    org.interview_settings = merged
    await session.flush()
    return settings_from(merged)
