"""The scheduling page: a recruiter picks the interviewers (all required, and optionally
"at least k of" a pool), the candidate's time zone, a duration and a week, and sees the
week's free slots as a Mon–Fri grid in the candidate's zone, each naming who is free.
Clicking a slot opens a side panel that says, for the pool members who are not free,
why not, and leads on to booking the interview.

Only presentation lives here. The question goes as it is to ``services.availability``,
so the page offers exactly the slots ``POST /v1/availability`` would, and the reasons
come from the same engine's ``explain``. The form is a plain GET form; a few lines of
inline script handle the slot panel, so the page needs no build step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.availability import Period, Slot
from hiresync.services import availability, team, validation
from hiresync.services.availability import (
    AvailabilityAnswer,
    AvailabilityRequest,
    Explained,
    GroupSpec,
    MemberSpec,
    Overrides,
)
from hiresync.services.errors import InvalidInput, ServiceError
from hiresync.services.freebusy import PersonRef
from hiresync.store.tables import DirectoryMatch, Organization, User
from hiresync.web.routes import _login, _monday, render

router = APIRouter(include_in_schema=False)

DURATIONS = (30, 45, 60, 90)
BUFFERS = (0, 5, 10, 15)
INTERVAL = timedelta(minutes=30)
INTERVIEWS_NEW = "/interviews/new"
NO_TIME = (
    "No time this week suits everyone — try the pool option, a shorter interview or the next week"
)
COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Toronto",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)
_STATUS_WORDS = {"oof": "out of office", "workingElsewhere": "working elsewhere"}


@dataclass(frozen=True)
class Choice:
    """What the form asked, checked: the panel, and how to look for time."""

    required: tuple[User, ...]
    pool: tuple[User, ...]
    k: int
    tz: str
    minutes: int
    buffer: int
    monday: date

    @property
    def everyone(self) -> tuple[User, ...]:
        return self.required + self.pool


@dataclass(frozen=True)
class Cell:
    """One free slot of the grid; ids are space-separated for the panel's script."""

    start: str
    end: str
    time: str
    count: str
    free: str
    pool_busy: str
    names: str
    candidate_span: str
    viewer_span: str


@dataclass(frozen=True)
class Week:
    """Mon–Fri columns; one row per start time, ``None`` where nobody suitable is free."""

    days: list[date]
    rows: list[tuple[str, list[Cell | None]]]


def _zone(value: str) -> str:
    return validation.time_zone(value.strip(), field="tz")


def _shown_zone(value: str | None, default: str) -> str:
    try:
        return _zone(value) if value else default
    except InvalidInput:
        return default


def _number(value: str | None, allowed: tuple[int, ...], default: int, what: str) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number not in allowed:
        choices = ", ".join(map(str, allowed))
        raise InvalidInput(f"{value!r} is not a {what} this page offers.", hint=f"Pick {choices}.")
    return number


def _choice(
    members: list[User], people: list[str], pool: list[str], k: str | None, **picked: Any
) -> Choice:
    """The form's answers as a ``Choice``, or ``InvalidInput`` saying what to fix."""
    tz = _zone(picked["tz"])
    required = tuple(u for u in members if str(u.id) in people)
    others = tuple(u for u in members if str(u.id) in pool and u not in required)
    if not required and not others:
        raise InvalidInput("Pick at least one interviewer.", hint="Tick a name under Interviewers.")
    try:
        needed = int(k) if k else 1
    except ValueError:
        needed = 0
    if others and not 1 <= needed <= len(others):
        raise InvalidInput(
            f"The pool has {len(others)} people, so “at least” must be from 1 to {len(others)}.",
            hint="Tick more people in the pool, or lower the number.",
        )
    return Choice(
        required,
        others,
        needed,
        tz,
        _number(picked["minutes"], DURATIONS, 60, "duration"),
        _number(picked["buffer"], BUFFERS, 0, "buffer"),
        picked["monday"],
    )


def _specs(users: tuple[User, ...]) -> tuple[MemberSpec, ...]:
    return tuple(MemberSpec(PersonRef(user_id=u.id)) for u in users)


