"""Bring an interview's event in the organizer's calendar up to the interview's state.

The interview row is the source of truth; this runs as the ``push_interview`` job
(one at a time per interview, by job lock) and is safe to run any number of times:

==========================  ==================  ============================================
interview                   calendar link        action
==========================  ==================  ============================================
draft                       any                  nothing (drafts stay in hiresync)
live or cancelled           no event id, but a   look for our key first (a crash may have
                            create was begun     left an event): found -> re-link it
live                        no event (still)     create (with transactionId and our key)
live                        behind (sequence)    update the same event
live                        up to date           nothing
cancelled                   event                cancel it, with the message, once
cancelled                   no event             nothing: it never reached a calendar
==========================  ==================  ============================================

The event id is saved in its own transaction as soon as the provider answers, so the
window in which a crash can lose it is small, and ``find`` closes it.

The job's own bookkeeping (the snapshot that marks a create as begun, the record of a
finished write) commits without waiting for the disk flush (``synchronous_commit``
off for those transactions only): losing one to a database *server* crash costs at
most a repeated look-up or an idempotent rewrite, never a lost or doubled event, while
waiting for two flushes per interview was what bounded a thousand-interview burst. The
interview itself, the source of truth, is always committed durably by its use case. A provider
failure that retrying may cure (throttling, outage) is raised for the job engine to
retry with backoff; one that it cannot (a refused request) is written on the link and
the interview's history, where the recruiter sees it.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import InterviewStatus, MeetingType, is_live
from hiresync.providers.base import EventAttendee, EventDraft, EventWriter, WrittenEvent
from hiresync.providers.errors import AuthRevoked, BadRequest, ProviderError
from hiresync.runtime import Runtime
from hiresync.services import connections, directory, webhooks
from hiresync.services.interviews import history_entry as _history
from hiresync.services.interviews import summary
from hiresync.store.tables import (
    CalendarLink,
    Candidate,
    Connection,
    DirectoryEntry,
    DirectoryMatch,
    Interview,
    InterviewAttendee,
    InterviewHistory,
)

log = structlog.get_logger(__name__)
NAMESPACE = uuid.UUID("5f0e6c1e-2f5b-4bb0-9d1e-6a8f0c7b3d42")


@dataclass(frozen=True)
class Snapshot:
    """What the job read, in one transaction, before talking to the provider.

    ``address`` is how the provider is asked for the organizer's calendar: the directory
    id when we know it (Graph's ``/users/{x}`` takes an id or a UPN, not any address)."""

    interview: Interview
    candidate: Candidate
    attendees: list[InterviewAttendee]
    link: CalendarLink
    address: str
    fresh: bool = False  # never tried before: no create can be in limbo
    connection: Connection | None = None


def transaction_id(interview_id: uuid.UUID, mailbox: str) -> str:
    """The same id for every attempt at writing this interview into this calendar."""
    return str(uuid.uuid5(NAMESPACE, f"{interview_id}:{mailbox.lower()}"))


def body_html(interview: Interview, candidate: Candidate) -> str:
    """What every attendee reads in the invitation. Notes for interviewers are never
    here: the candidate receives the same event."""
    lines = [f"Interview with {candidate.name}."]
    if interview.message_to_candidate:
        lines.append(interview.message_to_candidate)
    for label, value in (
        ("Join", interview.meeting_url),
        ("Meeting ID", interview.meeting_id),
        ("Passcode", interview.meeting_passcode),
        ("Phone", interview.meeting_phone),
        ("Address", interview.meeting_address),
    ):
        if value:
            lines.append(f"{label}: {value}")
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines)


def draft_for(snapshot: Snapshot, online_meeting: bool) -> EventDraft:
    interview, candidate = snapshot.interview, snapshot.candidate
    attendees = tuple(
        EventAttendee(a.email, a.name)
        for a in sorted(snapshot.attendees, key=lambda a: (a.role != "interviewer", a.name))
        if a.email_key != snapshot.link.mailbox.lower()
        and not (a.role == "candidate" and interview.candidate_invited_by == "email")
    )
    return EventDraft(
        key=str(interview.id),
        transaction_id=snapshot.link.transaction_id,
        subject=interview.title,
        body_html=body_html(interview, candidate),
        start=interview.start,
        end=interview.end,
        time_zone=interview.time_zone,
        location=interview.location or interview.meeting_address,
        attendees=attendees,
        online_meeting=online_meeting,
    )


