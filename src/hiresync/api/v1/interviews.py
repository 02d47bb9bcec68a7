"""Interviews: create (draft or sent), confirm, edit, reschedule, cancel; and their
candidates."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.api.v1.interview_schemas import (
    CancelIn,
    CandidateOut,
    InterviewIn,
    InterviewOut,
    InterviewPatch,
    InterviewSettingsBody,
    MeetingIn,
    ReplacementOut,
    RescheduleIn,
)
from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.services import interview_edits, interview_settings, interviews, responses
from hiresync.services.errors import InvalidInput
from hiresync.services.freebusy import PersonRef
from hiresync.store.tables import Candidate, Interview

router = APIRouter(tags=["interviews"])
ACTOR = "api"


def _ref(person: Any) -> PersonRef:
    return PersonRef(user_id=person.user_id, email=person.email)


def _meeting(m: MeetingIn) -> Meeting:
    return Meeting(MeetingType(m.type), m.url, m.meeting_id, m.passcode, m.phone, m.address)


def _new(body: InterviewIn) -> interviews.NewInterview:
    if (body.candidate is None) == (body.candidate_id is None):
        raise InvalidInput(
            "Give either candidate (name, email) or candidate_id, not both or neither.",
            field="candidate",
        )
    candidate = (
        body.candidate_id
        if body.candidate_id
        else interviews.CandidateIn(**body.candidate.model_dump())  # type: ignore[union-attr]
    )
    return interviews.NewInterview(
        title=body.title,
        candidate=candidate,
        interviewers=tuple(_ref(p) for p in body.interviewers),
        organizer=_ref(body.organizer) if body.organizer else None,
        start=body.start,
        end=body.end,
        time_zone=body.time_zone,
        meeting=_meeting(body.meeting),
        location=body.location,
        notes_for_interviewers=body.notes_for_interviewers,
        message_to_candidate=body.message_to_candidate,
        confirm=body.confirm,
        meeting_host=_ref(body.meeting.host) if body.meeting.host else None,
    )


CLEARABLE = frozenset({"location", "notes_for_interviewers", "message_to_candidate"})


def _changes(body: InterviewPatch) -> interview_edits.InterviewChanges:
    """Merge-patch semantics: left out is kept; null clears what may be empty, and is
    refused (with the way to keep it) for the rest."""
    given = body.model_fields_set
    for name in sorted(given - CLEARABLE):
        if getattr(body, name) is None:
            raise InvalidInput(
                f"{name} cannot be null.", hint="Leave it out to keep it as it is.", field=name
            )
    if body.candidate is not None and body.candidate_id is not None:
        raise InvalidInput("Give candidate or candidate_id, not both.", field="candidate")
    candidate = body.candidate_id or (
        interviews.CandidateIn(**body.candidate.model_dump()) if body.candidate else None
    )
    texts = {name: getattr(body, name) or "" for name in CLEARABLE & given}
    return interview_edits.InterviewChanges(
        title=body.title,
        candidate=candidate,
        interviewers=None
        if body.interviewers is None
        else tuple(_ref(p) for p in body.interviewers),
        organizer=_ref(body.organizer) if body.organizer else None,
        start=body.start,
        end=body.end,
        time_zone=body.time_zone,
        meeting=_meeting(body.meeting) if body.meeting else None,
        candidate_invitations=body.candidate_invitations,
        meeting_host=_ref(body.meeting.host) if body.meeting and body.meeting.host else None,
        **texts,
    )


def interview_out(view: interviews.InterviewView) -> dict[str, Any]:
    i, c = view.interview, view.candidate
    return {
        "id": i.id,
        "title": i.title,
        "status": i.status,
        "sequence": i.sequence,
        "start": i.start,
        "end": i.end,
        "time_zone": i.time_zone,
        "location": i.location,
        "meeting": {
            "type": i.meeting_type,
            "url": i.meeting_url,
            "meeting_id": i.meeting_id,
            "passcode": i.meeting_passcode,
            "phone": i.meeting_phone,
            "address": i.meeting_address,
            "problem": i.meeting_problem,
            "warnings": view.warnings,
        },
        "candidate": {"id": c.id, "name": c.name, "email": c.email, "time_zone": c.time_zone},
        "organizer_mailbox": i.organizer_mailbox,
        "attendees": [
            {
                "role": a.role,
                "user_id": a.user_id,
                "name": a.name,
                "email": a.email,
                "response": a.response,
            }
            for a in view.attendees
        ],
        "notes_for_interviewers": i.notes_for_interviewers,
        "message_to_candidate": i.message_to_candidate,
        "candidate_invited_by": i.candidate_invited_by,
        "candidate_emails": [
            {
                "kind": e.kind,
                "sequence": e.sequence,
                "recipient": e.recipient,
                "status": e.status,
                "attempts": e.attempts,
                "last_error": e.last_error,
                "sent_at": e.sent_at,
            }
            for e in view.emails
        ],
        "calendars": [
            {
                "mailbox": link.mailbox,
                "state": link.state,
                "event_id": link.external_event_id,
                "synced_sequence": link.synced_sequence,
                "last_error": link.last_error,
            }
            for link in view.links
        ],
        "history": [
            {"at": h.at, "action": h.action, "actor": h.actor, "details": h.details}
            for h in view.history
        ],
    }


async def _answer(session: SessionDep, org: uuid.UUID, interview_id: uuid.UUID) -> dict[str, Any]:
    await session.flush()
    return interview_out(await interviews.view(session, org, interview_id))


@router.post("/interviews", response_model=InterviewOut, status_code=201)
async def create_interview(
    body: InterviewIn, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """A draft interview, or (with ``confirm``) one sent at once: one event in the
    organizer's calendar with the interviewers and the candidate as attendees, so the
    calendar sends the invitations."""
    interview = await interviews.create(runtime, session, org, _new(body), ACTOR, datetime.now(UTC))
    return await _answer(session, org, interview.id)


@router.get("/interviews", response_model=list[InterviewOut])
async def list_interviews(
    org: OrgDep, session: SessionDep, status: str | None = None, limit: int = 100
) -> Any:
    """Interviews, soonest first; ``status`` filters (draft, confirmed, rescheduled, cancelled)."""
    query = select(Interview.id).where(Interview.organization_id == org)
    if status:
        query = query.where(Interview.status == status)
    ids = list(await session.scalars(query.order_by(Interview.start).limit(min(limit, 500))))
    return [interview_out(await interviews.view(session, org, i)) for i in ids]


@router.get("/interviews/{interview_id}", response_model=InterviewOut)
async def get_interview(interview_id: uuid.UUID, org: OrgDep, session: SessionDep) -> Any:
    """The interview with its attendees' answers, its state per calendar and its history."""
    return await _answer(session, org, interview_id)