def _request(choice: Choice) -> AvailabilityRequest:
    """Monday 00:00 to Saturday 00:00 in the candidate's zone, on a 30-minute grid."""
    zone = ZoneInfo(choice.tz)
    start = datetime.combine(choice.monday, datetime.min.time(), zone)
    end = datetime.combine(choice.monday + timedelta(days=5), datetime.min.time(), zone)
    groups = []
    if choice.required:
        groups.append(GroupSpec(_specs(choice.required)))
    if choice.pool:
        groups.append(GroupSpec(_specs(choice.pool), required=choice.k))
    return AvailabilityRequest(
        groups=tuple(groups),
        periods=(Period(start.astimezone(UTC), end.astimezone(UTC)),),
        duration=timedelta(minutes=choice.minutes),
        interval=INTERVAL,
        overrides=_overrides(choice.buffer),
    )


def _overrides(buffer: int) -> Overrides:
    return Overrides(
        buffer_before=timedelta(minutes=buffer), buffer_after=timedelta(minutes=buffer)
    )


def _span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    return f"{a:%a %d %b %H:%M}–{b:%H:%M} ({zone.key})"


def _cell(slot: Slot, answer: AvailabilityAnswer, choice: Choice, viewer: ZoneInfo) -> Cell:
    free = [key for group in slot.free for key in group]
    pool = [str(u.id) for u in choice.pool]
    names = [answer.participants[key].name or answer.participants[key].email for key in free]
    local = slot.start.astimezone(ZoneInfo(choice.tz))
    return Cell(
        start=slot.start.isoformat(),
        end=slot.end.isoformat(),
        time=f"{local:%H:%M}",
        count=f"{len(free)}/{len(choice.everyone)}",
        free=" ".join(free),
        pool_busy=" ".join(key for key in pool if key not in free),
        names=", ".join(names),
        candidate_span=_span(slot.start, slot.end, ZoneInfo(choice.tz)),
        viewer_span=_span(slot.start, slot.end, viewer),
    )


def _row_times(labels: set[str]) -> list[str]:
    """Every half hour from the earliest free start to the latest, so gaps show as gaps."""
    minutes = sorted(int(t[:2]) * 60 + int(t[3:]) for t in labels)
    filled = set(range(minutes[0], minutes[-1] + 1, 30)) | set(minutes)
    return [f"{m // 60:02d}:{m % 60:02d}" for m in sorted(filled)]


def _week(answer: AvailabilityAnswer, choice: Choice, viewer: ZoneInfo) -> Week | None:
    """The answer laid out by local day (columns) and local start time (rows)."""
    if not answer.slots:
        return None
    zone = ZoneInfo(choice.tz)
    cells: dict[tuple[date, str], Cell] = {}
    for slot in answer.slots:
        cell = _cell(slot, answer, choice, viewer)
        cells.setdefault((slot.start.astimezone(zone).date(), cell.time), cell)
    days = [choice.monday + timedelta(days=i) for i in range(5)]
    rows = [(t, [cells.get((day, t)) for day in days]) for t in _row_times({t for _, t in cells})]
    return Week(days, rows)


async def _matched_members(session: AsyncSession, org: Organization) -> list[User]:
    matched = set(
        await session.scalars(
            select(DirectoryMatch.user_id).where(DirectoryMatch.organization_id == org.id)
        )
    )
    return [u for u in await team.list_users(session, org.id) if u.id in matched]


def _start_allowed(request: Request) -> bool:
    """The "Start interview" link shows only once the interviews feature serves it. Asked
    by matching, not by reading ``path``: FastAPI keeps included routers as one entry."""
    scope = {"type": "http", "method": "GET", "path": INTERVIEWS_NEW, "root_path": ""}
    return any(r.matches(scope)[0] is Match.FULL for r in request.app.router.routes)


@router.get("/schedule")
async def schedule(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    people: Annotated[list[str], Query()] = [],  # noqa: B006
    pool: Annotated[list[str], Query()] = [],  # noqa: B006
    k: str | None = None,
    tz: str | None = None,
    minutes: str | None = None,
    buffer: str | None = None,
    week: str | None = None,
) -> HTMLResponse:
    user, org = await _login(request, session)
    members = await _matched_members(session, org)
    context: dict[str, Any] = {
        "user": user,
        "organization": org,
        "nav": "schedule",
        "team": members,
        "chosen": set(people),
        "pooled": set(pool),
        "k": k or "1",
        "tz": user.time_zone if tz is None else tz,
        "minutes": minutes or "60",
        "buffer": buffer or "0",
        "monday": _monday(week, ZoneInfo(_shown_zone(tz, user.time_zone))),
        "zones": COMMON_ZONES,
        "durations": DURATIONS,
        "buffers": BUFFERS,
        "asked": tz is not None,
        "can_start": _start_allowed(request),
        "start_url": INTERVIEWS_NEW,
        "no_time": NO_TIME,
    }
    if tz is not None:
        context.update(await _answer(runtime, org, user, members, people, pool, context))
    return render(request, "schedule.html", **context)


