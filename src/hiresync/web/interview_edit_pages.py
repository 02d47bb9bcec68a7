"""Interview pages that change an interview that exists: the edit form (the new-interview
form of ``web.interview_pages``, filled in with the interview), and the interview page's
reschedule and "invite the candidate by e-mail instead" buttons.

Kept apart from ``web.interview_pages`` (the list, the new-interview form, one interview,
confirm and cancel) to keep each module a readable size; the split follows the services:
everything here goes through ``services.interview_edits``, with the same rules as there
(only presentation here, each change in a savepoint, a refused one shown as the service's
own sentence, recruiters and admins only, checked on the server). This module reuses the
form, page and helpers of ``web.interview_pages``, which never imports this one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.domain.interviews import TRANSITIONS, Action, InterviewStatus, MeetingType, is_live
from hiresync.runtime import Runtime
from hiresync.services import interview_edits, interviews
from hiresync.services.errors import NotFound, ServiceError
from hiresync.store.tables import InterviewHistory, User
from hiresync.web.interview_pages import (
    REFUSED,
    Editing,
    InterviewForm,
    _act,
    _form_page,
    _interview_page,
    _list_page,
    _local,
    _may_change,
    _meeting,
    _person,
    _smtp_ready,
    _span,
    _times,
    _uuid,
)
from hiresync.web.routes import _login
from hiresync.web.scheduling import _sentence
from hiresync.web.session import CsrfChecked, flash

router = APIRouter(include_in_schema=False)


# -- the edit form -----------------------------------------------------------------------


def _form_of(view: interviews.InterviewView) -> InterviewForm:
    """The form as the interview stands (a Teams link is the calendar's, not the form's)."""
    i, c = view.interview, view.candidate
    teams = i.meeting_type == MeetingType.TEAMS.value
    return InterviewForm(
        title=i.title,
        candidate_name=c.name,
        candidate_email=c.email,
        candidate_tz=c.time_zone,
        interviewers=[
            str(a.user_id) for a in view.attendees if a.role == "interviewer" and a.user_id
        ],
        organizer=str(i.organizer_user_id or ""),
        tz=i.time_zone,
        meeting_type=i.meeting_type,
        meeting_url="" if teams else i.meeting_url or "",
        meeting_id=i.meeting_id or "",
        meeting_passcode=i.meeting_passcode or "",
        meeting_phone=i.meeting_phone or "",
        meeting_address=i.meeting_address or "",
        location=i.location or "",
        notes=i.notes_for_interviewers or "",
        message=i.message_to_candidate or "",
        invitations=i.candidate_invited_by,
        **_local(i.start, i.end, i.time_zone),
    )


def _edit_changes(
    form: InterviewForm, was: InterviewForm, live: bool
) -> interview_edits.InterviewChanges:
    """The form as an edit. Times go only when their fields changed (the form shows whole
    minutes; the interview may hold seconds); a sent interview's organizer and candidate
    are not on the form, so they are not sent."""
    when = (form.date, form.time, form.minutes, form.tz)
    moved = _times(*when) if when != (was.date, was.time, was.minutes, was.tz) else None
    candidate = interviews.CandidateIn(
        form.candidate_name, form.candidate_email, form.candidate_tz or form.tz
    )
    organizer = _person(form.organizer, "organizer") if form.organizer else None
    return interview_edits.InterviewChanges(
        title=form.title,
        candidate=None if live else candidate,
        interviewers=tuple(_person(p, "interviewers") for p in form.interviewers),
        organizer=None if live else organizer,
        start=moved[0] if moved else None,
        end=moved[1] if moved else None,
        time_zone=moved[2] if moved else None,
        meeting=_meeting(form),
        location=form.location,
        notes_for_interviewers=form.notes,
        message_to_candidate=form.message,
        candidate_invitations=form.invitations or None,
    )


async def _editable(
    request: Request, session: AsyncSession, interview_id: str
) -> tuple[User, interviews.InterviewView] | Response:
    """The interview to edit, or the page that says why it cannot be."""
    user, org = await _login(request, session)
    if not _may_change(user):
        return await _interview_page(request, session, interview_id, _sentence(REFUSED))
    try:
        ident = _uuid(interview_id, NotFound(f"No interview {interview_id} here."))
        view = await interviews.view(session, org.id, ident)
    except NotFound as exc:
        return await _list_page(request, session, exc.status, _sentence(exc))
    if (InterviewStatus(view.interview.status), Action.EDIT) not in TRANSITIONS:
        flash(request, "bad", "It is cancelled: nothing more can change.")
        return RedirectResponse(f"/interviews/{interview_id}", status_code=303)
    return user, view


def _editing(view: interviews.InterviewView, runtime: Runtime) -> Editing:
    i, c = view.interview, view.candidate
    live = is_live(InterviewStatus(i.status))
    who = f"{c.name} ({c.email}) · {c.time_zone}"
    return Editing(i.id, i.organizer_mailbox, who, live, _smtp_ready(runtime))


@router.get("/interviews/{interview_id}/edit")
async def edit_page(
    interview_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The interview's form, filled in: all of it for a draft; for a sent interview, all
    but the organizer and the candidate, which are shown with the reason."""
    found = await _editable(request, session, interview_id)
    if isinstance(found, Response):
        return found
    _, view = found
    return await _form_page(request, session, _form_of(view), editing=_editing(view, runtime))


