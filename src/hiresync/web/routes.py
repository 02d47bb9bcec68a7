"""Page routes. Each loads what the page shows through a service and renders a template;
admin-only actions are checked again on the server, whatever the page showed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.domain.timezones import is_valid_iana
from hiresync.jobs.engine import defer_in_transaction
from hiresync.services import connections, directory, freebusy, interview_settings, team
from hiresync.services.errors import ConsentFailed, ServiceError
from hiresync.store.tables import DirectoryMatch, Organization, User
from hiresync.web import grid
from hiresync.web.session import (
    CsrfChecked,
    LoginRequired,
    browser_id,
    csrf_token,
    current_user,
    flash,
    take_flashes,
)

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")
router = APIRouter(include_in_schema=False)


def _when(moment: datetime | None, user: User) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(ZoneInfo(user.time_zone)).strftime("%d %b %Y %H:%M")


templates.env.filters["when"] = _when


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("csrf", csrf_token(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


async def _login(request: Request, session: SessionDep) -> tuple[User, Organization]:
    found = await current_user(request, session)
    if found is None:
        raise LoginRequired
    return found


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/settings/calendar-sync", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str = "/settings/calendar-sync") -> HTMLResponse:
    return render(request, "login.html", next=next if next.startswith("/") else "/")


@router.post("/login", dependencies=[CsrfChecked])
async def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    user = await team.authenticate(session, email, password)
    if user is None:
        return render(
            request,
            "login.html",
            status_code=401,
            error="That e-mail and password do not match.",
            email=email,
            next=next,
        )
    request.session["user_id"] = str(user.id)
    return RedirectResponse(
        next if next.startswith("/") and not next.startswith("//") else "/", status_code=303
    )


@router.post("/logout", dependencies=[CsrfChecked])
async def logout(request: Request) -> RedirectResponse:
    request.session.pop("user_id", None)
    return RedirectResponse("/login", status_code=303)


@router.get("/settings/calendar-sync")
async def calendar_sync(request: Request, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    user, org = await _login(request, session)
    connection = await directory.live_connection(session, org.id)
    report = await directory.report(session, org.id) if connection else None
    return render(
        request,
        "calendar_sync.html",
        user=user,
        organization=org,
        nav="sync",
        connection=connection,
        report=report,
        flashes=take_flashes(request),
        refresh_minutes=runtime.settings.directory_refresh_minutes,
        rules=await interview_settings.load(session, org.id),
        placement_error=None,
    )


@router.post("/settings/calendar-sync/placement", dependencies=[CsrfChecked])
async def set_placement(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    placement: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Where interviews go in people's own calendars (admins; checked here, whatever the
    page showed). A refused name comes back next to its field."""
    user, org = await _login(request, session)
    connections.require_admin(user)
    try:
        async with session.begin_nested():
            await interview_settings.update(
                session,
                org.id,
                {"calendar_placement": placement, "dedicated_calendar_name": name},
                runtime.settings,
            )
    except ServiceError as exc:
        connection = await directory.live_connection(session, org.id)
        return render(
            request,
            "calendar_sync.html",
            status_code=exc.status,
            user=user,
            organization=org,
            nav="sync",
            connection=connection,
            report=await directory.report(session, org.id) if connection else None,
            flashes=[],
            refresh_minutes=runtime.settings.directory_refresh_minutes,
            rules=interview_settings.InterviewSettings(
                calendar_placement=placement
                if placement in interview_settings.PLACEMENTS
                else "person",  # type: ignore[arg-type]
                dedicated_calendar_name=name,
            ),
            placement_error=exc.message + (f" {exc.hint}" if exc.hint else ""),
        )
    flash(request, "good", "Saved: it applies to every synchronization started from now on.")
    return RedirectResponse("/settings/calendar-sync#placement", status_code=303)


@router.post("/settings/calendar-sync/connect", dependencies=[CsrfChecked])
async def connect(request: Request, session: SessionDep, runtime: RuntimeDep) -> RedirectResponse:
    user, _ = await _login(request, session)
    url = await connections.start_consent(runtime, session, user, browser_id(request))
    return RedirectResponse(url, status_code=303)


