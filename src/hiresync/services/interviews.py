"""Interviews: create, confirm, edit, reschedule and cancel, each in one transaction.

Every change is checked in full before anything is written (a bad request leaves
nothing half-done), moves the interview through the lifecycle of
``domain.interviews``, records a history entry, and, when calendars must follow,
queues the push job *in the same transaction* (transactional outbox): the change and
the promise to push it commit together or not at all. The job itself lives in
``services.calendar_push``.

An edit is a JSON merge patch: what is left out stays, a field given with its current
value is no change, and an edit that changes nothing writes nothing. What a change does
(sent to the attendees or not, refused once sent) is ``domain.interviews.plan_edit``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import (
    Action,
    AttendeeRole,
    EditPlan,
    FixedOnceSent,
    InterviewStatus,
    InvalidTransition,
    Meeting,
    MeetingType,
    is_live,
    next_status,
    plan_edit,
)
from hiresync.jobs.engine import defer_in_transaction
from hiresync.runtime import Runtime
from hiresync.services import (
    candidate_mail,
    directory,
    interview_settings,
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
INVITERS = ("calendar", "email")


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


@dataclass(frozen=True)
class InterviewChanges:
    """An edit: None leaves a field as it is; an empty string clears location, notes and
    message. ``candidate`` and ``organizer`` may change on drafts only."""

    title: str | None = None
    candidate: CandidateIn | uuid.UUID | None = None
    interviewers: tuple[PersonRef, ...] | None = None
    organizer: PersonRef | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    meeting: Meeting | None = None
    location: str | None = None
    notes_for_interviewers: str | None = None
    message_to_candidate: str | None = None
    candidate_invitations: str | None = None


@dataclass
class InterviewView:
    interview: Interview
    candidate: Candidate
    attendees: list[InterviewAttendee]
    history: list[InterviewHistory] = field(default_factory=list)
    links: list[Any] = field(default_factory=list)
    emails: list[Any] = field(default_factory=list)


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


async def _team_member(
    session: AsyncSession, org_id: uuid.UUID, ref: PersonRef, field: str
) -> User:
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


async def _candidate(
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


async def _attendees(
    session: AsyncSession, org_id: uuid.UUID, refs: tuple[PersonRef, ...], candidate: Candidate
) -> list[tuple[User, str]]:
    if not refs:
        raise InvalidInput("Name at least one interviewer.", field="interviewers")
    if len(refs) > MAX_INTERVIEWERS:
        raise InvalidInput(f"At most {MAX_INTERVIEWERS} interviewers.", field="interviewers")
    people: dict[uuid.UUID, User] = {}
    for index, ref in enumerate(refs):
        user = await _team_member(session, org_id, ref, f"interviewers.{index}")
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
    candidate = await _candidate(session, org_id, new.candidate)
    interviewers = await _attendees(session, org_id, new.interviewers, candidate)
    settings = await interview_settings.load(session, org_id)
    organizer_user_id, organizer_mailbox = await _organizer(
        session, org_id, new.organizer, settings
    )
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
        meeting_url=meeting.url,
        meeting_id=meeting.meeting_id,
        meeting_passcode=meeting.passcode,
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
        session.add(_attendee(interview, AttendeeRole.INTERVIEWER, user.name, email, user.id))
    session.add(_attendee(interview, AttendeeRole.CANDIDATE, candidate.name, candidate.email))
    session.add(history_entry(interview, "created", actor))
    await session.flush()
    await _announce(runtime, session, interview, "interview.created")
    if new.confirm:
        await confirm(runtime, session, org_id, interview.id, actor)
    return interview


async def _organizer(
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
    user = await _team_member(session, org_id, ref, "organizer")
    return user.id, await _mailbox(session, org_id, user) or user.email


def _attendee(
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


async def _queue_push(runtime: Runtime, session: AsyncSession, interview: Interview) -> None:
    """The transactional outbox: the push job commits with the change, or neither does."""
    key = f"interview:{interview.id}"
    await defer_in_transaction(
        runtime.jobs,
        session,
        "push_interview",
        args={"interview_id": str(interview.id)},
        queueing_lock=key,
        lock=key,
    )


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


async def _announce(
    runtime: Runtime, session: AsyncSession, interview: Interview, event: str, **extra: Any
) -> None:
    data = {**summary(interview), **{k: v for k, v in extra.items() if v is not None}}
    await webhooks.emit(runtime, session, interview.organization_id, event, data)


async def _mail_candidate(
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
    interview.sequence += 1
    session.add(history_entry(interview, "confirmed", actor))
    await session.flush()
    await _queue_push(runtime, session, interview)
    await _mail_candidate(runtime, session, interview, "confirmed")
    await _announce(runtime, session, interview, "interview.confirmed")
    return interview


async def reschedule(
    runtime: Runtime,
    session: AsyncSession,
    org_id: uuid.UUID,
    interview_id: uuid.UUID,
    change: tuple[datetime, datetime, str],
    actor: str,
    now: datetime,
) -> Interview:
    """Move a confirmed interview; the same event moves, attendees get an update. It is
    an edit of the times, refused for drafts (whose times are simply edited)."""
    start, end, zone = change
    interview = await load(session, org_id, interview_id, lock=True)
    try:
        next_status(InterviewStatus(interview.status), Action.RESCHEDULE)
    except InvalidTransition as exc:
        raise StateConflict(str(exc)) from exc
    moved = InterviewChanges(start=start, end=end, time_zone=zone)
    return await edit(runtime, session, org_id, interview_id, moved, actor, now)


async def edit(
    runtime: Runtime,
    session: AsyncSession,
    org_id: uuid.UUID,
    interview_id: uuid.UUID,
    changes: InterviewChanges,
    actor: str,
    now: datetime,
) -> Interview:
    """Change what the interview says. A draft changes quietly; a sent interview's
    attendees get an update of the same event (and the candidate their e-mail, when
    hiresync invites them), unless only the notes for interviewers changed."""
    interview = await load(session, org_id, interview_id, lock=True)
    status = InterviewStatus(interview.status)
    _plan(status, frozenset())  # a cancelled interview refuses even an empty edit
    diff = await _diff(runtime, session, interview, changes, now)
    plan = _plan(status, frozenset(diff.after))
    if plan is None:
        return interview
    await _apply(session, interview, diff)
    interview.status = plan.after.value
    if plan.send:
        interview.sequence += 1
    session.add(history_entry(interview, plan.history, actor, before=diff.before, after=diff.after))
    await session.flush()
    if plan.send:
        await _queue_push(runtime, session, interview)
    if plan.mail_candidate:
        # Newly invited by e-mail: their first e-mail is an invitation, not an update.
        first = diff.values.get("candidate_invitations") == "email"
        await _mail_candidate(runtime, session, interview, "confirmed" if first else "rescheduled")
    changed = sorted(diff.after) if plan.webhook == "interview.updated" else None
    await _announce(runtime, session, interview, plan.webhook, changed=changed)
    return interview


def _plan(status: InterviewStatus, changed: frozenset[str]) -> EditPlan | None:
    try:
        return plan_edit(status, changed)
    except (InvalidTransition, FixedOnceSent) as exc:
        raise StateConflict(str(exc)) from exc


@dataclass
class _Diff:
    """What an edit really changes: each field as the history shows it before and after,
    and the checked value to write."""

    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def note(self, name: str, before: Any, after: Any, value: Any) -> None:
        if before != after:
            self.before[name], self.after[name], self.values[name] = before, after, value


async def _diff(
    runtime: Runtime,
    session: AsyncSession,
    interview: Interview,
    changes: InterviewChanges,
    now: datetime,
) -> _Diff:
    """Every change checked as create checks it, nothing written yet."""
    diff = _Diff()
    if changes.title is not None:
        title = check_title(changes.title)
        diff.note("title", interview.title, title, title)
    for name in TEXT_LIMITS:
        given = getattr(changes, name)
        if given is not None:
            text = check_text(name, given)
            diff.note(name, getattr(interview, name), text, text)
    _diff_times(diff, interview, changes, now)
    _diff_meeting(diff, interview, changes.meeting)
    candidate = await _diff_candidate(session, diff, interview, changes.candidate)
    await _diff_interviewers(session, diff, interview, changes.interviewers, candidate)
    await _diff_organizer(session, diff, interview, changes.organizer)
    await _diff_invitations(runtime, session, diff, interview, changes.candidate_invitations)
    return diff


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _diff_times(
    diff: _Diff, interview: Interview, changes: InterviewChanges, now: datetime
) -> None:
    """New times are checked as create checks them; a move shows both ends in history."""
    start = changes.start or interview.start
    end = changes.end or interview.end
    zone = changes.time_zone or interview.time_zone
    check_offsets(start, end)
    if (start, end, zone) == (interview.start, interview.end, interview.time_zone):
        return
    check_times(start, end, zone, now)
    diff.before.update(start=_utc(interview.start), end=_utc(interview.end))
    diff.after.update(start=_utc(start), end=_utc(end))
    diff.values.update(start=start, end=end)
    diff.note("time_zone", interview.time_zone, zone, zone)


def meeting_of(interview: Interview) -> Meeting:
    return Meeting(
        MeetingType(interview.meeting_type),
        interview.meeting_url,
        interview.meeting_id,
        interview.meeting_passcode,
        interview.meeting_phone,
        interview.meeting_address,
    )


def _meeting_shown(meeting: Meeting) -> dict[str, str]:
    """A meeting as history shows it; a Teams link is the calendar's, not the recruiter's."""
    if meeting.type is MeetingType.TEAMS:
        return {"type": meeting.type.value}
    parts = ("url", "meeting_id", "passcode", "phone", "address")
    return {"type": meeting.type.value} | {
        p: getattr(meeting, p) for p in parts if getattr(meeting, p)
    }


def _diff_meeting(diff: _Diff, interview: Interview, meeting: Meeting | None) -> None:
    """An in-person interview needs its address, also when only the location is cleared."""
    if meeting is None and "location" not in diff.values:
        return
    current = meeting_of(interview)
    wanted = meeting or current
    location = diff.values.get("location", interview.location)
    check_meeting(wanted, location)
    diff.note("meeting", _meeting_shown(current), _meeting_shown(wanted), wanted)


def _candidate_shown(candidate: Candidate) -> str:
    return f"{candidate.name} <{candidate.email}> ({candidate.time_zone})"


async def _diff_candidate(
    session: AsyncSession, diff: _Diff, interview: Interview, ref: CandidateIn | uuid.UUID | None
) -> Candidate:
    """The candidate after the edit. A sent interview's is compared by identity only, and
    never written: changing it is refused by the plan."""
    current = await session.get(Candidate, interview.candidate_id)
    assert current is not None
    shown = _candidate_shown(current)  # before ``_candidate`` may rename the same row
    if ref is None:
        return current
    if is_live(InterviewStatus(interview.status)):
        same = ref == current.id if isinstance(ref, uuid.UUID) else _same_address(ref, current)
        if not same:
            diff.note(
                "candidate", shown, str(ref if isinstance(ref, uuid.UUID) else ref.email), None
            )
        return current
    found = await _candidate(session, interview.organization_id, ref)
    diff.note("candidate", shown, _candidate_shown(found), found)
    return found


def _same_address(ref: CandidateIn, candidate: Candidate) -> bool:
    return ref.email.strip().lower() == candidate.email_key


async def _interviewers(session: AsyncSession, interview: Interview) -> list[InterviewAttendee]:
    return list(
        await session.scalars(
            select(InterviewAttendee).where(
                InterviewAttendee.interview_id == interview.id,
                InterviewAttendee.role == AttendeeRole.INTERVIEWER.value,
            )
        )
    )


async def _diff_interviewers(
    session: AsyncSession,
    diff: _Diff,
    interview: Interview,
    refs: tuple[PersonRef, ...] | None,
    candidate: Candidate,
) -> None:
    rows = await _interviewers(session, interview)
    if refs is None:
        if any(row.email_key == candidate.email_key for row in rows):
            raise InvalidInput(
                f"{candidate.email} is both the candidate and an interviewer.", field="candidate"
            )
        return
    people = await _attendees(session, interview.organization_id, refs, candidate)
    before = sorted(row.email for row in rows)
    diff.note("interviewers", before, sorted(email for _, email in people), people)


async def _diff_organizer(
    session: AsyncSession, diff: _Diff, interview: Interview, ref: PersonRef | None
) -> None:
    """Whose calendar holds the event. A sent interview's is compared, never written:
    naming the same person again is no change, anyone else is refused by the plan."""
    if ref is None:
        return
    org_id = interview.organization_id
    if is_live(InterviewStatus(interview.status)):
        user = await _team_member(session, org_id, ref, "organizer")
        if user.id != interview.organizer_user_id:
            diff.note("organizer", interview.organizer_mailbox, user.email, None)
        return
    settings = await interview_settings.load(session, org_id)
    found = await _organizer(session, org_id, ref, settings)
    diff.note("organizer", interview.organizer_mailbox, found[1], found)


async def _diff_invitations(
    runtime: Runtime,
    session: AsyncSession,
    diff: _Diff,
    interview: Interview,
    wanted: str | None,
) -> None:
    """Who invites the candidate. Back to the calendar is refused once hiresync's e-mail
    reached them: the calendar's invitation would be a second copy in their calendar."""
    if wanted is None or wanted == interview.candidate_invited_by:
        return
    if wanted not in INVITERS:
        raise InvalidInput(
            "candidate_invitations must be 'calendar' or 'email'.", field="candidate_invitations"
        )
    if wanted == "email":
        candidate_mail.require_smtp(runtime.settings)
    elif is_live(InterviewStatus(interview.status)) and any(
        e.status != "failed" for e in await candidate_mail.log_for(session, interview.id)
    ):
        raise StateConflict(
            "The candidate already has hiresync's e-mailed invitation; the calendar's "
            "would be a second copy in their calendar.",
            hint="Keep e-mail invitations for this interview, or cancel it and create a new one.",
            field="candidate_invitations",
        )
    diff.note("candidate_invitations", interview.candidate_invited_by, wanted, wanted)


