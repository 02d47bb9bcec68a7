"""Interviews: create, confirm and cancel, each in one transaction, and the view of one.

Every change is checked in full before anything is written (a bad request leaves
nothing half-done), moves the interview through the lifecycle of
``domain.interviews``, records a history entry, and, when calendars must follow,
queues the push job *in the same transaction* (transactional outbox): the change and
the promise to push it commit together or not at all. The job itself lives in
``services.calendar_push``.

Editing and rescheduling an interview live in ``services.interview_edits``, which uses
the checks and helpers here (``check_*``, ``candidate_for``, ``queue_push``, ...) so an
edit is checked and announced exactly as a new interview is. This module never imports
that one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import (
    Action,
    AttendeeRole,
    InterviewStatus,
    InvalidTransition,
    Meeting,
    MeetingType,
    is_live,
    made_on_host_account,
    next_status,
)
from hiresync.jobs.engine import defer_in_transaction
from hiresync.runtime import Runtime
from hiresync.services import (
    calendar_events,
    candidate_mail,
    directory,
    interview_settings,
    meeting_push,
    validation,
    webhooks,
)
from hiresync.services.errors import AlreadyExists, InvalidInput, NotConnected, NotFound
from hiresync.services.freebusy import PersonRef
from hiresync.store.tables import (
    Candidate,
    DirectoryMatch,
    Interview,
    InterviewAttendee,
    InterviewHistory,
    User,
)

MAX_LENGTH = timedelta(hours=12)
MAX_INTERVIEWERS = 20
PAST_GRACE = timedelta(minutes=5)
# Free text an interview keeps, with its longest length (the columns' and the API's).
TEXT_LIMITS = {"location": 500, "notes_for_interviewers": 10000, "message_to_candidate": 10000}


class StateConflict(AlreadyExists):
    """The interview's status does not allow the action (409)."""

    code = "invalid_state"


@dataclass(frozen=True)
class CandidateIn:
    name: str
    email: str
    time_zone: str = "UTC"


@dataclass(frozen=True)
class NewInterview:
    title: str
    candidate: CandidateIn | uuid.UUID
    interviewers: tuple[PersonRef, ...]
    organizer: PersonRef | None
    start: datetime
    end: datetime
    time_zone: str
    meeting: Meeting
    location: str | None = None
    notes_for_interviewers: str | None = None
    message_to_candidate: str | None = None
    confirm: bool = False
    meeting_host: PersonRef | None = None  # a Zoom meeting's host; default: the organizer


@dataclass
class InterviewView:
    interview: Interview
    candidate: Candidate
    attendees: list[InterviewAttendee]
    history: list[InterviewHistory] = field(default_factory=list)
    links: list[Any] = field(default_factory=list)
    emails: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the meeting host's plan limits


# -- checks ------------------------------------------------------------------------------


def check_offsets(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "start and end need a UTC offset.",
            hint="Write them like 2026-12-01T15:00:00Z, or with an offset like +01:00.",
            field="start",
        )


def check_times(start: datetime, end: datetime, zone: str, now: datetime) -> None:
    validation.time_zone(zone)
    check_offsets(start, end)
    if end <= start:
        raise InvalidInput("The interview ends before it starts.", field="end")
    if end - start > MAX_LENGTH:
        raise InvalidInput("An interview may last at most 12 hours.", field="end")
    if start < now - PAST_GRACE:
        raise InvalidInput(
            "The interview would start in the past.",
            hint="Pick a time from now on.",
            field="start",
        )


def check_meeting(meeting: Meeting, location: str | None) -> Meeting:
    """Each meeting type has what it needs to be joined."""
    if meeting.type is MeetingType.CUSTOM_LINK:
        parts = urlsplit(meeting.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                "A custom meeting link needs its URL.",
                hint="Paste the full link, like https://meet.example.com/abc-defg.",
                field="meeting.url",
            )
    if meeting.type is MeetingType.PHONE and not meeting.phone:
        raise InvalidInput("A phone interview needs the number to call.", field="meeting.phone")
    if meeting.type is MeetingType.IN_PERSON and not (meeting.address or location):
        raise InvalidInput("An in-person interview needs an address.", field="meeting.address")
    return meeting


def check_title(value: str) -> str:
    title = value.strip()
    if not 1 <= len(title) <= 300:
        raise InvalidInput("A title of 1 to 300 characters is required.", field="title")
    return title


def check_text(name: str, value: str) -> str | None:
    """Free text as kept: trimmed, None when empty, refused when too long."""
    text = value.strip()
    if len(text) > TEXT_LIMITS[name]:
        raise InvalidInput(
            f"{name.replace('_', ' ').capitalize()} may be at most {TEXT_LIMITS[name]} "
            f"characters; this is {len(text)}.",
            field=name,
        )
    return text or None