@router.patch("/interviews/{interview_id}", response_model=InterviewOut)
async def edit_interview(
    interview_id: uuid.UUID,
    body: InterviewPatch,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Any:
    """Change an interview (a JSON merge patch: what is left out stays). A draft takes any
    change; a sent one keeps its organizer and candidate (409), and its attendees get an
    update of the same event for anything they see. Changing nothing changes nothing."""
    changes = _changes(body)
    await interview_edits.edit(
        runtime, session, org, interview_id, changes, ACTOR, datetime.now(UTC)
    )
    return await _answer(session, org, interview_id)


@router.post("/interviews/{interview_id}/confirm", response_model=InterviewOut)
async def confirm_interview(
    interview_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """Send a draft. Confirming twice is refused (409), never sent twice."""
    await interviews.confirm(runtime, session, org, interview_id, ACTOR)
    return await _answer(session, org, interview_id)


@router.post("/interviews/{interview_id}/reschedule", response_model=InterviewOut)
async def reschedule_interview(
    interview_id: uuid.UUID,
    body: RescheduleIn,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Any:
    """Move a sent interview: the same event moves and the attendees get an update."""
    current = await interviews.load(session, org, interview_id)
    change = (body.start, body.end, body.time_zone or current.time_zone)
    await interview_edits.reschedule(
        runtime, session, org, interview_id, change, ACTOR, datetime.now(UTC)
    )
    return await _answer(session, org, interview_id)


@router.post("/interviews/{interview_id}/cancel", response_model=InterviewOut)
async def cancel_interview(
    interview_id: uuid.UUID,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: CancelIn | None = None,
) -> Any:
    """Cancel: a sent interview is cancelled in the calendar, with ``message`` to attendees."""
    message = body.message if body else None
    await interviews.cancel(runtime, session, org, interview_id, message, ACTOR)
    return await _answer(session, org, interview_id)


@router.post("/interviews/{interview_id}/responses/refresh", response_model=InterviewOut)
async def refresh_responses(
    interview_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """Read the attendees' answers from the calendar now (it is also done every 5 minutes)."""
    await interviews.load(session, org, interview_id)
    await responses.refresh(runtime, interview_id)
    session.expire_all()
    return await _answer(session, org, interview_id)


@router.get("/interviews/{interview_id}/replacements", response_model=list[ReplacementOut])
async def suggest_replacements(
    interview_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """Interviewers not on the interview who are free for its whole time: who could step
    in for someone who declined."""
    await interviews.load(session, org, interview_id)
    found = await responses.replacements(runtime, org, interview_id)
    return [{"user_id": r.user_id, "name": r.name, "email": r.email} for r in found]


@router.get("/interview-settings", response_model=InterviewSettingsBody)
async def get_interview_settings(org: OrgDep, session: SessionDep) -> Any:
    return asdict(await interview_settings.load(session, org))


@router.patch("/interview-settings", response_model=InterviewSettingsBody)
async def update_interview_settings(
    body: InterviewSettingsBody, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """Organize from a shared interviews mailbox (it must be in the connected directory),
    or from each scheduler's own calendar."""
    changes = body.model_dump(exclude_unset=True)
    updated = await interview_settings.update(session, org, changes, runtime.settings)
    return asdict(updated)


@router.get("/candidates", response_model=list[CandidateOut])
async def list_candidates(org: OrgDep, session: SessionDep) -> Any:
    rows = await session.scalars(
        select(Candidate).where(Candidate.organization_id == org).order_by(Candidate.name)
    )
    return [{"id": c.id, "name": c.name, "email": c.email, "time_zone": c.time_zone} for c in rows]
