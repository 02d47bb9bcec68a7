"""Interview pages: the list, the new-interview form (prefilled from a slot picked on the
scheduling page), and one interview with its state per calendar and per attendee, its
history, and the confirm / edit / reschedule / cancel buttons (and, when the calendar
could not write the event, the offer to invite the candidate by e-mail instead). The
confirm and cancel actions are here; the edit form and the reschedule and invite-by-e-mail
actions, which go through ``services.interview_edits``, are in ``web.interview_edit_pages``
(which reuses this module's form and helpers).

Only presentation lives here. Every change goes through ``services.interviews`` exactly
as the REST API does (same checks, same history, same transactional outbox), with the
logged-in user's e-mail as the actor, so the page and the API can never disagree on what
is allowed. Each change runs in a savepoint: a refused one leaves nothing behind and
comes back as the service's own sentence, next to the field on the form or as a flash on
the interview, never as a 500. Who may change interviews (recruiters and admins) is
checked here on the server; the templates only hide what the viewer cannot use.

While a calendar write is pending the interview page re-reads itself every 3 s (a tiny
fetch loop swapping the page's live part, so typed input survives): no reload needed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from hiresync.api.deps import RuntimeDep, SessionDep, get_runtime
from hiresync.domain.interviews import (
    TRANSITIONS,
    InterviewStatus,
    Meeting,
    MeetingType,
    is_live,
)
from hiresync.domain.timezones import is_valid_iana
from hiresync.providers.errors import ProviderError
from hiresync.runtime import Runtime
from hiresync.services import (
    candidate_mail,
    interviews,
    meeting_accounts,
    responses,
    team,
    validation,
)
from hiresync.services.errors import Forbidden, InvalidInput, NotFound, ServiceError
from hiresync.services.freebusy import PersonRef
from hiresync.store.tables import (
    CalendarLink,
    Candidate,
    DirectoryMatch,
    Interview,
    Organization,
    User,
)
from hiresync.web import live
from hiresync.web.interview_views import (
    CalendarRow,
    _calendars,
    _history,
    _instant,
    _retrying,
    _span,
    _summary,
)
from hiresync.web.routes import _login, render
from hiresync.web.scheduling import COMMON_ZONES, _sentence
from hiresync.web.session import CsrfChecked, current_user, flash, take_flashes

router = APIRouter(include_in_schema=False)

SCHEDULERS = ("admin", "recruiter")
REFUSED = Forbidden(
    "Only recruiters and admins can create or change interviews.",
    hint="Ask a recruiter on your team to make the change.",
)
REFRESH_HEADER = "x-hiresync-refresh"
LIST_LIMIT = 200
# fmt: off
MEETING_TYPES = (("teams", "Microsoft Teams"), ("zoom", "Zoom meeting"), ("phone", "Phone"),
                 ("in_person", "In person"), ("custom_link", "Custom link"))
# Which ``Meeting`` details each type takes: (its argument, the form's field).
MEETING_PARTS = {
    MeetingType.TEAMS: (), MeetingType.ZOOM: (), MeetingType.PHONE: (("phone", "meeting_phone"),),
    MeetingType.IN_PERSON: (("address", "meeting_address"),),
    MeetingType.CUSTOM_LINK: (("url", "meeting_url"), ("meeting_id", "meeting_id"),
                              ("passcode", "meeting_passcode")),
}
# A service error's ``field`` -> the form control it is shown next to.
FORM_FIELDS = {
    "title": "title", "organizer": "organizer", "candidate": "candidate_email",
    "candidate.name": "candidate_name", "candidate.email": "candidate_email",
    "candidate.time_zone": "candidate_tz", "start": "when", "end": "minutes", "time_zone": "tz",
    "meeting.url": "meeting_url", "meeting.phone": "meeting_phone", "meeting.type": "meeting_type",
    "meeting.address": "meeting_address", "location": "location",
    "notes_for_interviewers": "notes", "message_to_candidate": "message",
    "candidate_invitations": "invitations",
}
# fmt: on
SENT = "The event is being written to the organizer's calendar, which sends the invitations."
FIXED = (
    "A calendar event cannot change its organizer, and another candidate is another interview: "
    "to change either, cancel this interview and create a new one."
)


@dataclass
class InterviewForm:
    """The new-interview form as typed, kept as text so a refused form comes back whole."""

    title: str = ""
    candidate_name: str = ""
    candidate_email: str = ""
    candidate_tz: str = ""
    interviewers: list[str] = field(default_factory=list)
    organizer: str = ""
    date: str = ""
    time: str = ""
    minutes: str = "60"
    tz: str = ""
    meeting_type: str = "teams"
    meeting_url: str = ""
    meeting_id: str = ""
    meeting_passcode: str = ""
    meeting_phone: str = ""
    meeting_address: str = ""
    location: str = ""
    notes: str = ""
    message: str = ""
    invitations: str = ""  # edit only: "calendar" or "email" ("" leaves it as it is)

    @classmethod
    def posted(cls, data: FormData) -> InterviewForm:
        names = [f.name for f in fields(cls) if f.name != "interviewers"]
        values = {name: str(data.get(name) or "").strip() for name in names}
        return cls(interviewers=[str(v) for v in data.getlist("interviewers")], **values)


@dataclass(frozen=True)
class Editing:
    """What the form needs to edit an interview rather than create one: plain values, so
    a refused edit (its savepoint rolled back) can still show them."""

    interview_id: uuid.UUID
    organizer: str
    candidate: str
    live: bool  # sent: organizer and candidate are shown, not asked
    smtp: bool  # e-mail is set up, so hiresync may invite the candidate itself
    fixed: str = FIXED


# -- small helpers -----------------------------------------------------------------------


def _may_change(user: User) -> bool:
    return user.role in SCHEDULERS


def _uuid(value: str, problem: ServiceError) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise problem from None


def _person(value: str, where: str) -> PersonRef:
    problem = InvalidInput(f"{value!r} is not a person on this team.", field=where)
    return PersonRef(user_id=_uuid(value, problem))


def _times(day: str, at: str, minutes: str, zone_name: str) -> tuple[datetime, datetime, str]:
    """Local date, start time and duration in ``zone_name`` -> aware start and end."""
    zone = validation.time_zone(zone_name, field="time_zone")
    if not re.fullmatch(r"-?\d{1,5}", minutes):  # longer is refused by the service anyway
        raise InvalidInput(f"{minutes!r} is not a number of minutes.", field="end")
    try:
        start = datetime.combine(date.fromisoformat(day), time.fromisoformat(at), ZoneInfo(zone))
        return start, start + timedelta(minutes=int(minutes)), zone
    except (ValueError, OverflowError):
        raise InvalidInput(
            "Give the interview's date and start time.",
            hint="Like 2026-12-01 and 15:00.",
            field="start",
        ) from None


def _meeting(form: InterviewForm) -> Meeting:
    """Only the details that belong to the chosen type (hidden fields may hold old text)."""
    try:
        kind = MeetingType(form.meeting_type)
    except ValueError:
        raise InvalidInput(f"{form.meeting_type!r} is not a meeting type.") from None
    details = {part: getattr(form, name) or None for part, name in MEETING_PARTS[kind]}
    return Meeting(kind, **details)


def _new_interview(form: InterviewForm, user: User, confirm: bool) -> interviews.NewInterview:
    start, end, zone = _times(form.date, form.time, form.minutes, form.tz)
    return interviews.NewInterview(
        title=form.title,
        candidate=interviews.CandidateIn(
            form.candidate_name, form.candidate_email, form.candidate_tz or zone
        ),
        interviewers=tuple(_person(p, "interviewers") for p in form.interviewers),
        organizer=_person(form.organizer, "organizer")
        if form.organizer
        else PersonRef(user_id=user.id),
        start=start,
        end=end,
        time_zone=zone,
        meeting=_meeting(form),
        location=form.location or None,
        notes_for_interviewers=form.notes or None,
        message_to_candidate=form.message or None,
        confirm=confirm,
        # Seed 001: the link is made with the Zoom account of the person scheduling.
        meeting_host=PersonRef(user_id=user.id) if form.meeting_type == "zoom" else None,
    )


def _local(start: datetime, end: datetime | None, zone: str) -> dict[str, str]:
    """Date, start time and (when known) duration, as the forms show them."""
    local = start.astimezone(ZoneInfo(zone))
    shown = {"date": local.date().isoformat(), "time": f"{local:%H:%M}"}
    if end is not None and end > start:
        shown["minutes"] = str(int((end - start).total_seconds()) // 60)
    return shown


def _prefill(user: User, start: str | None, end: str | None, tz: str | None) -> InterviewForm:
    """The form as the scheduling page's "Start interview with this slot" link opens it."""
    zone = tz if tz and is_valid_iana(tz) else user.time_zone
    form = InterviewForm(organizer=str(user.id), tz=zone, candidate_tz=zone)
    begin = _instant(start)
    return replace(form, **_local(begin, _instant(end), zone)) if begin else form


