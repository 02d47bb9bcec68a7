"""The templates of the e-mails hiresync sends candidates (when the organization has
``candidate_invitations: "email"``): read, edit, preview, reset to the default."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hiresync.api.deps import OrgDep, SessionDep
from hiresync.services import email_templates, invitations

router = APIRouter(tags=["email templates"])
ACTOR = "api"
NAMES_DOC = "One of: " + ", ".join(invitations.TEMPLATE_NAMES) + "."
SOURCE_DOC = (
    "Jinja2, run in a sandbox. Variables: " + ", ".join(sorted(invitations.VARIABLES)) + "."
)


class TemplateOut(BaseModel):
    name: str = Field(description=NAMES_DOC)
    description: str
    media_type: Literal["text/plain", "text/html"]
    source: str = Field(description="What is used now: the edited source, or the default.")
    default: str = Field(description="hiresync's default, what a reset goes back to.")
    customized: bool
    updated_at: datetime | None
    updated_by: str | None = Field(description="Who saved the edit: a user's e-mail, or 'api'.")


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(max_length=email_templates.MAX_SOURCE, description=SOURCE_DOC)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(
        default=None,
        max_length=email_templates.MAX_SOURCE,
        description="An unsaved source to try; left out, the template as it is now.",
    )
    updated: bool = Field(
        default=False, description="Render as the e-mail sent when an interview is moved."
    )


class PreviewOut(BaseModel):
    name: str
    media_type: Literal["text/plain", "text/html"]
    rendered: str = Field(description="The template rendered for a sample candidate.")


@router.get("/email-templates", response_model=list[TemplateOut])
async def list_templates(org: OrgDep, session: SessionDep) -> Any:
    """Every template, each with the source in use and the default."""
    return [asdict(t) for t in await email_templates.list_templates(session, org)]


@router.get("/email-templates/{name}", response_model=TemplateOut)
async def get_template(name: str, org: OrgDep, session: SessionDep) -> Any:
    return asdict(await email_templates.get(session, org, name))


@router.put("/email-templates/{name}", response_model=TemplateOut)
async def save_template(name: str, body: TemplateIn, org: OrgDep, session: SessionDep) -> Any:
    """Replace the template; a source that would fail when sent is refused (422, with the
    line) and nothing is saved."""
    return asdict(await email_templates.save(session, org, name, body.source, ACTOR))


@router.delete("/email-templates/{name}", response_model=TemplateOut)
async def reset_template(name: str, org: OrgDep, session: SessionDep) -> Any:
    """Back to hiresync's default; answers with the template as it now is."""
    return asdict(await email_templates.reset(session, org, name))


@router.post("/email-templates/{name}/preview", response_model=PreviewOut)
async def preview_template(name: str, body: PreviewIn, org: OrgDep, session: SessionDep) -> Any:
    """Render a source (or the current template) for a sample candidate, saving nothing."""
    found = await email_templates.preview_for(session, org, name, body.source, updated=body.updated)
    return asdict(found)
