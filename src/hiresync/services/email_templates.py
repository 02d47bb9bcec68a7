"""An organization's templates of the candidate e-mails (``invitations.TEMPLATE_NAMES``):
list them, save an edited one, reset one to hiresync's default, preview any source.

A saved template is a row of ``email_templates``; a template without a row is the
default, read from the package each time, so a default improved in a release reaches
every organization that did not edit it. A source is checked exactly as it will be used
(``invitations.check_template``: compiled in the immutable sandbox, only known variables,
rendered with and without the optional parts) before anything is written, so a template
that is saved is one that sends; a refused one is an ``InvalidInput`` naming the line.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.services import invitations
from hiresync.services.errors import InvalidInput, NotFound
from hiresync.store.tables import EmailTemplate

# Far above any real e-mail body, well below what would make saving or rendering slow.
MAX_SOURCE = 100_000
HINT = (
    "Templates are Jinja2: {{ variable }}, {% if … %}…{% endif %}, {% for … %}…{% endfor %}, "
    "with only the variables hiresync provides."
)
DESCRIPTIONS = {
    "invitation.txt": "Invitation and update, plain text",
    "invitation.html": "Invitation and update, HTML",
    "cancellation.txt": "Cancellation, plain text",
    "cancellation.html": "Cancellation, HTML",
}


class TemplateRefused(InvalidInput):
    """A template that would fail when used; ``line`` lets an editor point at it."""

    def __init__(self, error: invitations.TemplateError) -> None:
        super().__init__(str(error), hint=HINT, field="source")
        self.line = error.line

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = super().as_dict()
        if self.line:
            body["line"] = self.line
        return body


@dataclass(frozen=True, slots=True)
class TemplateView:
    """One template as the organization has it now, with the default beside it."""

    name: str
    description: str
    media_type: str
    source: str
    default: str
    customized: bool
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    name: str
    media_type: str
    rendered: str


def media_type(name: str) -> str:
    return "text/html" if name.endswith(".html") else "text/plain"


def require_name(name: str) -> str:
    """``name`` if hiresync uses such a template; a 404 listing the names otherwise."""
    if name not in invitations.TEMPLATE_NAMES:
        raise NotFound(
            f"There is no e-mail template called {name!r}.",
            hint="The templates are: " + ", ".join(invitations.TEMPLATE_NAMES) + ".",
        )
    return name


def check(name: str, source: str) -> None:
    """Refuse a source that is empty, too long, or that would fail when an e-mail is sent."""
    if not source.strip():
        raise InvalidInput(
            f"{name}: the template is empty, so the e-mail would be blank.",
            hint="Write the e-mail, or reset the template to hiresync's default.",
            field="source",
        )
    if "\x00" in source:  # PostgreSQL text cannot hold it, and no e-mail needs it
        raise InvalidInput(f"{name}: the template contains a NUL character.", field="source")
    if len(source) > MAX_SOURCE:
        raise InvalidInput(
            f"{name}: the template is {len(source):,} characters long; "
            f"the most a template may hold is {MAX_SOURCE:,}.",
            field="source",
        )
    try:
        invitations.check_template(name, source)
    except invitations.TemplateError as exc:
        raise TemplateRefused(exc) from None


def _view(name: str, row: EmailTemplate | None) -> TemplateView:
    default = invitations.default_source(name)
    return TemplateView(
        name=name,
        description=DESCRIPTIONS.get(name, name),
        media_type=media_type(name),
        source=row.source if row else default,
        default=default,
        customized=row is not None,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


async def _rows(session: AsyncSession, org_id: uuid.UUID) -> dict[str, EmailTemplate]:
    rows = await session.scalars(
        select(EmailTemplate)
        .where(EmailTemplate.organization_id == org_id)
        .execution_options(populate_existing=True)
    )
    return {row.name: row for row in rows}


async def list_templates(session: AsyncSession, org_id: uuid.UUID) -> list[TemplateView]:
    """Every template, in ``TEMPLATE_NAMES`` order, edited or default."""
    rows = await _rows(session, org_id)
    return [_view(name, rows.get(name)) for name in invitations.TEMPLATE_NAMES]


async def get(session: AsyncSession, org_id: uuid.UUID, name: str) -> TemplateView:
    require_name(name)
    row = await session.scalar(
        select(EmailTemplate)
        .where(EmailTemplate.organization_id == org_id, EmailTemplate.name == name)
        .execution_options(populate_existing=True)  # fresh after an upsert in this session
    )
    return _view(name, row)


async def overrides(session: AsyncSession, org_id: uuid.UUID) -> dict[str, str]:
    """The organization's edited sources by name, as ``invitations.compose`` takes them."""
    rows = await _rows(session, org_id)
    return {name: rows[name].source for name in invitations.TEMPLATE_NAMES if name in rows}


async def save(
    session: AsyncSession, org_id: uuid.UUID, name: str, source: str, actor: str
) -> TemplateView:
    """Check ``source`` and make it the organization's ``name`` template (an upsert, so
    two admins saving at once leave one row: the last save)."""
    require_name(name)
    check(name, source)
    await session.execute(
        insert(EmailTemplate)
        .values(
            id=uuid.uuid4(),
            organization_id=org_id,
            name=name,
            source=source,
            updated_by=actor,
        )
        .on_conflict_do_update(
            constraint="uq_email_templates_org_name",
            set_={"source": source, "updated_by": actor, "updated_at": func.now()},
        )
    )
    return await get(session, org_id, name)


async def reset(session: AsyncSession, org_id: uuid.UUID, name: str) -> TemplateView:
    """Back to hiresync's default (deleting the edit); resetting a default is a no-op."""
    require_name(name)
    await session.execute(
        delete(EmailTemplate).where(
            EmailTemplate.organization_id == org_id, EmailTemplate.name == name
        )
    )
    return _view(name, None)


def preview(name: str, source: str, *, updated: bool = False) -> Preview:
    """``source`` rendered for a sample candidate, after the same check as saving (so a
    preview never shows a template that would then be refused)."""
    require_name(name)
    check(name, source)
    variables = {**asdict(invitations.SAMPLE_CONTEXT), "updated": updated}
    try:
        rendered = invitations.render_template(name, source, variables)
    except invitations.TemplateError as exc:  # checked above; kept for a clear answer
        raise TemplateRefused(exc) from None
    return Preview(name=name, media_type=media_type(name), rendered=rendered)


async def preview_for(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    source: str | None = None,
    *,
    updated: bool = False,
) -> Preview:
    """A preview of ``source`` (unsaved), or of the organization's current template."""
    if source is None:
        source = (await get(session, org_id, name)).source
    return preview(name, source, updated=updated)