async def snapshot_of(
    runtime: Runtime, interview_id: uuid.UUID, *, claim: bool = True
) -> Snapshot | None:
    """Everything the push needs, read in one transaction (the job's hot path: every
    round trip here is paid once per interview). With ``claim`` (the push) the calendar
    link is created if missing and a create about to be sent is marked; without it (a
    reader such as the answers refresh) nothing is written, and no link means None."""
    async with runtime.db.transaction() as session:
        await _relaxed(session)
        row = (
            await session.execute(
                select(Interview, Candidate)
                .join(Candidate, Candidate.id == Interview.candidate_id)
                .where(Interview.id == interview_id)
            )
        ).first()
        if row is None:
            return None
        interview, candidate = row
        attendees = list(
            await session.scalars(
                select(InterviewAttendee).where(InterviewAttendee.interview_id == interview.id)
            )
        )
        link = await session.scalar(
            select(CalendarLink).where(
                CalendarLink.interview_id == interview.id,
                CalendarLink.mailbox == interview.organizer_mailbox,
            )
        )
        if link is None and not claim:
            return None
        if link is None:
            link = CalendarLink(
                organization_id=interview.organization_id,
                interview_id=interview.id,
                mailbox=interview.organizer_mailbox,
                transaction_id=transaction_id(interview.id, interview.organizer_mailbox),
                synced_sequence=-1,
                state="pending",
                attempts=0,
            )
            session.add(link)
            await session.flush()
        fresh = link.state == "pending" and link.external_event_id is None
        if claim and fresh and is_live(InterviewStatus(interview.status)):
            # Committed before the create is sent: whoever finds it so later looks first.
            link.state, link.writing_sequence = "writing", interview.sequence
        address = await _directory_id(session, interview) or link.mailbox
        connection = await directory.live_connection(session, interview.organization_id)
        return Snapshot(interview, candidate, attendees, link, address, fresh, connection)


async def _relaxed(session: AsyncSession) -> None:
    """This transaction's commit need not wait for the disk: see the module docstring."""
    await session.execute(text("SET LOCAL synchronous_commit TO OFF"))


async def _directory_id(session: AsyncSession, interview: Interview) -> str | None:
    """The organizer's directory id: through their match when they are on the team (one
    indexed look-up), else by address."""
    if interview.organizer_user_id is not None:
        found = await session.scalar(
            select(DirectoryEntry.external_id)
            .join(DirectoryMatch, DirectoryMatch.entry_id == DirectoryEntry.id)
            .where(
                DirectoryMatch.user_id == interview.organizer_user_id,
                func.lower(DirectoryMatch.mailbox) == interview.organizer_mailbox.lower(),
            )
        )
        if found:
            return found
    mailbox = interview.organizer_mailbox.lower()
    return await session.scalar(
        select(DirectoryEntry.external_id).where(
            DirectoryEntry.organization_id == interview.organization_id,
            or_(
                func.lower(DirectoryEntry.mail) == mailbox,
                func.lower(DirectoryEntry.user_principal_name) == mailbox,
            ),
        )
    )


async def push(runtime: Runtime, interview_id: uuid.UUID) -> None:
    """The job: see the module docstring's table."""
    snapshot = await snapshot_of(runtime, interview_id)
    if snapshot is None or snapshot.interview.status == InterviewStatus.DRAFT.value:
        return
    interview, link = snapshot.interview, snapshot.link
    if link.synced_sequence >= interview.sequence:
        return
    connection = snapshot.connection
    if connection is None:
        await _failed(runtime, snapshot, "The company calendar was disconnected.")
        return
    writer = runtime.calendar(connection.provider).events(
        connection.tenant_id, connections.token_for(runtime, connection)
    )
    try:
        await _apply(runtime, writer, snapshot)
    except AuthRevoked as exc:
        await connections.mark_broken(runtime, connection.id, exc.message)
        await _failed(runtime, snapshot, f"Microsoft refused hiresync's access: {exc.message}")
    except BadRequest as exc:
        await _failed(runtime, snapshot, f"The calendar refused the event: {exc.message}")
    except ProviderError as exc:
        await _attempt_failed(runtime, link.id, exc.message)
        raise  # the job engine retries with backoff


async def _apply(runtime: Runtime, writer: EventWriter, snapshot: Snapshot) -> None:
    interview, link = snapshot.interview, snapshot.link
    event_id = link.external_event_id
    if event_id is None and not snapshot.fresh:
        # A create may have reached the calendar before its job died: look before writing.
        # A link never tried cannot have one, which spares the happy path a call.
        found = await writer.find(snapshot.address, str(interview.id))
        if found is not None:
            event_id = found.event_id
            await _relinked(runtime, snapshot, found)
            if link.writing_sequence == interview.sequence and is_live(
                InterviewStatus(interview.status)
            ):
                # The lost create wrote this very version: nothing to send again.
                await _synced(runtime, snapshot, event_id, "re-linked to the calendar", found)
                return
    if interview.status == InterviewStatus.CANCELLED.value:
        if event_id is not None:
            comment = await _cancel_message(runtime, interview.id)
            await writer.cancel(snapshot.address, event_id, comment)
        await _synced(runtime, snapshot, event_id, "cancelled in the calendar")
        return
    if not is_live(InterviewStatus(interview.status)):
        return
    teams = await _teams(runtime, writer, snapshot)
    draft = draft_for(snapshot, online_meeting=teams)
    if event_id is None:
        event = await writer.create(snapshot.address, draft)
    else:
        event = await writer.update(snapshot.address, event_id, draft)
    await _synced(runtime, snapshot, event.event_id, "written to the calendar", event)


