"""Settings › My calendar: a person starts synchronization with their own calendar
account (CalDAV, "Sign in with Microsoft", or their Outlook calendar through the company's
Microsoft 365 connection when there is one), reads how it is doing ("Your calendar is
synchronized with …", first-sync progress, last synchronized, what is wrong and what to
do), syncs now, reconnects, and stops (seeds 002/003, issue #6).

Only presentation lives here; every decision is in ``services.calendar_settings``. A
refused start comes back as this page with the service's sentence next to the field it is
about (and the advanced settings opened when that is where the fix is), never a 500.

The page refreshes itself without a reload (``web.live``): ``/events`` says ``changed``
when ``calendar_settings.version_of`` moves; the page's script then fetches ``/status``
(the status section alone) and swaps it in place, keeping the scroll, and waits while a
dialog is open or an input of that section has the focus.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import RuntimeDep, SessionDep
from hiresync.services import calendar_settings, directory, interview_settings
from hiresync.services.calendar_remotes import SETTINGS_PATH, CalDavLogin
from hiresync.services.errors import NotFound, ServiceError
from hiresync.store.tables import User
from hiresync.web import live
from hiresync.web.routes import _login, render, templates
from hiresync.web.session import (
    CsrfChecked,
    browser_id,
    csrf_token,
    current_user,
    flash,
    take_flashes,
)

router = APIRouter(include_in_schema=False)
PAGE = SETTINGS_PATH
TEMPLATE = "my_calendar.html"
START_FIELDS = ("email", "password", "server_url", "username")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """“3 minutes ago”: how long since ``moment`` (the page's script keeps it ticking)."""
    if moment is None:
        return "never"
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size and (size > 1 or seconds >= 10):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


templates.env.filters["ago"] = ago


@dataclass
class StartForm:
    """What was typed into "Start synchronization" (never the password), to show again."""

    email: str = ""
    placement: str = "primary"  # primary | dedicated
    server_url: str = ""
    username: str = ""


async def _context(session: AsyncSession, user: User, org: Any, **extra: Any) -> dict[str, Any]:
    rules = await interview_settings.load(session, user.organization_id)
    return {
        "user": user,
        "organization": org,
        "nav": "my-calendar",
        "status": await calendar_settings.status_for(session, user),
        "outlook_available": await directory.live_connection(session, user.organization_id)
        is not None,
        "placement": rules.calendar_placement,
        "dedicated_name": rules.dedicated_calendar_name,
        "form": StartForm(),
        "errors": {},
        "problem": None,
        **extra,
    }


async def _page(
    request: Request, session: AsyncSession, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    user, org = await _login(request, session)
    context = await _context(session, user, org, **extra)
    context["flashes"] = take_flashes(request)
    return render(request, TEMPLATE, status_code=status_code, **context)


@router.get(PAGE)
async def my_calendar(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


@router.get(PAGE + "/status")
async def status_section(request: Request, session: SessionDep) -> Response:
    """The status section alone (the ``status`` block), for the page's live refresh."""
    user, org = await _login(request, session)
    context = await _context(session, user, org)
    context.update(request=request, csrf=csrf_token(request))
    template = templates.get_template(TEMPLATE)
    html = "".join(template.blocks["status"](template.new_context(context)))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(PAGE + "/events")
async def events(request: Request, runtime: RuntimeDep, since: str = "") -> Response:
    """Server-sent events: ``changed`` whenever the person's calendar status changes (the
    Calendar page listens to it too: every sync moves it)."""
    async with runtime.db.sessions() as session:
        found = await current_user(request, session)
    if found is None:
        return Response("Log in first.", status_code=401, media_type="text/plain")
    user = found[0]

    async def version(session: AsyncSession) -> str:
        return await calendar_settings.version_of(session, user)

    return live.stream(request, runtime, version, since)


@router.post(PAGE + "/start", dependencies=[CsrfChecked])
async def start(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    placement: Annotated[str, Form()] = "primary",
    server_url: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
) -> Response:
    user, _ = await _login(request, session)
    form = StartForm(email.strip(), placement, server_url.strip(), username.strip())
    login = CalDavLogin(
        email=form.email,
        password=password,
        username=form.username or None,
        server_url=form.server_url or None,
        # The organization's name for it, or its rule, is applied by the service.
        dedicated_calendar=calendar_settings.DEDICATED_NAME if placement == "dedicated" else None,
    )
    try:
        account = await calendar_settings.start_caldav(runtime, session, user, login)
    except ServiceError as exc:
        said = f"{exc.message} {exc.hint or ''}".strip()
        if exc.field in START_FIELDS:
            return await _page(request, session, exc.status, form=form, errors={exc.field: said})
        return await _page(request, session, exc.status, form=form, problem=exc)
    flash(
        request,
        "good",
        f"Synchronization with {account.address} has started. The first synchronization is "
        "usually done within a minute; this page updates by itself.",
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/start-outlook", dependencies=[CsrfChecked])
async def start_outlook(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    placement: Annotated[str, Form()] = "",
) -> Response:
    """The person's Outlook calendar, through the company's Microsoft 365 connection (in a
    calendar of its own when they chose it and the organization leaves it to them)."""
    user, _ = await _login(request, session)
    try:
        account = await calendar_settings.start_outlook(
            runtime, session, user, dedicated=placement == "dedicated"
        )
    except ServiceError as exc:
        return await _page(request, session, exc.status, problem=exc)
    flash(
        request,
        "good",
        f"Synchronization with {account.address} has started; this page updates by itself.",
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/microsoft/sign-in", dependencies=[CsrfChecked])
async def sign_in_with_microsoft(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """To Microsoft's sign-in page (to start, or to reconnect an account that needs it)."""
    user, _ = await _login(request, session)
    try:
        url = await calendar_settings.start_microsoft(runtime, session, user, browser_id(request))
    except ServiceError as exc:
        return await _page(request, session, exc.status, problem=exc)
    return RedirectResponse(url, status_code=303)


@router.get(PAGE + "/microsoft/callback")
async def microsoft_callback(request: Request, runtime: RuntimeDep) -> Response:
    """Microsoft's redirect back: stored and synchronizing, or this page saying what went
    wrong (declined, a foreign or reused answer, an expired code) with a 4xx."""
    async with runtime.db.sessions() as session:
        found = await current_user(request, session)
    if found is None:
        return RedirectResponse(f"/login?next={PAGE}", status_code=303)
    try:
        account = await calendar_settings.finish_microsoft(
            runtime, found[0], browser_id(request), dict(request.query_params)
        )
    except ServiceError as exc:
        async with runtime.db.sessions() as session:
            return await _page(request, session, exc.status, problem=exc)
    flash(
        request,
        "good",
        f"Signed in with Microsoft as {account.address}: your calendar is being synchronized; "
        "this page updates by itself.",
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/calendars/{calendar_id}/sync", dependencies=[CsrfChecked])
async def sync_now(
    calendar_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    force: Annotated[str, Form()] = "",
) -> Response:
    user, _ = await _login(request, session)
    try:
        calendar = await calendar_settings.sync_now(
            runtime, session, user, _uuid(calendar_id), force=force == "yes"
        )
    except ServiceError as exc:
        return await _page(request, session, exc.status, problem=exc)
    flash(
        request,
        "good",
        f"{calendar.name!r} is being synchronized; this page updates when it is done.",
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/accounts/{account_id}/stop", dependencies=[CsrfChecked])
async def stop(
    account_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    user, _ = await _login(request, session)
    if confirm != "yes":
        flash(request, "bad", "Nothing changed: stopping needs “Yes, stop synchronization”.")
        return RedirectResponse(PAGE, status_code=303)
    try:
        outcome = await calendar_settings.stop(runtime, user, _uuid(account_id))
    except ServiceError as exc:
        return await _page(request, session, exc.status, problem=exc)
    flash(request, "good" if outcome.complete else "bad", outcome.message)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/accounts/{account_id}/reconnect", dependencies=[CsrfChecked])
async def reconnect(
    account_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    password: Annotated[str, Form()] = "",
) -> Response:
    user, _ = await _login(request, session)
    try:
        account = await calendar_settings.reconnect_caldav(
            runtime, session, user, _uuid(account_id), password
        )
    except ServiceError as exc:
        said = f"{exc.message} {exc.hint or ''}".strip()
        if exc.field == "password":
            return await _page(request, session, exc.status, errors={"reconnect": said})
        return await _page(request, session, exc.status, problem=exc)
    flash(request, "good", f"Reconnected to {account.address}; synchronizing now.")
    return RedirectResponse(PAGE, status_code=303)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("That item does not exist.") from exc