async def _apply(session: AsyncSession, interview: Interview, diff: _Diff) -> None:
    """Write a checked edit. Interviewers leave before the candidate changes, and join
    after it, so no two attendee rows share an address even for a moment."""
    values = diff.values
    for name in ("title", "start", "end", "time_zone", *TEXT_LIMITS):
        if name in values:
            setattr(interview, name, values[name])
    if "candidate_invitations" in values:
        interview.candidate_invited_by = values["candidate_invitations"]
    if "organizer" in values:
        interview.organizer_user_id, interview.organizer_mailbox = values["organizer"]
    if "meeting" in values:
        _set_meeting(interview, values["meeting"])
    people = values.get("interviewers")
    kept = await _remove_interviewers(session, interview, people)
    if "candidate" in values:
        await _set_candidate(session, interview, values["candidate"])
    for user, email in people or ():
        if user.id not in kept:
            session.add(_attendee(interview, AttendeeRole.INTERVIEWER, user.name, email, user.id))


async def _remove_interviewers(
    session: AsyncSession, interview: Interview, people: list[tuple[User, str]] | None
) -> set[uuid.UUID]:
    """Those who leave go (flushed); the ids of those who stay, whose answers stay too."""
    if people is None:
        return set()
    wanted = {user.id for user, _ in people}
    kept = set()
    for row in await _interviewers(session, interview):
        if row.user_id in wanted:
            kept.add(row.user_id)
        else:
            await session.delete(row)
    await session.flush()
    return kept