async def team_member(session: AsyncSession, org_id: uuid.UUID, ref: PersonRef, field: str) -> User:
    clause = (
        User.id == ref.user_id
        if ref.user_id
        else User.email_key == (ref.email or "").strip().lower()
    )
    user = await session.scalar(select(User).where(User.organization_id == org_id, clause))
    if user is None:
        who = ref.user_id or ref.email
        raise InvalidInput(
            f"{who} is not on this organization's hiring team.",
            hint="Use ids or addresses from GET /v1/users.",
            field=field,
        )
    return user


async def _mailbox(session: AsyncSession, org_id: uuid.UUID, user: User) -> str | None:
    return await session.scalar(
        select(DirectoryMatch.mailbox).where(
            DirectoryMatch.organization_id == org_id, DirectoryMatch.user_id == user.id
        )
    )


async def candidate_for(
    session: AsyncSession, org_id: uuid.UUID, ref: CandidateIn | uuid.UUID
) -> Candidate:
    """The candidate by id, or by address (created on first use, name and zone updated)."""
    if isinstance(ref, uuid.UUID):
        found = await session.scalar(
            select(Candidate).where(Candidate.organization_id == org_id, Candidate.id == ref)
        )
        if found is None:
            raise InvalidInput(f"No candidate {ref} in this organization.", field="candidate")
        return found
    email = validation.email(ref.email, field="candidate.email")
    zone = validation.time_zone(ref.time_zone, field="candidate.time_zone")
    name = validation.name(ref.name, field="candidate.name")
    found = await session.scalar(
        select(Candidate).where(
            Candidate.organization_id == org_id, Candidate.email_key == email.lower()
        )
    )
    if found is None:
        found = Candidate(organization_id=org_id, name=name, email=email, email_key=email.lower())
        session.add(found)
    found.name, found.time_zone = name, zone
    await session.flush()
    return found


# -- use cases ---------------------------------------------------------------------------


def history_entry(
    interview: Interview, action: str, actor: str, **details: Any
) -> InterviewHistory:
    """One line of the interview's history; empty details are left out."""
    return InterviewHistory(
        organization_id=interview.organization_id,
        interview_id=interview.id,
        action=action,
        actor=actor,
        details={k: v for k, v in details.items() if v is not None},
    )


async def interviewers_for(
    session: AsyncSession, org_id: uuid.UUID, refs: tuple[PersonRef, ...], candidate: Candidate
) -> list[tuple[User, str]]:
    if not refs:
        raise InvalidInput("Name at least one interviewer.", field="interviewers")
    if len(refs) > MAX_INTERVIEWERS:
        raise InvalidInput(f"At most {MAX_INTERVIEWERS} interviewers.", field="interviewers")
    people: dict[uuid.UUID, User] = {}
    for index, ref in enumerate(refs):
        user = await team_member(session, org_id, ref, f"interviewers.{index}")
        people[user.id] = user
    for user in people.values():
        if user.email_key == candidate.email_key:
            raise InvalidInput(
                f"{user.email} is both the candidate and an interviewer.", field="interviewers"
            )
    return [(u, u.email) for u in people.values()]


async def create(
    runtime: Runtime,
    session: AsyncSession,
    org_id: uuid.UUID,
    new: NewInterview,
    actor: str,
    now: datetime,
) -> Interview:
    """A draft interview (confirmed at once with ``new.confirm``)."""
    title = check_title(new.title)
    check_times(new.start, new.end, new.time_zone, now)
    location, notes, message = (
        check_text(name, value or "")
        for name, value in (
            ("location", new.location),
            ("notes_for_interviewers", new.notes_for_interviewers),
            ("message_to_candidate", new.message_to_candidate),
        )
    )
    meeting = check_meeting(new.meeting, location)
    candidate = await candidate_for(session, org_id, new.candidate)
    interviewers = await interviewers_for(session, org_id, new.interviewers, candidate)
    settings = await interview_settings.load(session, org_id)
    organizer_user_id, organizer_mailbox = await organizer_for(
        session, org_id, new.organizer, settings
    )
    host = await meeting_host_for(session, org_id, meeting, organizer_user_id, new.meeting_host)
    generated = made_on_host_account(meeting.type)  # its link is made on the host's account
    interview = Interview(
        organization_id=org_id,
        title=title,
        candidate_id=candidate.id,
        organizer_user_id=organizer_user_id,
        organizer_mailbox=organizer_mailbox,
        start=new.start,
        end=new.end,
        time_zone=new.time_zone,
        location=location,
        meeting_type=meeting.type.value,
        meeting_url=None if generated else meeting.url,
        meeting_id=None if generated else meeting.meeting_id,
        meeting_passcode=None if generated else meeting.passcode,
        meeting_phone=meeting.phone,
        meeting_address=meeting.address,
        notes_for_interviewers=notes,
        message_to_candidate=message,
        status=InterviewStatus.DRAFT.value,
        sequence=0,
        candidate_invited_by=settings.candidate_invitations,
        created_by=actor,
    )
    session.add(interview)
    await session.flush()
    for user, email in interviewers:
        session.add(attendee_row(interview, AttendeeRole.INTERVIEWER, user.name, email, user.id))
    session.add(attendee_row(interview, AttendeeRole.CANDIDATE, candidate.name, candidate.email))
    session.add(history_entry(interview, "created", actor))
    if host is not None:
        await meeting_push.attach(session, interview, host)
    await session.flush()
    await announce(runtime, session, interview, "interview.created")
    if new.confirm:
        await confirm(runtime, session, org_id, interview.id, actor)
    return interview


