"""Calendar: a person's week as their synced calendars say it (seed 003: "all meetings
scheduled in your calendar are automatically displayed"), with the events made in
hiresync beside them; new events are made here one by one and go out to the calendar.

Meetings from the person's own calendars are shown read-only (they are changed where they
come from); an interview's copy links to the interview. The week refreshes itself: the page
listens to Settings › My calendar's event stream (every sync moves its fingerprint) and
swaps in ``/calendar/week`` (the week alone), so nothing needs a reload.

Every decision is in ``services.calendar_events``; refusals come back as this page with the
service's sentence next to the field, never a 500.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.domain.timezones import zone_or_utc
from hiresync.services import calendar_events, calendar_settings
from hiresync.services.calendar_events import EventFields, ShownEvent
from hiresync.services.errors import InvalidInput, ServiceError
from hiresync.store.tables import User
from hiresync.web.routes import _login, render, templates
from hiresync.web.session import CsrfChecked, csrf_token, flash, take_flashes

router = APIRouter(include_in_schema=False)
PAGE = "/calendar"
TEMPLATE = "calendar.html"
ORIGIN_LABELS = {
    "remote": "From your calendar",
    "hiresync": "Made in hiresync",
    "imported": "Imported (stays in hiresync)",
}


@dataclass
class Row:
    """One event as the week shows it, in the person's zone."""

    id: uuid.UUID
    time: str
    summary: str
    calendar: str
    origin: str
    label: str
    read_only: bool
    reason: str | None
    interview_id: uuid.UUID | None
    location: str | None
    sync_state: str
    busy: bool


@dataclass
class Day:
    day: date
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class NewEvent:
    """What was typed into "New event", to show again after a refusal."""

    summary: str = ""
    day: str = ""
    start: str = "09:00"
    minutes: str = "30"
    location: str = ""


def _zone(user: User) -> ZoneInfo:
    return zone_or_utc(user.time_zone)


def _monday(value: str | None, zone: ZoneInfo) -> date:
    today = datetime.now(zone).date()
    try:
        chosen = date.fromisoformat(value) if value else today
    except ValueError:
        chosen = today
    return chosen - timedelta(days=chosen.weekday())


def _time(event: ShownEvent, zone: ZoneInfo) -> str:
    if event.all_day or event.start is None:
        return "All day"
    start = event.start.astimezone(zone)
    end = (event.end or event.start).astimezone(zone)
    tail = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %H:%M}"
    return f"{start:%H:%M}–{tail}"


def _day_of(event: ShownEvent, zone: ZoneInfo) -> date:
    moment = event.start or datetime.now(UTC)
    return moment.date() if event.all_day else moment.astimezone(zone).date()


def _week(events: list[ShownEvent], monday: date, zone: ZoneInfo) -> list[Day]:
    days = [
        Day(monday + timedelta(days=n), f"{monday + timedelta(days=n):%A %d %B}") for n in range(7)
    ]
    by_day = {d.day: d for d in days}
    ordered = sorted(
        events,
        key=lambda e: (
            _day_of(e, zone),
            not e.all_day,
            e.start or datetime.min.replace(tzinfo=UTC),
        ),
    )
    for day, group in groupby(ordered, key=lambda e: _day_of(e, zone)):
        if day not in by_day:
            continue  # an event that began the week before
        by_day[day].rows = [
            Row(
                id=e.id,
                time=_time(e, zone),
                summary=e.summary or "(no title)",
                calendar=e.calendar_name,
                origin=e.origin,
                label="Interview" if e.interview_id else ORIGIN_LABELS.get(e.origin, e.origin),
                read_only=e.read_only,
                reason=e.read_only_reason,
                interview_id=e.interview_id,
                location=e.location,
                sync_state=e.sync_state,
                busy=e.busy,
            )
            for e in group
        ]
    return days


