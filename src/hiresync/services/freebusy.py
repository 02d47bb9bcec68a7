"""Free/busy for a group of people: resolve them to mailboxes, ask the provider, answer per
person. One unknown or unmatched person never fails the whole answer; a bad request
(reversed or too long a window, too many people, ids from elsewhere) fails before any
provider call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.freebusy import BusyBlock, Schedule, ScheduleError, ScheduleErrorCode
from hiresync.providers.errors import AuthRevoked, ProviderError
from hiresync.runtime import Runtime
from hiresync.services import connections, copied_busy, directory
from hiresync.services.errors import InvalidInput, NotConnected, UpstreamError
from hiresync.store.tables import DirectoryEntry, DirectoryMatch, User

MAX_PEOPLE = 1000
MAX_WINDOW = timedelta(days=62)


@dataclass(frozen=True)
class PersonRef:
    user_id: uuid.UUID | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """The few columns of a hiring-team member that free/busy and availability answers use.

    Read as plain rows, not ORM entities: a 1,000-person request would otherwise
    spend more time building and tracking entities than Microsoft takes to answer.
    """

    id: uuid.UUID
    email: str
    email_key: str
    name: str
    time_zone: str
    working_hours: dict[str, list[list[str]]] | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None


@dataclass(frozen=True)
class PersonFreeBusy:
    ref: PersonRef
    user: Member | None
    mailbox: str | None
    schedule: Schedule


def check_window(start: datetime, end: datetime, longest: timedelta = MAX_WINDOW) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "Times need a UTC offset.", hint="Write them like 2026-11-23T09:00:00Z.", field="start"
        )
    if end <= start:
        raise InvalidInput(
            "The window ends before it starts.", hint="Give an end after the start.", field="end"
        )
    if end - start > longest:
        raise InvalidInput(
            f"The window is {(end - start).days} days long; the limit is {longest.days} days.",
            hint=f"Split the request into windows of at most {longest.days} days.",
            field="end",
        )


def check_people(people: list[PersonRef]) -> None:
    if not people:
        raise InvalidInput("Name at least one person.", field="people")
    if len(people) > MAX_PEOPLE:
        raise InvalidInput(
            f"{len(people)} people asked; the limit is {MAX_PEOPLE} a request.",
            hint="Split the request.",
            field="people",
        )


async def _resolve(
    session: AsyncSession, org_id: uuid.UUID, people: list[PersonRef], anchors: dict[str, str]
) -> list[tuple[PersonRef, Member | None, str | None]]:
    """Each person with their team record (if any) and mailbox (if matched); fills
    ``anchors`` with the directory id of each mailbox."""
    ids = {p.user_id for p in people if p.user_id}
    emails = {p.email.strip().lower() for p in people if p.email}
    # One round trip, and the sets sent as two array parameters rather than a thousand
    # placeholders each: this query is on the critical path of every free/busy answer.
    rows = await session.execute(
        select(
            User.id,
            User.email,
            User.email_key,
            User.name,
            User.time_zone,
            User.working_hours,
            User.max_interviews_per_day,
            User.max_interviews_per_week,
            DirectoryMatch.mailbox,
            DirectoryEntry.external_id,
        )
        .outerjoin(
            DirectoryMatch,
            (DirectoryMatch.user_id == User.id) & (DirectoryMatch.organization_id == org_id),
        )
        .outerjoin(DirectoryEntry, DirectoryEntry.id == DirectoryMatch.entry_id)
        .where(
            User.organization_id == org_id,
            or_(
                User.id == any_(bindparam("ids", sorted(ids), type_=ARRAY(PG_UUID))),
                User.email_key == any_(bindparam("emails", sorted(emails), type_=ARRAY(String))),
            ),
        )
    )
    users: list[Member] = []
    mailboxes: dict[uuid.UUID, str] = {}
    for *columns, mailbox, external_id in rows:
        user = Member(*columns)
        users.append(user)
        if mailbox:
            mailboxes[user.id] = mailbox
            anchors[mailbox.lower()] = external_id
    by_id = {u.id: u for u in users}
    missing = sorted(str(i) for i in ids - by_id.keys())
    if missing:
        raise InvalidInput(
            f"No such users in this organization: {', '.join(missing)}.",
            hint="Use ids from GET /v1/users.",
            field="people",
        )
    by_email = {u.email_key: u for u in users}
    outsiders = await _directory_mailboxes(session, org_id, emails - by_email.keys(), anchors)
    resolved = []
    for ref in people:
        user = (
            by_id.get(ref.user_id)
            if ref.user_id
            else by_email.get((ref.email or "").strip().lower())
        )
        mailbox = (
            mailboxes.get(user.id) if user else outsiders.get((ref.email or "").strip().lower())
        )
        resolved.append((ref, user, mailbox))
    return resolved


async def _directory_mailboxes(
    session: AsyncSession, org_id: uuid.UUID, emails: set[str], anchors: dict[str, str]
) -> dict[str, str]:
    """Mailboxes for addresses of people outside the hiring team but in the directory."""
    if not emails:
        return {}
    rows = await session.scalars(
        select(DirectoryEntry).where(
            DirectoryEntry.organization_id == org_id,
            DirectoryEntry.account_enabled.is_(True),
            or_(
                func.lower(DirectoryEntry.mail).in_(emails),
                func.lower(DirectoryEntry.user_principal_name).in_(emails),
            ),
        )
    )
    found: dict[str, str] = {}
    for entry in rows:
        for address in (entry.mail, entry.user_principal_name):
            if address and address.lower() in emails:
                found[address.lower()] = entry.mail or address
                anchors[(entry.mail or address).lower()] = entry.external_id
    return found


# A person without a company mailbox whose own calendar hiresync keeps in step.
_ANSWERED_BY_COPY = frozenset({ScheduleErrorCode.NOT_MATCHED, ScheduleErrorCode.NOT_CONNECTED})


def _unmatched(ref: PersonRef, user: Member | None, *, connected: bool = True) -> Schedule:
    who = user.email if user else (ref.email or "")
    if not connected:
        return Schedule(
            email=who,
            error=ScheduleError(
                ScheduleErrorCode.NOT_CONNECTED,
                f"{who} has no synchronized calendar, and no company calendar is connected. "
                "Ask them to start synchronization in Settings › My calendar.",
            ),
        )
    return Schedule(
        email=who,
        error=ScheduleError(
            ScheduleErrorCode.NOT_MATCHED,
            f"{who} has no mailbox in the connected directory. Check the address, or ask IT "
            "whether this person has a Microsoft 365 mailbox.",
        ),
    )


async def query(
    runtime: Runtime,
    org_id: uuid.UUID,
    people: list[PersonRef],
    start: datetime,
    end: datetime,
    *,
    longest: timedelta = MAX_WINDOW,
) -> list[PersonFreeBusy]:
    """Free/busy per person; ``longest`` lets availability ask for its 12 weeks (the
    provider cuts what it cannot answer at once)."""
    check_people(people)
    check_window(start, end, longest)
    async with runtime.db.sessions() as session:
        connection = await directory.live_connection(session, org_id)
        anchors: dict[str, str] = {}
        resolved = await _resolve(session, org_id, people, anchors)
    user_ids = sorted({user.id for _, user, _ in resolved if user is not None})
    covered, copied = await copied_busy.blocks_for(runtime, org_id, user_ids, start, end)
    if connection is None and not covered:
        raise NotConnected(
            "No calendar system is connected for this organization.",
            hint="An admin connects one in Settings › Calendar sync.",
        )
    by_mailbox: dict[str, Schedule] = {}
    if connection is not None:
        by_mailbox = await _live(runtime, connection, anchors, resolved, start, end)
    answers = []
    for ref, user, mailbox in resolved:
        live = by_mailbox.get(mailbox.lower()) if mailbox else None
        schedule = live or _unmatched(ref, user, connected=connection is not None)
        if user is not None and user.id in covered:
            schedule = _with_copy(schedule, user, copied[user.id])
        answers.append(PersonFreeBusy(ref, user, mailbox, schedule))
    return answers


async def _live(
    runtime: Runtime,
    connection: Any,
    anchors: dict[str, str],
    resolved: list[tuple[PersonRef, Member | None, str | None]],
    start: datetime,
    end: datetime,
) -> dict[str, Schedule]:
    """One provider call for every mailbox of the company calendar."""
    wanted = sorted({m for _, _, m in resolved if m})
    source = runtime.calendar(connection.provider).free_busy(
        connection.tenant_id, connections.token_for(runtime, connection), anchors
    )
    try:
        schedules = await source.get_schedules(wanted, start, end) if wanted else []
    except AuthRevoked as exc:
        await connections.mark_broken(runtime, connection.id, exc.message)
        raise NotConnected(
            f"Microsoft refused hiresync's access: {exc.message}",
            hint="An admin reconnects in Settings › Calendar sync.",
        ) from exc
    except ProviderError as exc:
        raise UpstreamError(
            f"The calendar provider did not answer: {exc.message}", hint="Try again in a minute."
        ) from exc
    return {m.lower(): s for m, s in zip(wanted, schedules, strict=True)}


def _with_copy(schedule: Schedule, user: Member, blocks: list[BusyBlock]) -> Schedule:
    """The busy time of the person's synced calendars added; a person known only through
    them (no company mailbox) is answered from the copy, in their own zone."""
    merged = tuple(sorted((*schedule.blocks, *blocks), key=lambda b: (b.start, b.end)))
    if schedule.error is not None and schedule.error.code in _ANSWERED_BY_COPY:
        return Schedule(email=user.email, blocks=merged, time_zone=user.time_zone)
    return replace(schedule, blocks=merged)