async def organizer_for(
    session: AsyncSession,
    org_id: uuid.UUID,
    ref: PersonRef | None,
    settings: interview_settings.InterviewSettings,
) -> tuple[uuid.UUID | None, str]:
    """Whose calendar holds the event: the organization's shared interviews mailbox when
    it has one set, else the named team member (the scheduler)."""
    if settings.organizer == "shared_mailbox" and settings.shared_mailbox:
        return None, settings.shared_mailbox
    if ref is None:
        raise InvalidInput(
            "Name the organizer: the team member whose calendar holds the interview.",
            hint="Or set a shared interviews mailbox in PATCH /v1/interview-settings.",
            field="organizer",
        )
    user = await team_member(session, org_id, ref, "organizer")
    return user.id, await _mailbox(session, org_id, user) or user.email


async def meeting_host_for(
    session: AsyncSession,
    org_id: uuid.UUID,
    meeting: Meeting,
    organizer_user_id: uuid.UUID | None,
    ref: PersonRef | None,
) -> User | None:
    """Whose Zoom account makes the meeting: the named host, else the organizer when a team
    member organizes (a shared mailbox has no Zoom account of its own). None for others."""
    if not made_on_host_account(meeting.type):
        return None
    if ref is not None:
        return await team_member(session, org_id, ref, "meeting.host")
    if organizer_user_id is not None:
        host = await session.get(User, organizer_user_id)
        if host is not None:
            return host
    raise InvalidInput(
        "A Zoom interview organized from the shared interviews mailbox needs a host: the "
        "team member whose Zoom account makes the meeting.",
        hint='Name them: "meeting": {"type": "zoom", "host": {"email": "…"}}.',
        field="meeting.host",
    )


def attendee_row(
    interview: Interview,
    role: AttendeeRole,
    name: str,
    email: str,
    user_id: uuid.UUID | None = None,
) -> InterviewAttendee:
    return InterviewAttendee(
        organization_id=interview.organization_id,
        interview_id=interview.id,
        role=role.value,
        user_id=user_id,
        name=name,
        email=email,
        email_key=email.lower(),
        response="none",
    )


async def load(
    session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID, *, lock: bool = False
) -> Interview:
    query = select(Interview).where(
        Interview.organization_id == org_id, Interview.id == interview_id
    )
    interview = await session.scalar(query.with_for_update() if lock else query)
    if interview is None:
        raise NotFound(f"No interview {interview_id} in this organization.", field="interview_id")
    return interview


def _move(interview: Interview, action: Action) -> None:
    try:
        interview.status = next_status(InterviewStatus(interview.status), action).value
    except InvalidTransition as exc:
        raise StateConflict(str(exc)) from exc


async def queue_push(runtime: Runtime, session: AsyncSession, interview: Interview) -> None:
    """The transactional outbox: the push job commits with the change, or neither does.

    Every change queues its own job, run one at a time per interview (``lock``). No
    ``queueing_lock``: a job already waiting may start before this change commits and
    push the state before it, and a job that died mid-run could not be put back while
    another waited under the same queueing lock. A job that finds its interview
    already pushed costs one read."""
    key = f"interview:{interview.id}"
    await defer_in_transaction(
        runtime.jobs,
        session,
        "push_interview",
        args={"interview_id": str(interview.id)},
        lock=key,
    )
    # The copies in interviewers' own synced calendars follow in the same transaction.
    await calendar_events.mirror_interview(runtime, session, interview)


def summary(interview: Interview) -> dict[str, Any]:
    """What a webhook says about an interview: enough to act on, the rest by GET."""
    return {
        "interview_id": str(interview.id),
        "status": interview.status,
        "sequence": interview.sequence,
        "title": interview.title,
        "start": interview.start.isoformat(),
        "end": interview.end.isoformat(),
        "time_zone": interview.time_zone,
    }