async def _context(
    session: AsyncSession, user: User, org: Any, week: str | None, **extra: Any
) -> dict[str, Any]:
    zone = _zone(user)
    monday = _monday(week, zone)
    start = datetime.combine(monday, time(), zone).astimezone(UTC)
    events = await calendar_events.shown_between(session, user, start, start + timedelta(days=7))
    status = await calendar_settings.status_for(session, user)
    hiring = await calendar_events.hiring_calendar(session, user)
    return {
        "user": user,
        "organization": org,
        "nav": "calendar",
        "days": _week(events, monday, zone),
        "monday": monday,
        "previous": monday - timedelta(days=7),
        "following": monday + timedelta(days=7),
        "status": status,
        "hiring": hiring,
        "form": NewEvent(day=max(monday, datetime.now(zone).date()).isoformat()),
        "errors": {},
        **extra,
    }


async def _page(
    request: Request,
    session: AsyncSession,
    week: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    user, org = await _login(request, session)
    context = await _context(session, user, org, week, **extra)
    context["flashes"] = take_flashes(request)
    return render(request, TEMPLATE, status_code=status_code, **context)


@router.get(PAGE)
async def calendar_page(request: Request, session: SessionDep, week: str = "") -> Response:
    return await _page(request, session, week or None)


@router.get(PAGE + "/week")
async def week_section(request: Request, session: SessionDep, week: str = "") -> Response:
    """The week alone (the ``week`` block), for the page's live refresh."""
    user, org = await _login(request, session)
    context = await _context(session, user, org, week or None)
    context.update(request=request, csrf=csrf_token(request))
    template = templates.get_template(TEMPLATE)
    html = "".join(template.blocks["week"](template.new_context(context)))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post(PAGE + "/events", dependencies=[CsrfChecked])
async def create(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    summary: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
) -> Response:
    """A new event in the person's hiring calendar, made one by one (it goes out)."""
    user, _ = await _login(request, session)
    typed = NewEvent(summary, day, start, minutes, location)
    try:
        fields = _fields(typed, user)
        async with session.begin_nested():
            await calendar_events.create(runtime, session, user, fields)
    except ServiceError as exc:
        errors = {exc.field or "summary": exc.message + (f" {exc.hint}" if exc.hint else "")}
        return await _page(request, session, day, status_code=422, form=typed, errors=errors)
    flash(request, "good", f"“{fields.summary}” is in your calendar; it goes out on the next sync.")
    return RedirectResponse(f"{PAGE}?week={day}", status_code=303)


def _fields(typed: NewEvent, user: User) -> EventFields:
    zone = _zone(user)
    try:
        day = date.fromisoformat(typed.day)
    except ValueError as exc:
        raise InvalidInput("Pick the event's date.", field="day") from exc
    try:
        begin = time.fromisoformat(typed.start)
    except ValueError as exc:
        raise InvalidInput("Give a start time like 09:30.", field="start") from exc
    try:
        minutes = int(typed.minutes)
    except ValueError as exc:
        raise InvalidInput("Give the length in minutes.", field="minutes") from exc
    if not 5 <= minutes <= 24 * 60:
        raise InvalidInput("An event lasts between 5 minutes and a day.", field="minutes")
    start = datetime.combine(day, begin, zone)
    return EventFields(
        summary=typed.summary,
        start=start,
        end=start + timedelta(minutes=minutes),
        time_zone=zone.key,
        location=typed.location.strip() or None,
    )


@router.post(PAGE + "/events/{event_id}/delete", dependencies=[CsrfChecked])
async def delete(
    event_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    week: Annotated[str, Form()] = "",
) -> Response:
    """Remove an event made in hiresync, here and from the calendar."""
    user, _ = await _login(request, session)
    try:
        ident = uuid.UUID(event_id)
        async with session.begin_nested():
            await calendar_events.delete(runtime, session, user, ident)
    except ValueError:
        flash(request, "bad", "That event does not exist.")
    except ServiceError as exc:
        flash(request, "bad", exc.message + (f" {exc.hint}" if exc.hint else ""))
    else:
        flash(request, "good", "Event removed; it leaves your calendar on the next sync.")
    return RedirectResponse(f"{PAGE}?week={week}", status_code=303)
