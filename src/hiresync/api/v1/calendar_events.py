"""A team member's calendar events: what their synced calendars hold (read-only), and the
events the platform makes, imports and mass-updates for them (seed 002's rules; see
``services.calendar_events``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.services import calendar_events, team
from hiresync.services.calendar_events import EventChanges, EventFields, Imported, ShownEvent
from hiresync.services.errors import InvalidInput

router = APIRouter(tags=["calendar events"])
MAX_ICS_BYTES = 5_000_000


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=1000, examples=["Call with the hiring team"])
    start: datetime = Field(examples=["2026-12-01T15:00:00Z"])
    end: datetime = Field(examples=["2026-12-01T16:00:00Z"])
    time_zone: str = Field(
        default="UTC", examples=["Europe/Berlin"], description="The zone it is written in."
    )
    all_day: bool = Field(
        default=False, description="Whole days: the dates of start and end in time_zone."
    )
    location: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20000)
    show_as: Literal["busy", "free"] = "busy"
    uid: str | None = Field(
        default=None,
        max_length=500,
        description="Your id for it: sending the same event again returns it, never a "
        "second one. Required when importing.",
    )


class EventPatch(BaseModel):
    """A JSON merge patch: left out is kept; null clears location or description."""

    model_config = ConfigDict(extra="forbid")
    summary: str | None = Field(default=None, min_length=1, max_length=1000)
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    location: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20000)
    show_as: Literal["busy", "free"] | None = None


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=calendar_events.MAX_BATCH)


class MassUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=calendar_events.MAX_BATCH)
    changes: EventPatch


class EventOut(BaseModel):
    id: uuid.UUID
    uid: str
    calendar: dict[str, Any]
    summary: str
    start: datetime | None
    end: datetime | None
    all_day: bool
    time_zone: str | None
    show_as: str
    status: str
    origin: Literal["remote", "hiresync", "imported"] = Field(
        description="remote: read from the calendar; hiresync: made here, goes out; "
        "imported: brought in from elsewhere, never goes out."
    )
    read_only: bool
    read_only_reason: str | None
    interview_id: uuid.UUID | None
    location: str | None
    description: str | None
    recurring: bool
    sync_state: Literal["synced", "pending", "local"]


class ImportOut(BaseModel):
    added: int
    replaced: int


class MassUpdateOut(BaseModel):
    changed: int


def _out(e: ShownEvent) -> EventOut:
    return EventOut(
        id=e.id,
        uid=e.uid,
        calendar={"id": e.calendar_id, "name": e.calendar_name, "role": e.calendar_role},
        summary=e.summary,
        start=e.start,
        end=e.end,
        all_day=e.all_day,
        time_zone=e.time_zone,
        show_as="busy" if e.busy else "free",
        status=e.status,
        origin=e.origin,  # type: ignore[arg-type]
        read_only=e.read_only,
        read_only_reason=e.read_only_reason,
        interview_id=e.interview_id,
        location=e.location,
        description=e.description,
        recurring=e.recurring,
        sync_state=e.sync_state,  # type: ignore[arg-type]
    )


def _fields(body: EventIn) -> EventFields:
    return EventFields(
        summary=body.summary,
        start=body.start,
        end=body.end,
        time_zone=body.time_zone,
        all_day=body.all_day,
        location=body.location,
        description=body.description,
        busy=body.show_as == "busy",
    )


def _changes(body: EventPatch) -> EventChanges:
    given = body.model_fields_set
    for name in sorted(given - {"location", "description"}):
        if getattr(body, name) is None:
            raise InvalidInput(
                f"{name} cannot be null.", hint="Leave it out to keep it as it is.", field=name
            )
    return EventChanges(
        summary=body.summary,
        start=body.start,
        end=body.end,
        time_zone=body.time_zone,
        all_day=body.all_day,
        location=body.location,
        description=body.description,
        busy=None if body.show_as is None else body.show_as == "busy",
        cleared=frozenset(
            n for n in ("location", "description") if n in given and not getattr(body, n)
        ),
    )


@router.get("/users/{user_id}/events", response_model=list[EventOut])
async def list_events(
    user_id: uuid.UUID,
    org: OrgDep,
    session: SessionDep,
    start: Annotated[datetime, Query(examples=["2026-12-01T00:00:00Z"])],
    end: Annotated[datetime, Query(examples=["2026-12-08T00:00:00Z"])],
) -> list[EventOut]:
    """Every event of the person's synced calendars in the window (at most 93 days), series
    as their occurrences: their own meetings (read-only here), the events made in hiresync,
    imported ones, and interview copies."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a UTC offset, like 2026-12-01T00:00:00Z.")
    user = await team.get_user(session, org, user_id)
    return [_out(e) for e in await calendar_events.shown_between(session, user, start, end)]