def _form_errors(error: ServiceError | None) -> tuple[dict[str, str], str | None]:
    """(message per form control, message for the whole form)."""
    if error is None:
        return {}, None
    where = error.field or ""
    if where.startswith("interviewers"):
        return {"interviewers": _sentence(error)}, None
    if where in FORM_FIELDS:
        return {FORM_FIELDS[where]: _sentence(error)}, None
    return {}, _sentence(error)


# -- the list ----------------------------------------------------------------------------


def _frame(request: Request, user: User, org: Organization, flashes: bool = True) -> dict[str, Any]:
    """What every interview page passes to ``base.html``."""
    shown = take_flashes(request) if flashes else []
    return {"user": user, "organization": org, "nav": "interviews", "flashes": shown}


async def _listed(
    session: AsyncSession, org_id: uuid.UUID, user: User, upcoming: bool
) -> list[dict[str, Any]]:
    """Upcoming soonest first, past newest first, each with its calendars in a few words."""
    now = datetime.now(UTC)
    query = (
        select(Interview, Candidate)
        .join(Candidate, Candidate.id == Interview.candidate_id)
        .where(Interview.organization_id == org_id)
        .where(Interview.end >= now if upcoming else Interview.end < now)
        .order_by(Interview.start.asc() if upcoming else Interview.start.desc())
        .limit(LIST_LIMIT)
    )
    rows = [(i, c) for i, c in await session.execute(query)]
    ids = [i.id for i, _ in rows]
    links: dict[uuid.UUID, list[CalendarLink]] = {}
    if ids:
        found = await session.scalars(
            select(CalendarLink).where(CalendarLink.interview_id.in_(ids))
        )
        for link in found:
            links.setdefault(link.interview_id, []).append(link)
    return [
        {
            "id": i.id,
            "title": i.title,
            "candidate": c.name,
            "when": _span(i.start, i.end, user.time_zone),
            "status": i.status,
            "calendars": _summary(
                _calendars(i, links.get(i.id, []), is_live(InterviewStatus(i.status)))
            ),
        }
        for i, c in rows
    ]


