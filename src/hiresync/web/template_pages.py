"""Settings › E-mail templates: the four candidate e-mails hiresync sends when the
organization invites candidates by e-mail, each editable, previewable and resettable.

Only presentation lives here: reading, checking, saving and previewing all go through
``services.email_templates``, exactly as the REST API does, so a template the page saves
is one the API would have accepted, and one that sends. A refused template comes back in
the textarea as typed, with the service's sentence (and line) next to it, never a 500.
Everyone on the team may read and preview; only admins may save or reset, which is
checked here on the server whatever the page showed.

The HTML preview is shown in an ``<iframe sandbox srcdoc>``: no scripts, no forms, no
same-origin access, so a template's HTML cannot reach this page.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.api.deps import SessionDep
from hiresync.services import email_templates, interview_settings, invitations
from hiresync.services.errors import Forbidden, ServiceError
from hiresync.web.routes import _login, render
from hiresync.web.scheduling import _sentence
from hiresync.web.session import CsrfChecked, flash, take_flashes

router = APIRouter(include_in_schema=False)

PAGE = "/settings/email-templates"
REFUSED = Forbidden(
    "Only an admin can change the e-mail templates.",
    hint="Ask one of your organization's admins to make the change.",
)
UPDATED_NOTE = "true in the e-mail sent when an interview is moved (invitation templates)"


def _variables() -> list[tuple[str, str]]:
    """Each variable a template may use, with the value the preview gives it."""
    sample = asdict(invitations.SAMPLE_CONTEXT)
    shown = []
    for name in sorted(invitations.VARIABLES):
        value = sample.get(name)
        if name == "updated":
            text = UPDATED_NOTE
        elif isinstance(value, tuple):
            text = " / ".join(value) + "   (a list: use it in a {% for %} loop)"
        else:
            text = "empty when not given" if value is None else str(value)
        shown.append((name, text))
    return shown


async def _page(
    request: Request,
    session: AsyncSession,
    name: str,
    *,
    source: str | None = None,
    preview: email_templates.Preview | None = None,
    as_update: bool = False,
    error: ServiceError | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page with ``name`` open in the editor (``source`` when it was typed, not saved)."""
    user, org = await _login(request, session)
    templates = await email_templates.list_templates(session, org.id)
    chosen = next(t for t in templates if t.name == name)
    mode = await interview_settings.load(session, org.id)
    shown = chosen.source if source is None else source
    line = getattr(error, "line", None)
    lines = shown.splitlines()
    return render(
        request,
        "email_templates.html",
        status_code=status_code,
        user=user,
        organization=org,
        nav="email-templates",
        flashes=take_flashes(request),
        templates=templates,
        chosen=chosen,
        source=shown,
        unsaved=source is not None and source != chosen.source,
        preview=preview,
        as_update=as_update,
        error=_sentence(error) if error else None,
        error_line=line,
        error_excerpt=lines[line - 1].strip() if line and 0 < line <= len(lines) else None,
        refusal=refusal,
        can_change=user.role == "admin",
        by_email=mode.candidate_invitations == "email",
        variables=_variables(),
    )


async def _known(request: Request, session: AsyncSession, name: str) -> HTMLResponse | None:
    """None for a template hiresync has; else the page (first template) with a 404."""
    try:
        email_templates.require_name(name)
    except ServiceError as exc:
        first = invitations.TEMPLATE_NAMES[0]
        return await _page(request, session, first, refusal=_sentence(exc), status_code=404)
    return None


@router.get(PAGE)
async def templates_page(request: Request, session: SessionDep) -> HTMLResponse:
    return await _page(request, session, invitations.TEMPLATE_NAMES[0])


@router.get(PAGE + "/{name}")
async def template_page(name: str, request: Request, session: SessionDep) -> HTMLResponse:
    return await _known(request, session, name) or await _page(request, session, name)


@router.post(PAGE + "/{name}", dependencies=[CsrfChecked])
async def save_or_preview(
    name: str,
    request: Request,
    session: SessionDep,
    source: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "preview",
    updated: Annotated[str, Form()] = "",
) -> Response:
    """Preview (anyone) or save (admins) the source as typed; either way a broken
    template comes back in the editor with its error."""
    user, _ = await _login(request, session)
    if missing := await _known(request, session, name):
        return missing
    source = source.replace("\r\n", "\n")  # what browsers send for a textarea's newlines
    as_update = updated == "1"
    if action == "save" and user.role != "admin":
        return await _page(
            request, session, name, source=source, refusal=_sentence(REFUSED), status_code=403
        )
    shown = None
    try:
        if action == "save":
            await email_templates.save(session, user.organization_id, name, source, user.email)
        else:
            shown = email_templates.preview(name, source, updated=as_update)
    except ServiceError as exc:
        return await _page(
            request,
            session,
            name,
            source=source,
            as_update=as_update,
            error=exc,
            status_code=exc.status,
        )
    if shown is not None:
        return await _page(
            request, session, name, source=source, preview=shown, as_update=as_update
        )
    flash(request, "good", f"Saved. Candidates' e-mails use this {name} from now on.")
    return RedirectResponse(f"{PAGE}/{name}", status_code=303)


@router.post(PAGE + "/{name}/reset", dependencies=[CsrfChecked])
async def reset(name: str, request: Request, session: SessionDep) -> Response:
    user, _ = await _login(request, session)
    if missing := await _known(request, session, name):
        return missing
    if user.role != "admin":
        return await _page(request, session, name, refusal=_sentence(REFUSED), status_code=403)
    await email_templates.reset(session, user.organization_id, name)
    flash(request, "good", f"{name} is back to hiresync's default.")
    return RedirectResponse(f"{PAGE}/{name}", status_code=303)