@router.get("/users/{user_id}/events/{event_id}", response_model=EventOut)
async def get_event(
    user_id: uuid.UUID, event_id: uuid.UUID, org: OrgDep, session: SessionDep
) -> EventOut:
    user = await team.get_user(session, org, user_id)
    return _out(await calendar_events.get(session, user, event_id))


@router.post("/users/{user_id}/events", response_model=EventOut, status_code=201)
async def create_event(
    user_id: uuid.UUID,
    body: EventIn,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> EventOut:
    """An event in the person's hiring calendar (the two-way one); it is written there on
    the next sync, which is queued at once. The same ``uid`` again returns it (200)."""
    user = await team.get_user(session, org, user_id)
    row, created = await calendar_events.create(runtime, session, user, _fields(body), uid=body.uid)
    if not created:
        response.status_code = 200
    return _out(await calendar_events.get(session, user, row.id))


@router.patch("/users/{user_id}/events/{event_id}", response_model=EventOut)
async def update_event(
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    body: EventPatch,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> EventOut:
    """Change an event made in hiresync (or imported: it stays here). Events from the
    calendar and interview copies are read-only (409 says where to change them)."""
    user = await team.get_user(session, org, user_id)
    row = await calendar_events.update(runtime, session, user, event_id, _changes(body))
    return _out(await calendar_events.get(session, user, row.id))


@router.delete("/users/{user_id}/events/{event_id}", status_code=204)
async def delete_event(
    user_id: uuid.UUID, event_id: uuid.UUID, org: OrgDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Remove an event made in hiresync, here and from the calendar on the next sync."""
    user = await team.get_user(session, org, user_id)
    await calendar_events.delete(runtime, session, user, event_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/events/mass-update", response_model=MassUpdateOut)
async def mass_update_events(
    user_id: uuid.UUID,
    body: MassUpdateIn,
    org: OrgDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MassUpdateOut:
    """The same change to many events (not their times). Imported events it changes become
    hiresync's own and go out to the calendar from then on (seed 002). All or nothing."""
    user = await team.get_user(session, org, user_id)
    changed = await calendar_events.mass_update(
        runtime, session, user, body.event_ids, _changes(body.changes)
    )
    return MassUpdateOut(changed=changed)


@router.post(
    "/users/{user_id}/events/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": ImportIn.model_json_schema()},
                "text/calendar": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def import_events(
    user_id: uuid.UUID,
    request: Request,
    org: OrgDep,
    session: SessionDep,
) -> ImportOut:
    """Events brought in from elsewhere (JSON, or an iCalendar file as ``text/calendar``):
    kept here and counted in availability, never written to the calendar. A uid imported
    again replaces its earlier import. All or nothing."""
    user = await team.get_user(session, org, user_id)
    events = await _imported(request, user.time_zone or "UTC")
    added, replaced = await calendar_events.import_events(session, user, events)
    return ImportOut(added=added, replaced=replaced)


async def _imported(request: Request, zone: str) -> list[Imported]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > MAX_ICS_BYTES:
        raise InvalidInput(f"Send at most {MAX_ICS_BYTES // 1_000_000} MB at once.", field="body")
    if kind == "text/calendar":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The file is not UTF-8 text.", field="body") from exc
        return calendar_events.parse_import(text, zone)
    if kind != "application/json":
        raise InvalidInput(
            'Send application/json ({"events": [...]}) or text/calendar (an .ics file).',
            field="content-type",
        )
    try:
        body = ImportIn.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=where or "body") from exc
    missing = [i for i, e in enumerate(body.events) if not (e.uid or "").strip()]
    if missing:
        raise InvalidInput(
            f"events.{missing[0]}.uid is required when importing.",
            hint="Give each event the id it has where it comes from.",
            field=f"events.{missing[0]}.uid",
        )
    return [_checked(number, e) for number, e in enumerate(body.events)]


def _checked(number: int, event: EventIn) -> Imported:
    """One event of an import, its problem named by its place in the list."""
    try:
        fields = calendar_events.check_fields(_fields(event))
    except InvalidInput as exc:
        where = f"events.{number}.{exc.field or 'summary'}"
        raise InvalidInput(f"{where}: {exc.message}", hint=exc.hint, field=where) from exc
    return Imported((event.uid or "").strip(), fields)