@router.post("/interviews/{interview_id}/edit", dependencies=[CsrfChecked])
async def edit_interview(
    interview_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Save the changes; a refused form comes back as typed, the reason by its field."""
    found = await _editable(request, session, interview_id)
    if isinstance(found, Response):
        return found
    user, view = found
    i, editing = view.interview, _editing(view, runtime)
    form, steps, sequence = (
        InterviewForm.posted(await request.form()),
        len(view.history),
        i.sequence,
    )
    try:
        async with session.begin_nested():
            changes = _edit_changes(form, _form_of(view), editing.live)
            await interview_edits.edit(
                runtime, session, i.organization_id, i.id, changes, user.email, datetime.now(UTC)
            )
    except ServiceError as exc:
        return await _form_page(request, session, form, exc, editing=editing)
    now_steps = await session.scalar(
        select(func.count()).where(InterviewHistory.interview_id == i.id)
    )
    flash(request, "good", _saved(now_steps != steps, editing.live, i.sequence != sequence))
    return RedirectResponse(f"/interviews/{interview_id}", status_code=303)


def _saved(changed: bool, live: bool, sent: bool) -> str:
    if not changed:
        return "Nothing changed."
    if not live:
        return "Draft saved. No calendar is touched until you confirm it."
    if not sent:
        return "Saved. Only the notes for interviewers changed: nobody is sent anything."
    return (
        "Saved. The event is being updated in the organizer's calendar, which sends the "
        "attendees an update."
    )


# -- edits from the interview page's buttons ---------------------------------------------


@router.post("/interviews/{interview_id}/reschedule", dependencies=[CsrfChecked])
async def reschedule_interview(
    interview_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    day: Annotated[str, Form(alias="date")] = "",
    at: Annotated[str, Form(alias="time")] = "",
    minutes: Annotated[str, Form()] = "",
) -> Response:
    async def change(user: User, org_id: uuid.UUID, ident: uuid.UUID) -> str:
        current = await interviews.load(session, org_id, ident)
        moved = _times(day.strip(), at.strip(), minutes.strip(), current.time_zone)
        await interview_edits.reschedule(
            runtime, session, org_id, ident, moved, user.email, datetime.now(UTC)
        )
        when = _span(moved[0], moved[1], moved[2])
        return f"Rescheduled to {when}. The same event moves and the attendees get an update."

    return await _act(request, session, interview_id, change)


@router.post("/interviews/{interview_id}/invite-by-email", dependencies=[CsrfChecked])
async def invite_by_email(
    interview_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """For a calendar that could not invite the candidate: hiresync e-mails them its own
    invitation, and the event (when it is written) leaves them out."""

    async def change(user: User, org_id: uuid.UUID, ident: uuid.UUID) -> str:
        email = interview_edits.InterviewChanges(candidate_invitations="email")
        await interview_edits.edit(
            runtime, session, org_id, ident, email, user.email, datetime.now(UTC)
        )
        return "The candidate is being sent hiresync's e-mail invitation."

    return await _act(request, session, interview_id, change)