@router.post("/settings/calendar-sync/share-link", dependencies=[CsrfChecked])
async def make_share_link(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    user, org = await _login(request, session)
    connections.require_admin(user)
    link = await connections.share_link(runtime, session, org.id, user.id)
    return render(
        request,
        "consent_result.html",
        user=user,
        organization=org,
        kind="not_admin",
        share_link=link,
        outcome={"error_code": "link requested"},
    )


@router.post("/settings/calendar-sync/disconnect", dependencies=[CsrfChecked])
async def disconnect(request: Request, session: SessionDep) -> RedirectResponse:
    user, _ = await _login(request, session)
    await connections.disconnect(session, user)
    flash(request, "good", "Microsoft 365 is disconnected and its tokens are deleted.")
    return RedirectResponse("/settings/calendar-sync", status_code=303)


@router.post("/settings/calendar-sync/refresh", dependencies=[CsrfChecked])
async def refresh(request: Request, session: SessionDep, runtime: RuntimeDep) -> RedirectResponse:
    user, org = await _login(request, session)
    connections.require_admin(user)
    await defer_in_transaction(
        runtime.jobs,
        session,
        "refresh_directory",
        args={"organization_id": str(org.id)},
        queueing_lock=f"directory:{org.id}",
        lock=f"directory:{org.id}",
    )
    flash(
        request,
        "good",
        "The directory is being read again; this page shows the result in a moment.",
    )
    return RedirectResponse("/settings/calendar-sync", status_code=303)


CLOUD_LABELS = {
    "us_gov_gcc_high": "US Government (GCC High)",
    "us_gov_dod": "US Government (DoD)",
    "china": "China (21Vianet)",
}


@router.get("/oauth/microsoft/callback")
async def microsoft_callback(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    params = dict(request.query_params)
    async with runtime.db.sessions() as session:
        found = await current_user(request, session)
    user, org = found if found else (None, None)
    try:
        result = await connections.complete_consent(runtime, params, browser_id(request))
    except ConsentFailed as exc:
        return render(
            request,
            "consent_result.html",
            status_code=400,
            user=user,
            organization=org,
            kind="invalid",
            message=exc.message,
            hint=exc.hint,
        )
    async with runtime.db.sessions() as session:
        org_row = await session.get(Organization, result.organization_id)
    common = {
        "user": user,
        "organization": org,
        "outcome": result.outcome,
        "organization_name": org_row.name if org_row else "",
    }
    if result.connection is not None:
        if user is not None and user.organization_id == result.organization_id:
            flash(request, "good", "Connected. Your team's calendars are being matched now.")
            return RedirectResponse("/settings/calendar-sync", status_code=303)  # type: ignore[return-value]
        return render(request, "consent_result.html", kind="connected", **common)
    if result.share_link:
        return render(
            request, "consent_result.html", kind="not_admin", share_link=result.share_link, **common
        )
    if result.unsupported_cloud:
        return render(
            request,
            "consent_result.html",
            status_code=400,
            kind="unsupported_cloud",
            cloud_label=CLOUD_LABELS.get(result.unsupported_cloud, result.unsupported_cloud),
            problem=result.problem,
            **common,
        )
    if result.problem:
        return render(
            request,
            "consent_result.html",
            status_code=502,
            kind="problem",
            problem=result.problem,
            **common,
        )
    kind = "declined" if result.outcome.status.value == "declined" else "invalid"
    message = f"Microsoft answered: {result.outcome.message or result.outcome.error_code or 'no reason given'}"
    return render(
        request, "consent_result.html", status_code=400, kind=kind, message=message, **common
    )


@router.get("/connect/microsoft/{token}")
async def connect_link_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    from hiresync.store.tables import ConsentRequest

    link = await session.scalar(
        select(ConsentRequest).where(ConsentRequest.link_hash == connections.digest(token))
    )
    if link is None or link.expires_at < datetime.now(UTC):
        return render(
            request,
            "consent_result.html",
            status_code=404,
            kind="invalid",
            message="This connect link is not valid or has expired.",
            hint="Ask the person who sent it for a new one.",
        )
    org = await session.get(Organization, link.organization_id)
    return render(request, "connect_link.html", organization_name=org.name if org else "")


@router.post("/connect/microsoft/{token}", dependencies=[CsrfChecked])
async def connect_link_go(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    try:
        url = await connections.start_from_link(runtime, session, token, browser_id(request))
    except ConsentFailed as exc:
        return render(
            request,
            "consent_result.html",
            status_code=404,
            kind="invalid",
            message=exc.message,
            hint=exc.hint,
        )
    return RedirectResponse(url, status_code=303)


def _monday(value: str | None, zone: ZoneInfo) -> date:
    try:
        day = date.fromisoformat(value) if value else datetime.now(zone).date()
    except ValueError:
        day = datetime.now(zone).date()
    return day - timedelta(days=day.weekday())


@router.get("/availability")
async def availability(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    people: Annotated[list[str], Query()] = [],  # noqa: B006
    week: str | None = None,
    tz: str | None = None,
) -> HTMLResponse:
    user, org = await _login(request, session)
    tz = tz if tz and is_valid_iana(tz) else user.time_zone
    zone = ZoneInfo(tz)
    monday = _monday(week, zone)
    matched = {
        m.user_id
        for m in await session.scalars(
            select(DirectoryMatch).where(DirectoryMatch.organization_id == org.id)
        )
    }
    members = [u for u in await team.list_users(session, org.id) if u.id in matched]
    context: dict[str, Any] = {
        "user": user,
        "organization": org,
        "nav": "availability",
        "team": members,
        "chosen": set(people),
        "monday": monday,
        "tz": tz,
        "rows": None,
    }
    chosen = [u for u in members if str(u.id) in set(people)]
    if chosen:
        starts = grid.slot_starts(monday, zone)
        try:
            results = await freebusy.query(
                runtime,
                org.id,
                [freebusy.PersonRef(user_id=u.id) for u in chosen],
                starts[0],
                starts[-1] + grid.SLOT,
            )
        except ServiceError as exc:
            context["error"] = f"{exc.message} {exc.hint or ''}"
        else:
            context.update(
                starts=starts,
                per_day=len(starts) // 5,
                days=[monday + timedelta(days=i) for i in range(5)],
                rows=[
                    grid.Row(
                        r.user.name if r.user else r.schedule.email,
                        r.schedule.email,
                        grid.cells_for(r.schedule, starts),
                        r.schedule.error.message if r.schedule.error else None,
                    )
                    for r in results
                ],
            )
    return render(request, "availability.html", **context)


def install(app: FastAPI) -> None:
    # These import this module's helpers, so not at the top.
    from hiresync.web import (
        calendar_page,
        connected_apps,
        interview_edit_pages,
        interview_pages,
        meeting_checks,
        my_calendar,
        scheduling,
        template_pages,
    )

    app.include_router(router)
    app.include_router(scheduling.router)
    app.include_router(meeting_checks.router)  # before /interviews/{id} would take its path
    app.include_router(interview_pages.router)
    app.include_router(interview_edit_pages.router)
    app.include_router(template_pages.router)
    app.include_router(connected_apps.router)
    app.include_router(my_calendar.router)
    app.include_router(calendar_page.router)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