async def _list_page(
    request: Request, session: AsyncSession, status_code: int = 200, refusal: str | None = None
) -> HTMLResponse:
    user, org = await _login(request, session)
    return render(
        request,
        "interviews.html",
        status_code=status_code,
        refusal=refusal,
        can_change=_may_change(user),
        upcoming=await _listed(session, org.id, user, upcoming=True),
        past=await _listed(session, org.id, user, upcoming=False),
        **_frame(request, user, org),
    )


@router.get("/interviews")
async def interview_list(request: Request, session: SessionDep) -> HTMLResponse:
    return await _list_page(request, session)


# -- the new-interview form --------------------------------------------------------------


async def _form_page(
    request: Request,
    session: AsyncSession,
    form: InterviewForm,
    error: ServiceError | None = None,
    editing: Editing | None = None,
) -> HTMLResponse:
    """The new-interview form, or with ``editing`` the same form for an interview."""
    user, org = await _login(request, session)
    matched = set(
        await session.scalars(
            select(DirectoryMatch.user_id).where(DirectoryMatch.organization_id == org.id)
        )
    )
    errors, general = _form_errors(error)
    zoom = await meeting_accounts.live_account(session, user)
    return render(
        request,
        "interview_new.html",
        zoom_connected=zoom is not None and zoom.status == "active",
        connected_apps=meeting_accounts.PAGE,
        status_code=error.status if error else 200,
        form=form,
        team=await team.list_users(session, org.id),
        matched=matched,
        errors=errors,
        error=general,
        zones=COMMON_ZONES,
        meeting_types=MEETING_TYPES,
        editing=editing,
        **_frame(request, user, org),
    )