async def _set_candidate(session: AsyncSession, interview: Interview, candidate: Candidate) -> None:
    interview.candidate_id = candidate.id
    row = await session.scalar(
        select(InterviewAttendee).where(
            InterviewAttendee.interview_id == interview.id,
            InterviewAttendee.role == AttendeeRole.CANDIDATE.value,
        )
    )
    if row is None:
        session.add(_attendee(interview, AttendeeRole.CANDIDATE, candidate.name, candidate.email))
    else:
        row.name, row.email, row.email_key = candidate.name, candidate.email, candidate.email_key
    await session.flush()


def _set_meeting(interview: Interview, meeting: Meeting) -> None:
    """A Teams meeting's link is made by the calendar with the event (on the next push)."""
    interview.meeting_type = meeting.type.value
    interview.meeting_url = None if meeting.type is MeetingType.TEAMS else meeting.url or None
    interview.meeting_id = meeting.meeting_id or None
    interview.meeting_passcode = meeting.passcode or None
    interview.meeting_phone = meeting.phone or None
    interview.meeting_address = meeting.address or None
    interview.meeting_problem = None


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
        await _queue_push(runtime, session, interview)
        await _mail_candidate(runtime, session, interview, "cancelled")
    await _announce(runtime, session, interview, "interview.cancelled", message=message)
    return interview


async def view(session: AsyncSession, org_id: uuid.UUID, interview_id: uuid.UUID) -> InterviewView:
    from hiresync.store.tables import CalendarLink

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
    links = list(
        await session.scalars(select(CalendarLink).where(CalendarLink.interview_id == interview.id))
    )
    emails = await candidate_mail.log_for(session, interview.id)
    return InterviewView(interview, candidate, attendees, history, links, emails)