async def _answer(
    runtime: RuntimeDep,
    org: Organization,
    user: User,
    members: list[User],
    people: list[str],
    pool: list[str],
    form: dict[str, Any],
) -> dict[str, Any]:
    """The grid for a submitted form, or the error to show instead."""
    try:
        choice = _choice(
            members, people, pool, form["k"], tz=form["tz"], minutes=form["minutes"],
            buffer=form["buffer"], monday=form["monday"],
        )  # fmt: skip
        answer = await availability.find(runtime, org.id, _request(choice), datetime.now(UTC))
    except ServiceError as exc:
        return {"error": _sentence(exc), "error_field": exc.field}
    unreadable = [
        f"{p.name or p.email}: {p.error.message}"
        for p in answer.participants.values()
        if p.error is not None
    ]
    return {
        "choice": choice,
        "grid": _week(answer, choice, ZoneInfo(user.time_zone)),
        "unreadable": unreadable,
        "names": {str(u.id): u.name for u in choice.everyone},
    }


def _sentence(exc: ServiceError) -> str:
    """The error and its hint as one readable line."""
    message = exc.message if exc.message.endswith((".", "?", "!")) else f"{exc.message}."
    return f"{message} {exc.hint}" if exc.hint else message


def _reason(conflict: Any, who: availability.Participant, start: datetime, zone: ZoneInfo) -> str:
    """One reason in the panel's words, times in the zone the page shows."""
    block, reason = conflict.block, conflict.reason.value
    if reason == "outside_working_hours":
        local = start.astimezone(ZoneInfo(who.time_zone))
        return f"Outside their working hours ({local:%a %H:%M} in {who.time_zone})."
    if reason not in ("busy", "buffer") or block is None:
        return str(conflict.message)
    if conflict.subject:
        what = f"“{conflict.subject}”"
    else:
        what = "A private event" if getattr(block, "is_private", False) else "An event"
    status = _STATUS_WORDS.get(conflict.status or "", conflict.status or "busy")
    if getattr(block, "all_day", False):
        when = "all day"
    else:
        a, b = block.start.astimezone(zone), block.end.astimezone(zone)
        when = f"{a:%H:%M}–{b:%H:%M} {zone.key}"
    where = "overlaps this slot" if reason == "busy" else "falls in the buffer around it"
    return f"{what} ({status}, {when}) {where}."


def _explained(item: Explained, start: datetime, zone: ZoneInfo) -> dict[str, Any]:
    who = item.participant
    if item.unreadable:
        reasons = [f"Their calendar could not be read: {who.error.message if who.error else ''}"]
    else:
        reasons = [_reason(c, who, start, zone) for c in item.conflicts]
    return {
        "id": str(who.user_id) if who.user_id else who.key,
        "name": who.name or who.email,
        "available": item.available,
        "reasons": reasons,
    }


@router.get("/schedule/explain")
async def explain(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    start: str,
    people: Annotated[list[str], Query()] = [],  # noqa: B006
    minutes: int = 60,
    buffer: int = 0,
    tz: str | None = None,
) -> JSONResponse:
    """Why each of ``people`` is or is not free at ``start``, for the slot panel."""
    user, org = await _login(request, session)
    try:
        zone = ZoneInfo(_zone(tz or user.time_zone))
        moment = _instant(start)
        refs = [MemberSpec(PersonRef(user_id=_uuid(p))) for p in people]
        found = await availability.explain(
            runtime, org.id, refs, moment, timedelta(minutes=minutes), datetime.now(UTC),
            _overrides(_number(str(buffer), BUFFERS, 0, "buffer")),
        )  # fmt: skip
    except ServiceError as exc:
        return JSONResponse({"error": _sentence(exc)}, status_code=exc.status)
    return JSONResponse({"people": [_explained(item, moment, zone) for item in found]})


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            f"{value!r} is not a time with a UTC offset.", hint="Like 2026-11-23T09:00:00+00:00."
        )
    return moment


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a person on this team.", field="people") from None
