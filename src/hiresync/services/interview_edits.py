"""Editing an interview that exists: ``edit`` and ``reschedule`` (an edit of the times).

Kept apart from ``services.interviews`` (create, confirm, cancel, view and the checks
and helpers they share) because an edit is its own use case, as large as all of those
together: it compares every field with what the interview holds, checks each as create
checks it, and writes only what really changed. It uses ``services.interviews``; that
module never imports this one.

An edit is a JSON merge patch: what is left out stays, a field given with its current
value is no change, and an edit that changes nothing writes nothing. What a change does
(sent to the attendees or not, refused once sent) is ``domain.interviews.plan_edit``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import (
    GENERATED_MEETINGS,
    Action,
    AttendeeRole,
    EditPlan,
    FixedOnceSent,
    InterviewStatus,
    InvalidTransition,
    Meeting,
    MeetingType,
    is_live,
    made_on_host_account,
    made_with_event,
    next_status,
    plan_edit,
)
from hiresync.runtime import Runtime
from hiresync.services import candidate_mail, interview_settings, meeting_push
from hiresync.services.errors import InvalidInput
from hiresync.services.freebusy import PersonRef
from hiresync.services.interviews import (
    TEXT_LIMITS,
    CandidateIn,
    StateConflict,
    announce,
    attendee_row,
    candidate_for,
    check_meeting,
    check_offsets,
    check_text,
    check_times,
    check_title,
    history_entry,
    interviewers_for,
    load,
    mail_candidate,
    meeting_host_for,
    organizer_for,
    queue_push,
    team_member,
)
from hiresync.store.tables import Candidate, Interview, InterviewAttendee, User

INVITERS = ("calendar", "email")


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
    meeting_host: PersonRef | None = None  # a Zoom meeting's host, before it is made


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
        await _zoom_host(session, interview, changes, check=False)
        return interview
    await _apply(session, interview, diff)
    await _zoom_host(session, interview, changes, check="meeting" in diff.values)
    interview.status = plan.after.value
    if plan.send:
        interview.sequence += 1
    session.add(history_entry(interview, plan.history, actor, before=diff.before, after=diff.after))
    await session.flush()
    if plan.send:
        await queue_push(runtime, session, interview)
    if plan.mail_candidate:
        # Newly invited by e-mail: their first e-mail is an invitation, not an update.
        first = diff.values.get("candidate_invitations") == "email"
        await mail_candidate(runtime, session, interview, "confirmed" if first else "rescheduled")
    changed = sorted(diff.after) if plan.webhook == "interview.updated" else None
    await announce(runtime, session, interview, plan.webhook, changed=changed)
    return interview


async def _zoom_host(
    session: AsyncSession, interview: Interview, changes: InterviewChanges, *, check: bool
) -> None:
    """A Zoom meeting's host when the meeting becomes Zoom or a host is named; a sent
    interview switched to Zoom needs that host's connection, as confirming does."""
    if not made_on_host_account(interview.meeting_type):
        return
    if not check and changes.meeting_host is None:
        return
    meeting = meeting_of(interview)
    host = await meeting_host_for(
        session,
        interview.organization_id,
        meeting,
        interview.organizer_user_id,
        changes.meeting_host,
    )
    if host is not None:
        await meeting_push.attach(session, interview, host)
    if is_live(InterviewStatus(interview.status)):
        await meeting_push.require_connected(session, interview)


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
    """A meeting as history shows it; a Teams or Zoom link is the provider's, not the
    recruiter's."""
    if meeting.type in GENERATED_MEETINGS:
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
    shown = _candidate_shown(current)  # before ``candidate_for`` may rename the same row
    if ref is None:
        return current
    if is_live(InterviewStatus(interview.status)):
        same = ref == current.id if isinstance(ref, uuid.UUID) else _same_address(ref, current)
        if not same:
            diff.note(
                "candidate", shown, str(ref if isinstance(ref, uuid.UUID) else ref.email), None
            )
        return current
    found = await candidate_for(session, interview.organization_id, ref)
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
    people = await interviewers_for(session, interview.organization_id, refs, candidate)
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
        user = await team_member(session, org_id, ref, "organizer")
        if user.id != interview.organizer_user_id:
            diff.note("organizer", interview.organizer_mailbox, user.email, None)
        return
    settings = await interview_settings.load(session, org_id)
    found = await organizer_for(session, org_id, ref, settings)
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
        if made_with_event(diff.before["meeting"].get("type")):
            _kept_teams_link(interview)
    people = values.get("interviewers")
    kept = await _remove_interviewers(session, interview, people)
    if "candidate" in values:
        await _set_candidate(session, interview, values["candidate"])
    for user, email in people or ():
        if user.id not in kept:
            session.add(
                attendee_row(interview, AttendeeRole.INTERVIEWER, user.name, email, user.id)
            )


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
        session.add(
            attendee_row(interview, AttendeeRole.CANDIDATE, candidate.name, candidate.email)
        )
    else:
        row.name, row.email, row.email_key = candidate.name, candidate.email, candidate.email_key
    await session.flush()


def _kept_teams_link(interview: Interview) -> None:
    """Outlook keeps an online meeting once made: Graph ignores ``isOnlineMeeting`` after
    it is set (docs: "the meeting remains available online"). A sent interview moved away
    from Teams therefore still shows the Teams link beside the new details; say so."""
    if interview.status == "draft" or made_with_event(interview.meeting_type):
        return
    interview.meeting_problem = (
        "Outlook keeps the Teams meeting it already made for this interview, so the "
        "invitation still shows a Teams link beside the new meeting details. To remove "
        "it, cancel this interview and create a new one."
    )


def _set_meeting(interview: Interview, meeting: Meeting) -> None:
    """A Teams meeting's link is made by the calendar with the event, a Zoom meeting's by
    the push on the host's account (both on the next push)."""
    generated, zoom = meeting.type in GENERATED_MEETINGS, made_on_host_account(meeting.type)
    interview.meeting_type = meeting.type.value
    interview.meeting_url = None if generated else meeting.url or None
    interview.meeting_id = None if zoom else meeting.meeting_id or None
    interview.meeting_passcode = None if zoom else meeting.passcode or None
    interview.meeting_phone = meeting.phone or None
    interview.meeting_address = meeting.address or None
    interview.meeting_problem = None