async def _teams(runtime: Runtime, writer: EventWriter, snapshot: Snapshot) -> bool:
    """Whether to ask for a Teams meeting; a calendar that cannot is said on the interview."""
    interview = snapshot.interview
    if interview.meeting_type != MeetingType.TEAMS.value:
        return False
    if await writer.online_meetings_allowed(snapshot.address):
        return True
    reason = (
        f"Teams meetings are not enabled for {snapshot.link.mailbox}'s calendar, so the "
        "invitation has no Teams link. Ask IT to allow Teams meetings in Outlook, or "
        "reschedule with another meeting type."
    )
    async with runtime.db.transaction() as session:
        row = await session.get(Interview, interview.id)
        if row is not None and row.meeting_problem != reason:
            row.meeting_problem = reason
            session.add(_history(row, "meeting_not_created", "calendar", reason=reason))
    return False


async def _cancel_message(runtime: Runtime, interview_id: uuid.UUID) -> str:
    async with runtime.db.sessions() as session:
        message = await session.scalar(
            select(InterviewHistory.details["message"].astext)
            .where(
                InterviewHistory.interview_id == interview_id,
                InterviewHistory.action == "cancelled",
            )
            .order_by(InterviewHistory.at.desc())
            .limit(1)
        )
    return message or "This interview has been cancelled."


async def _relinked(runtime: Runtime, snapshot: Snapshot, event: WrittenEvent) -> None:
    """Adopt an event an interrupted create left in the calendar, instead of a second one."""
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, snapshot.link.id, with_for_update=True)
        interview = await session.get(Interview, snapshot.interview.id)
        if link is None or interview is None:
            return
        link.external_event_id = event.event_id
        _take_meeting_link(interview, event)
        session.add(_history(interview, "relinked", "calendar", mailbox=link.mailbox))
    log.info(
        "interview.relinked", interview=str(snapshot.interview.id), mailbox=snapshot.link.mailbox
    )


async def _synced(
    runtime: Runtime,
    snapshot: Snapshot,
    event_id: str | None,
    what: str,
    event: WrittenEvent | None = None,
) -> None:
    async with runtime.db.transaction() as session:
        await _relaxed(session)
        link = await session.get(CalendarLink, snapshot.link.id, with_for_update=True)
        interview = await session.get(Interview, snapshot.interview.id)
        if link is None or interview is None:
            return
        link.external_event_id = event_id
        link.synced_sequence = max(link.synced_sequence, snapshot.interview.sequence)
        link.state, link.last_error = "synced", None
        if event is not None:
            _take_meeting_link(interview, event)
        session.add(
            _history(interview, "calendar_synced", "calendar", mailbox=link.mailbox, result=what)
        )
        await webhooks.emit(
            runtime,
            session,
            interview.organization_id,
            "interview.calendar_synced",
            {**summary(interview), "mailbox": link.mailbox, "result": what},
        )
        if event is not None and any(answer != "none" for _, answer in event.responses):
            await _record_responses(session, interview.id, event)


def _take_meeting_link(interview: Interview, event: WrittenEvent) -> None:
    """The Teams link the calendar made with the event goes on the interview."""
    if event.join_url and interview.meeting_type == MeetingType.TEAMS.value:
        interview.meeting_url = event.join_url
        interview.meeting_problem = None


async def _record_responses(
    session: AsyncSession, interview_id: uuid.UUID, event: WrittenEvent
) -> None:
    """Attendee answers the calendar already holds (e.g. after a re-link)."""
    answers = dict(event.responses)
    rows = await session.scalars(
        select(InterviewAttendee).where(InterviewAttendee.interview_id == interview_id)
    )
    for attendee in rows:
        answer = answers.get(attendee.email_key)
        if answer and answer != "none" and answer != attendee.response:
            attendee.response = answer


async def _attempt_failed(runtime: Runtime, link_id: uuid.UUID, message: str) -> None:
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, link_id, with_for_update=True)
        if link is not None:
            link.attempts += 1
            link.last_error = message


async def _failed(runtime: Runtime, snapshot: Snapshot, reason: str) -> None:
    """A failure retrying will not cure: shown on the interview, with its reason."""
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, snapshot.link.id, with_for_update=True)
        interview = await session.get(Interview, snapshot.interview.id)
        if link is None or interview is None:
            return
        link.state, link.last_error = "failed", reason
        link.attempts += 1
        session.add(_history(interview, "calendar_failed", "calendar", reason=reason))
        await webhooks.emit(
            runtime,
            session,
            interview.organization_id,
            "interview.calendar_failed",
            {**summary(interview), "mailbox": link.mailbox, "reason": reason},
        )
    log.warning("interview.push_failed", interview=str(snapshot.interview.id), reason=reason)