async def announce(
    runtime: Runtime, session: AsyncSession, interview: Interview, event: str, **extra: Any
) -> None:
    data = {**summary(interview), **{k: v for k, v in extra.items() if v is not None}}
    await webhooks.emit(runtime, session, interview.organization_id, event, data)


async def mail_candidate(
    runtime: Runtime, session: AsyncSession, interview: Interview, action: str
) -> None:
    """The candidate's own e-mail, when hiresync (not the calendar) invites them."""
    if interview.candidate_invited_by == "email":
        await candidate_mail.queue(runtime, session, interview, action)


async def _require_connection(session: AsyncSession, org_id: uuid.UUID) -> None:
    connection = await directory.live_connection(session, org_id)
    if connection is None or connection.status != "active":
        raise NotConnected(
            "The company calendar is not connected, so the interview cannot be sent.",
            hint="An admin connects it in Settings › Calendar sync; the draft is kept.",
        )


async def confirm(
    runtime: Runtime, session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID, actor: str
) -> Interview:
    """Send the interview: every calendar gets it and every attendee an invitation."""
    interview = await load(session, org_id, interview_id, lock=True)
    _move(interview, Action.CONFIRM)
    await _require_connection(session, org_id)
    await meeting_push.require_connected(session, interview)
    interview.sequence += 1
    session.add(history_entry(interview, "confirmed", actor))
    await session.flush()
    await queue_push(runtime, session, interview)
    await mail_candidate(runtime, session, interview, "confirmed")
    await announce(runtime, session, interview, "interview.confirmed")
    return interview


async def cancel(
    runtime: Runtime,
    session: AsyncSession,
    org_id: uuid.UUID,
    interview_id: uuid.UUID,
    message: str | None,
    actor: str,
) -> Interview:
    """Cancel; a sent interview is cancelled in calendars with ``message`` to attendees."""
    interview = await load(session, org_id, interview_id, lock=True)
    was_live = is_live(InterviewStatus(interview.status))
    _move(interview, Action.CANCEL)
    interview.sequence += 1
    session.add(history_entry(interview, "cancelled", actor, message=message))
    await session.flush()
    if was_live:
        await queue_push(runtime, session, interview)
        await mail_candidate(runtime, session, interview, "cancelled")
    await announce(runtime, session, interview, "interview.cancelled", message=message)
    return interview


# Everything an interview's page shows, hashed in one statement: the page's live stream
# compares it once a second (web.live), so its cost is what matters.
_FINGERPRINT = text(
    """
SELECT md5(concat_ws('|', i.updated_at, i.sequence, i.status, i.meeting_url, i.meeting_problem,
  (SELECT count(*) || ':' || coalesce(max(h.at)::text, '')
     FROM interview_history h WHERE h.interview_id = i.id),
  (SELECT string_agg(l.state || l.synced_sequence || coalesce(l.last_error, ''), ',' ORDER BY l.id)
     FROM interview_calendar_links l WHERE l.interview_id = i.id),
  (SELECT string_agg(a.response, ',' ORDER BY a.id)
     FROM interview_attendees a WHERE a.interview_id = i.id)))
  FROM interviews i
 WHERE i.id = :interview_id AND i.organization_id = :org_id
"""
)


async def fingerprint(
    session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID
) -> str | None:
    """A hash that moves whenever anything the interview's page shows changes; None when
    there is no such interview in the organization."""
    found: str | None = await session.scalar(
        _FINGERPRINT, {"interview_id": interview_id, "org_id": org_id}
    )
    return found


async def view(session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID) -> InterviewView:
    from hiresync.store.tables import CalendarLink

    # The links first: each statement sees its own snapshot, and a write records its link,
    # the interview's meeting link and its history line in one commit. Read in this order,
    # a link seen as written always comes with its Teams link and its history line (read the
    # other way round, a page could say "written" and show neither).
    links = list(
        await session.scalars(
            select(CalendarLink).where(
                CalendarLink.organization_id == org_id, CalendarLink.interview_id == interview_id
            )
        )
    )
    interview = await load(session, org_id, interview_id)
    candidate = await session.get(Candidate, interview.candidate_id)
    assert candidate is not None
    attendees = list(
        await session.scalars(
            select(InterviewAttendee)
            .where(InterviewAttendee.interview_id == interview.id)
            .order_by(InterviewAttendee.role.desc(), InterviewAttendee.name)
        )
    )
    history = list(
        await session.scalars(
            select(InterviewHistory)
            .where(InterviewHistory.interview_id == interview.id)
            .order_by(InterviewHistory.at, InterviewHistory.id)
        )
    )
    emails = await candidate_mail.log_for(session, interview.id)
    warnings = await meeting_push.warnings_for(session, interview)
    return InterviewView(interview, candidate, attendees, history, links, emails, warnings)