@router.get("/interviews/new")
async def new_interview(
    request: Request,
    session: SessionDep,
    start: str | None = None,
    end: str | None = None,
    tz: str | None = None,
    people: Annotated[list[str], Query()] = [],  # noqa: B006
) -> HTMLResponse:
    """The form; the scheduling page sends ``start``/``end`` (ISO, with offset), the
    candidate's ``tz`` and the free interviewers' ids as ``people``."""
    user, _ = await _login(request, session)
    if not _may_change(user):
        return await _list_page(request, session, REFUSED.status, _sentence(REFUSED))
    form = _prefill(user, start, end, tz)
    form.interviewers = list(people)
    return await _form_page(request, session, form)


@router.post("/interviews/new", dependencies=[CsrfChecked])
async def create_interview(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Save a draft or confirm and send at once; a refused form comes back as it was."""
    user, org = await _login(request, session)
    if not _may_change(user):
        return await _list_page(request, session, REFUSED.status, _sentence(REFUSED))
    data = await request.form()
    form, confirm = InterviewForm.posted(data), data.get("action") == "confirm"
    try:
        async with session.begin_nested():
            new = _new_interview(form, user, confirm)
            created = await interviews.create(
                runtime, session, org.id, new, user.email, datetime.now(UTC)
            )
    except ServiceError as exc:
        return await _form_page(request, session, form, exc)
    done = (
        f"Confirmed. {SENT}"
        if confirm
        else "Draft saved. No calendar is touched until you confirm it."
    )
    flash(request, "good", done)
    return RedirectResponse(f"/interviews/{created.id}", status_code=303)


# -- one interview -----------------------------------------------------------------------


def _smtp_ready(runtime: Runtime) -> bool:
    try:
        candidate_mail.require_smtp(runtime.settings)
    except InvalidInput:
        return False
    return True


def _offer_email(i: Interview, calendars: list[CalendarRow], smtp: bool) -> bool:
    """Invite the candidate by e-mail instead, when the calendar that should invite them
    could not write the event (refused, or disconnected) and e-mail is set up."""
    live = is_live(InterviewStatus(i.status))
    failed = any(row.state == "failed" for row in calendars)
    return smtp and live and failed and i.candidate_invited_by == "calendar"


def _interview_context(
    view: interviews.InterviewView, user: User, smtp: bool = False
) -> dict[str, Any]:
    i, status = view.interview, InterviewStatus(view.interview.status)
    sent = any(h.action == "confirmed" for h in view.history)
    calendars = _calendars(i, view.links, sent, _retrying(view.history))
    return {
        "interview": i,
        "candidate": view.candidate,
        "attendees": view.attendees,
        "times": [
            ("Interview's time", _span(i.start, i.end, i.time_zone)),
            ("Your time", _span(i.start, i.end, user.time_zone)),
            ("Candidate's time", _span(i.start, i.end, view.candidate.time_zone)),
        ],
        "meeting_type": dict(MEETING_TYPES).get(i.meeting_type, i.meeting_type),
        "meeting_warnings": view.warnings,
        "calendars": calendars,
        "pending": any(row.state == "pending" for row in calendars),
        "history": _history(view, user),
        "allowed": {a.value for (s, a) in TRANSITIONS if s is status},
        "can_change": _may_change(user),
        "offer_email": _offer_email(i, calendars, smtp),
        "again": _local(i.start, i.end, i.time_zone),
    }


async def _replacements(
    runtime: Runtime | None, view: interviews.InterviewView
) -> list[responses.Replacement] | None:
    """Who could step in for an interviewer who declined; None when nobody declined."""
    declined = any(a.role == "interviewer" and a.response == "declined" for a in view.attendees)
    if runtime is None or not declined or not is_live(InterviewStatus(view.interview.status)):
        return None
    try:
        return await responses.replacements(
            runtime, view.interview.organization_id, view.interview.id
        )
    except (ServiceError, ProviderError):
        return []  # the page still shows; the suggestion is a help, not the point


async def _interview_page(
    request: Request,
    session: AsyncSession,
    interview_id: str,
    refusal: str | None = None,
    runtime: Runtime | None = None,
) -> HTMLResponse:
    user, org = await _login(request, session)
    try:
        ident = _uuid(interview_id, NotFound(f"No interview {interview_id} here."))
        # Taken before the view: a change in between refreshes the page once more, never
        # leaves it behind.
        version = await interviews.fingerprint(session, org.id, ident)
        view = await interviews.view(session, org.id, ident)
    except NotFound as exc:
        return await _list_page(request, session, exc.status, _sentence(exc))
    refreshing = request.headers.get(REFRESH_HEADER) == "1"
    return render(
        request,
        "interview.html",
        status_code=REFUSED.status if refusal else 200,
        refusal=refusal,
        version=version or "",
        replacements=await _replacements(runtime if _may_change(user) else None, view),
        **_interview_context(view, user, _smtp_ready(get_runtime(request))),
        **_frame(request, user, org, flashes=not refreshing),
    )


@router.get("/interviews/{interview_id}/events")
async def interview_events(
    interview_id: str, request: Request, runtime: RuntimeDep, since: str = ""
) -> Response:
    """Server-sent events: ``changed`` whenever anything the interview's page shows changes
    (the worker wrote it, an attendee answered, a colleague edited it)."""
    async with runtime.db.sessions() as session:
        found = await current_user(request, session)
    if found is None:
        return Response("Log in first.", status_code=401, media_type="text/plain")
    org_id = found[1].id
    try:
        ident = uuid.UUID(interview_id)
    except ValueError:
        ident = None

    async def version(session: AsyncSession) -> str | None:
        return await interviews.fingerprint(session, org_id, ident) if ident else None

    async with runtime.db.sessions() as session:
        if await version(session) is None:
            return Response(
                f"No interview {interview_id} here.", status_code=404, media_type="text/plain"
            )
    return live.stream(request, runtime, version, since)


@router.get("/interviews/{interview_id}")
async def interview_page(
    interview_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    return await _interview_page(request, session, interview_id, runtime=runtime)


Change = Callable[[User, uuid.UUID, uuid.UUID], Awaitable[str]]


async def _act(
    request: Request, session: AsyncSession, interview_id: str, change: Change
) -> Response:
    """Run one change for a recruiter or admin; its outcome is flashed on the interview."""
    user, org = await _login(request, session)
    if not _may_change(user):
        return await _interview_page(request, session, interview_id, _sentence(REFUSED))
    try:
        ident = _uuid(interview_id, NotFound(f"No interview {interview_id} here."))
        async with session.begin_nested():
            done = await change(user, org.id, ident)
    except ServiceError as exc:
        flash(request, "bad", _sentence(exc))
    else:
        flash(request, "good", done)
    return RedirectResponse(f"/interviews/{interview_id}", status_code=303)


@router.post("/interviews/{interview_id}/confirm", dependencies=[CsrfChecked])
async def confirm_interview(
    interview_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    async def change(user: User, org_id: uuid.UUID, ident: uuid.UUID) -> str:
        await interviews.confirm(runtime, session, org_id, ident, user.email)
        return f"Confirmed. {SENT}"

    return await _act(request, session, interview_id, change)


@router.post("/interviews/{interview_id}/cancel", dependencies=[CsrfChecked])
async def cancel_interview(
    interview_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    message: Annotated[str, Form()] = "",
) -> Response:
    async def change(user: User, org_id: uuid.UUID, ident: uuid.UUID) -> str:
        was = (await interviews.load(session, org_id, ident)).status
        await interviews.cancel(
            runtime, session, org_id, ident, message.strip() or None, user.email
        )
        if is_live(InterviewStatus(was)):
            return "Cancelled. The event is being cancelled in the calendar, with your message."
        return "Cancelled. It was a draft, so no calendar had it."

    return await _act(request, session, interview_id, change)
