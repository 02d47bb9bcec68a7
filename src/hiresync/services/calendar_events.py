"""A person's events made in hiresync, and what their synced calendars hold (issue #6).

Seeds 002/003 set the rules this module keeps:

- events made in hiresync one by one go into the person's hiring calendar (the two-way one:
  their first calendar, or the dedicated one hiresync created) and stay in step both ways;
- events imported into the platform never go out; an imported event changed by a mass
  update becomes the platform's own and goes out from then on;
- only events the person owns go out (hiresync's events always are);
- the meetings of every synced calendar are shown in hiresync, read-only: they are changed
  in the calendar they come from (hiresync shows what that calendar says);
- interviews: each internal attendee with a CalDAV hiring calendar gets the interview there
  (``mirror_interview``). The copy carries no ORGANIZER or ATTENDEE, so a server with
  implicit scheduling sends no invitations of its own; Outlook calendars get none, as the
  company calendar's meeting request already puts the interview in them, and a second copy
  would be a duplicate. The interview is the source of truth: its copy follows every
  change and is removed when it is cancelled; moving the copy in the calendar does not
  move the interview (it has other attendees and a candidate: reschedule it in hiresync).

Each change is a row of ``calendar_items`` (origin ``hiresync`` or ``imported``) with a new
version, committed with a queued ``sync_calendar`` run (the transactional outbox of the
sync engine): the run writes it out and records the pair, and a row deleted here stays as
a tombstone until the calendar's copy is gone too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as fields_of
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.calendar_copies import Origin
from hiresync.domain.interviews import InterviewStatus, Meeting, MeetingType, is_live
from hiresync.domain.timezones import is_valid_iana, zone_or_utc
from hiresync.providers.caldav import parse_item
from hiresync.providers.email.ical import uid_for
from hiresync.providers.ical_objects import StoredEvent, to_ics
from hiresync.runtime import Runtime
from hiresync.services import calendar_sync, copied_busy
from hiresync.services.errors import AlreadyExists, InvalidInput, NotConnected, NotFound
from hiresync.store.tables import (
    CalendarAccount,
    CalendarItem,
    Interview,
    InterviewAttendee,
    SyncedCalendar,
    User,
)

HIRING_ROLES = ("primary", "dedicated")  # the two-way calendar of an account
MIRRORED_PROVIDERS = ("caldav",)  # Outlook gets interviews from the company calendar's request
MAX_BATCH = 1_000  # events in one import or mass update
SETTINGS_HINT = "Start synchronization under Settings › My calendar (or POST calendar-sync)."


@dataclass(frozen=True)
class EventFields:
    """What a caller says about an event (times aware; an all-day event's dates are read
    in ``time_zone``)."""

    summary: str
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    all_day: bool = False
    location: str | None = None
    description: str | None = None
    busy: bool = True


@dataclass(frozen=True)
class EventChanges:
    """A partial change (None: left as it is); ``start`` and ``end`` move together."""

    summary: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    location: str | None = None
    description: str | None = None
    busy: bool | None = None
    cleared: frozenset[str] = frozenset()  # location / description set to nothing


@dataclass(frozen=True)
class ShownEvent:
    """One event (or one occurrence of a series) of a person's synced calendars."""

    id: uuid.UUID
    uid: str
    calendar_id: uuid.UUID
    calendar_name: str
    calendar_role: str
    summary: str
    start: datetime | None
    end: datetime | None
    all_day: bool
    time_zone: str | None
    busy: bool
    status: str
    origin: str
    read_only: bool
    read_only_reason: str | None
    interview_id: uuid.UUID | None
    location: str | None
    description: str | None
    recurring: bool
    sync_state: str  # synced | pending | local (imported: never goes out) | deleting


# -- checks ------------------------------------------------------------------------------------


def check_fields(fields: EventFields) -> EventFields:
    """Refuse what no calendar would take, saying which field to fix."""
    summary = fields.summary.strip()
    if not summary:
        raise InvalidInput("An event needs a title.", field="summary")
    if fields.start.tzinfo is None or fields.end.tzinfo is None:
        raise InvalidInput(
            "Times need a UTC offset, like 2026-12-01T15:00:00Z.",
            field="start" if fields.start.tzinfo is None else "end",
        )
    if not is_valid_iana(fields.time_zone):
        raise InvalidInput(
            f"{fields.time_zone!r} is not an IANA time zone.",
            hint="Use a name like Europe/Berlin.",
            field="time_zone",
        )
    if fields.end <= fields.start:
        raise InvalidInput("The event's end must come after its start.", field="end")
    if fields.end - fields.start > timedelta(days=366):
        raise InvalidInput("An event cannot last more than a year.", field="end")
    return replace(fields, summary=summary)


def _changed(fields: EventFields, changes: EventChanges) -> EventFields:
    values = {
        f.name: getattr(changes, f.name)
        for f in fields_of(changes)
        if f.name != "cleared" and getattr(changes, f.name) is not None
    }
    for name in changes.cleared:
        values[name] = None
    return check_fields(replace(fields, **values))


# -- the hiring calendar -----------------------------------------------------------------------


async def hiring_calendar(session: AsyncSession, user: User) -> SyncedCalendar | None:
    """The person's two-way calendar, if they synchronize one (a CalDAV one first: it is
    where interviews are mirrored; then the most recently connected)."""
    rows = await session.execute(
        select(SyncedCalendar, CalendarAccount.provider)
        .join(CalendarAccount, CalendarAccount.id == SyncedCalendar.account_id)
        .where(
            SyncedCalendar.organization_id == user.organization_id,
            SyncedCalendar.user_id == user.id,
            SyncedCalendar.role.in_(HIRING_ROLES),
            SyncedCalendar.state != "disabled",
            CalendarAccount.status != "disconnected",
        )
        .order_by(CalendarAccount.connected_at.desc())
    )
    found = [(calendar, provider) for calendar, provider in rows]
    found.sort(key=lambda pair: pair[1] not in MIRRORED_PROVIDERS)
    return found[0][0] if found else None


async def _calendar_for(session: AsyncSession, user: User) -> SyncedCalendar:
    calendar = await hiring_calendar(session, user)
    if calendar is None:
        raise NotConnected(f"{user.email}'s calendar is not synchronized.", hint=SETTINGS_HINT)
    return calendar


# -- rows --------------------------------------------------------------------------------------


def _digest(fields: EventFields, extra: dict[str, Any] | None = None) -> str:
    content = {
        "summary": fields.summary,
        "start": fields.start.astimezone(UTC).isoformat(),
        "end": fields.end.astimezone(UTC).isoformat(),
        "time_zone": fields.time_zone,
        "all_day": fields.all_day,
        "location": fields.location,
        "description": fields.description,
        "busy": fields.busy,
        **(extra or {}),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _utc_day(moment: datetime, zone: str) -> datetime:
    day = moment.astimezone(zone_or_utc(zone)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _columns(
    fields: EventFields, uid: str, sequence: int, url: str | None = None
) -> dict[str, Any]:
    """A row's content: the columns availability reads and the iCalendar text a CalDAV
    calendar is written with (Outlook is written from the columns)."""
    starts_at, ends_at = fields.start.astimezone(UTC), fields.end.astimezone(UTC)
    if fields.all_day:  # midnight UTC of the dates, as the copy keeps every all-day event
        starts_at = _utc_day(fields.start, fields.time_zone)
        ends_at = max(_utc_day(fields.end, fields.time_zone), starts_at + timedelta(days=1))
    stored = StoredEvent(
        uid=uid,
        sequence=sequence,
        summary=fields.summary,
        start=fields.start,
        end=fields.end,
        time_zone=fields.time_zone,
        all_day=fields.all_day,
        description=fields.description,
        location=fields.location,
        url=url,
        busy=fields.busy,
    )
    return {
        "summary": fields.summary,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "all_day": fields.all_day,
        "time_zone": fields.time_zone,
        "busy": fields.busy,
        "status": "confirmed",
        "recurring": False,
        "owned": True,
        "data": {
            "location": fields.location,
            "description": fields.description,
            "url": url,
            "show_as": "busy" if fields.busy else "free",
        },
        "raw": to_ics(stored),
        "quarantine": None,
        "modified_at": datetime.now(UTC),
    }


def _fields_of(row: CalendarItem) -> EventFields:
    data = row.data or {}
    zone = row.time_zone if row.time_zone and is_valid_iana(row.time_zone) else "UTC"
    start = row.starts_at or datetime.now(UTC)
    return EventFields(
        summary=row.summary or "(no title)",
        start=start,
        end=row.ends_at if row.ends_at and row.ends_at > start else start + timedelta(hours=1),
        time_zone=zone,
        all_day=row.all_day,
        location=data.get("location"),
        description=data.get("description"),
        busy=row.busy,
    )


def _new_row(
    calendar: SyncedCalendar,
    fields: EventFields,
    uid: str,
    origin: Origin,
    interview_id: uuid.UUID | None = None,
    url: str | None = None,
) -> CalendarItem:
    return CalendarItem(
        id=uuid.uuid4(),
        organization_id=calendar.organization_id,
        calendar_id=calendar.id,
        uid=uid,
        version=1,
        digest=_digest(fields, {"url": url}),
        origin=origin.value,
        deleted=False,
        interview_id=interview_id,
        **_columns(fields, uid, 0, url),
    )


def _rewrite(row: CalendarItem, fields: EventFields, url: str | None = None) -> bool:
    """Bring the row to ``fields``; False when it already says that (nothing goes out)."""
    digest = _digest(fields, {"url": url})
    if digest == row.digest and not row.deleted:
        return False
    row.version += 1
    row.digest, row.deleted = digest, False
    for name, value in _columns(fields, row.uid, row.version, url).items():
        setattr(row, name, value)
    return True


async def _queue(
    runtime: Runtime, session: AsyncSession, calendar_ids: Iterable[uuid.UUID]
) -> None:
    for calendar_id in sorted(set(calendar_ids)):
        await calendar_sync.queue_sync(runtime, session, calendar_id)


# -- one by one --------------------------------------------------------------------------------


async def create(
    runtime: Runtime,
    session: AsyncSession,
    user: User,
    fields: EventFields,
    *,
    uid: str | None = None,
) -> tuple[CalendarItem, bool]:
    """A new event in the person's hiring calendar; ``(row, created)``. A ``uid`` the
    platform gives makes a retried call safe: the same uid with the same content returns
    the event already made, with other content it is a 409."""
    fields = check_fields(fields)
    calendar = await _calendar_for(session, user)
    uid = (uid or "").strip() or f"{uuid.uuid4()}@hiresync"
    if len(uid) > 500:
        raise InvalidInput("An event's uid has at most 500 characters.", field="uid")
    existing = await session.scalar(
        select(CalendarItem).where(CalendarItem.calendar_id == calendar.id, CalendarItem.uid == uid)
    )
    if existing is not None:
        if existing.digest == _digest(fields, {"url": None}) and not existing.deleted:
            return existing, False
        raise AlreadyExists(
            f"An event with uid {uid!r} already exists ({existing.id}).",
            hint="Change it with PATCH, or use another uid.",
            field="uid",
        )
    row = _new_row(calendar, fields, uid, Origin.HIRESYNC)
    session.add(row)
    await session.flush()
    await _queue(runtime, session, [calendar.id])
    return row, True


async def _own_row(session: AsyncSession, user: User, event_id: uuid.UUID) -> CalendarItem:
    """One of the person's events, whichever calendar holds it (404 otherwise)."""
    row = await session.scalar(
        select(CalendarItem)
        .join(SyncedCalendar, SyncedCalendar.id == CalendarItem.calendar_id)
        .where(
            CalendarItem.organization_id == user.organization_id,
            SyncedCalendar.user_id == user.id,
            CalendarItem.id == event_id,
            CalendarItem.deleted.is_(False),
        )
        .with_for_update(of=CalendarItem)
    )
    if row is None:
        raise NotFound(f"{user.email} has no event {event_id}.", field="event_id")
    return row


def _editable(row: CalendarItem) -> None:
    reason = _read_only_reason(row)
    if reason is not None:
        raise AlreadyExists(reason, hint=_read_only_hint(row))


def _read_only_reason(row: CalendarItem) -> str | None:
    if row.quarantine:
        return "This event could not be read from the calendar, so it cannot be changed here."
    if row.interview_id is not None:
        return "This is the calendar copy of an interview; it follows the interview."
    if row.origin == Origin.REMOTE.value:
        return "This event comes from the person's calendar; hiresync shows it read-only."
    return None


def _read_only_hint(row: CalendarItem) -> str:
    if row.interview_id is not None:
        return f"Reschedule or cancel interview {row.interview_id} instead."
    return "Change it in the calendar it comes from; the change shows here on the next sync."


async def update(
    runtime: Runtime,
    session: AsyncSession,
    user: User,
    event_id: uuid.UUID,
    changes: EventChanges,
) -> CalendarItem:
    """Change one of the person's hiresync events; it goes out unless it was imported."""
    row = await _own_row(session, user, event_id)
    _editable(row)
    if _rewrite(row, _changed(_fields_of(row), changes)) and row.origin != Origin.IMPORTED:
        await _queue(runtime, session, [row.calendar_id])
    return row


async def delete(runtime: Runtime, session: AsyncSession, user: User, event_id: uuid.UUID) -> None:
    """Remove one of the person's hiresync events here and, on the next sync, from the
    calendar; one never written out is simply removed."""
    row = await _own_row(session, user, event_id)
    _editable(row)
    if row.remote_ident is None:
        await session.delete(row)
        return
    row.deleted, row.version = True, row.version + 1
    await _queue(runtime, session, [row.calendar_id])


# -- many at once ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    uid: str
    fields: EventFields | None = None  # None: a series, kept whole as ``raw``
    raw: str | None = None
    start: datetime | None = None


async def import_events(
    session: AsyncSession, user: User, events: Sequence[Imported]
) -> tuple[int, int]:
    """Events brought into the platform from elsewhere: kept here, counted in availability,
    never written to the calendar (seed 002). All or nothing; ``(added, replaced)``: a uid
    imported again replaces the earlier import, never an event of another origin."""
    if not events:
        raise InvalidInput("Nothing to import.", field="events")
    if len(events) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} events can be imported at once.", field="events")
    calendar = await _calendar_for(session, user)
    uids = [e.uid for e in events]
    if len(set(uids)) != len(uids):
        raise InvalidInput("Two imported events have the same uid.", field="events")
    existing = {
        row.uid: row
        for row in await session.scalars(
            select(CalendarItem)
            .where(CalendarItem.calendar_id == calendar.id, CalendarItem.uid.in_(uids))
            .with_for_update()
        )
    }
    taken = [uid for uid, row in existing.items() if row.origin != Origin.IMPORTED.value]
    if taken:
        raise AlreadyExists(
            f"{len(taken)} of these events are already in the calendar, like {taken[0]!r}.",
            hint="Import only events that came from elsewhere; hiresync already has these.",
            field="events",
        )
    for event in events:
        row = existing.get(event.uid)
        if event.fields is not None:
            if row is None:
                session.add(_new_row(calendar, event.fields, event.uid, Origin.IMPORTED))
            else:
                _rewrite(row, event.fields)
        else:
            _series(session, calendar, event, row)
    await session.flush()
    return len(events) - len(existing), len(existing)


def _series(
    session: AsyncSession, calendar: SyncedCalendar, event: Imported, row: CalendarItem | None
) -> None:
    """An imported series is kept as its text (availability expands it from that)."""
    assert event.raw is not None
    digest = hashlib.sha256(event.raw.encode()).hexdigest()
    values = {
        "digest": digest,
        "summary": event.fields.summary if event.fields else _summary_of(event.raw),
        "starts_at": event.start,
        "ends_at": None,
        "recurring": True,
        "raw": event.raw,
        "owned": True,
        "busy": True,
        "status": "confirmed",
        "data": {},
        "modified_at": datetime.now(UTC),
    }
    if row is None:
        session.add(
            CalendarItem(
                id=uuid.uuid4(),
                organization_id=calendar.organization_id,
                calendar_id=calendar.id,
                uid=event.uid,
                version=1,
                origin=Origin.IMPORTED.value,
                deleted=False,
                **values,
            )
        )
    elif row.digest != digest:
        row.version += 1
        for name, value in values.items():
            setattr(row, name, value)


def _summary_of(raw: str) -> str:
    item = parse_item(raw)
    master = item.master or (item.events[0] if item.events else None)
    return master.summary if master is not None else ""


async def mass_update(
    runtime: Runtime,
    session: AsyncSession,
    user: User,
    event_ids: Sequence[uuid.UUID],
    changes: EventChanges,
) -> int:
    """The same change to many of the person's events at once (seed 002: a mass update).
    Imported events it changes become the platform's own and go out from then on. All or
    nothing: one event that cannot change refuses the whole update, naming it."""
    if not event_ids:
        raise InvalidInput("Name the events to change.", field="event_ids")
    if len(event_ids) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} events at once.", field="event_ids")
    if changes.start is not None or changes.end is not None:
        raise InvalidInput(
            "A mass update cannot move events; move them one by one.", field="changes"
        )
    rows = list(
        await session.scalars(
            select(CalendarItem)
            .join(SyncedCalendar, SyncedCalendar.id == CalendarItem.calendar_id)
            .where(
                CalendarItem.organization_id == user.organization_id,
                SyncedCalendar.user_id == user.id,
                CalendarItem.id.in_(list(event_ids)),
                CalendarItem.deleted.is_(False),
            )
            .with_for_update(of=CalendarItem)
        )
    )
    missing = set(event_ids) - {row.id for row in rows}
    if missing:
        raise NotFound(f"{user.email} has no event {sorted(missing)[0]}.", field="event_ids")
    for row in rows:
        _editable(row)
        if row.recurring:
            raise InvalidInput(
                f"Event {row.id} is a series; a mass update changes single events.",
                field="event_ids",
            )
    changed = [row for row in rows if _rewrite(row, _changed(_fields_of(row), changes))]
    for row in rows:
        row.origin = Origin.HIRESYNC.value  # mass-updated: the platform's own from now on
    await _queue(runtime, session, {row.calendar_id for row in rows})
    return len(changed)


# -- interviews --------------------------------------------------------------------------------


async def mirror_interview(runtime: Runtime, session: AsyncSession, interview: Interview) -> int:
    """Bring every internal attendee's calendar copy of ``interview`` to its state (see the
    module docstring); returns how many copies changed. Idempotent: a copy that already
    says the same is left alone, so it is safe to call after every change."""
    # The interview's row lock orders this with every other change of it (the callers that
    # change it hold it already), so two mirrors never race to insert the same copy.
    await session.execute(
        select(Interview.id).where(Interview.id == interview.id).with_for_update()
    )
    users = await _internal_people(session, interview)
    calendars = await _mirrored_calendars(session, interview.organization_id, users)
    uid = uid_for(interview.id)
    existing = {
        row.calendar_id: row
        for row in await session.scalars(
            select(CalendarItem)
            .where(
                CalendarItem.organization_id == interview.organization_id,
                or_(
                    CalendarItem.interview_id == interview.id,
                    and_(
                        CalendarItem.uid == uid,
                        CalendarItem.calendar_id.in_([c.id for c in calendars] or [uuid.uuid4()]),
                    ),
                ),
            )
            .with_for_update()
        )
    }
    live = is_live(InterviewStatus(interview.status))
    fields = _interview_fields(interview)
    touched: list[uuid.UUID] = []
    for calendar in calendars if live else []:
        row = existing.pop(calendar.id, None)
        if row is None:
            session.add(
                _new_row(
                    calendar, fields, uid, Origin.HIRESYNC, interview.id, interview.meeting_url
                )
            )
            touched.append(calendar.id)
        elif _rewrite(row, fields, interview.meeting_url):
            row.interview_id = interview.id
            touched.append(calendar.id)
    for row in existing.values():  # cancelled, or the person is no longer on it
        if row.deleted:
            continue
        if row.remote_ident is None:
            await session.delete(row)
        else:
            row.deleted, row.version = True, row.version + 1
            touched.append(row.calendar_id)
    await session.flush()
    await _queue(runtime, session, touched)
    return len(touched)


async def _internal_people(session: AsyncSession, interview: Interview) -> list[uuid.UUID]:
    ids = set(
        await session.scalars(
            select(InterviewAttendee.user_id).where(
                InterviewAttendee.interview_id == interview.id,
                InterviewAttendee.role != "candidate",
                InterviewAttendee.user_id.is_not(None),
            )
        )
    )
    if interview.organizer_user_id is not None:
        ids.add(interview.organizer_user_id)
    return sorted(i for i in ids if i is not None)


async def _mirrored_calendars(
    session: AsyncSession, org_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> list[SyncedCalendar]:
    if not user_ids:
        return []
    return list(
        await session.scalars(
            select(SyncedCalendar)
            .join(CalendarAccount, CalendarAccount.id == SyncedCalendar.account_id)
            .where(
                SyncedCalendar.organization_id == org_id,
                SyncedCalendar.user_id.in_(user_ids),
                SyncedCalendar.role.in_(HIRING_ROLES),
                SyncedCalendar.state != "disabled",
                CalendarAccount.provider.in_(MIRRORED_PROVIDERS),
                CalendarAccount.status != "disconnected",
            )
        )
    )


def _interview_fields(interview: Interview) -> EventFields:
    meeting = Meeting(
        MeetingType(interview.meeting_type),
        interview.meeting_url,
        interview.meeting_id,
        interview.meeting_passcode,
        interview.meeting_phone,
        interview.meeting_address,
    )
    lines = [f"Interview scheduled in hiresync ({interview.status}).", *meeting.joining_lines()]
    if interview.notes_for_interviewers:
        lines += ["", "Notes for interviewers:", interview.notes_for_interviewers]
    lines += ["", "Reschedule or cancel it in hiresync; changes made here are not sent."]
    zone = interview.time_zone if is_valid_iana(interview.time_zone) else "UTC"
    return EventFields(
        summary=interview.title,
        start=interview.start,
        end=interview.end,
        time_zone=zone,
        location=interview.location or interview.meeting_address or interview.meeting_url,
        description="\n".join(lines),
    )


# -- what the person's calendars hold ----------------------------------------------------------


async def shown_between(
    session: AsyncSession, user: User, start: datetime, end: datetime
) -> list[ShownEvent]:
    """Every event of the person's synced calendars over ``start``–``end``, series expanded
    into their occurrences, soonest first."""
    if end <= start:
        raise InvalidInput("The window's end must come after its start.", field="end")
    if end - start > timedelta(days=93):
        raise InvalidInput("Ask for at most 93 days at once.", field="end")
    rows = await session.execute(
        select(CalendarItem, SyncedCalendar)
        .join(SyncedCalendar, SyncedCalendar.id == CalendarItem.calendar_id)
        .where(
            CalendarItem.organization_id == user.organization_id,
            SyncedCalendar.user_id == user.id,
            CalendarItem.deleted.is_(False),
            CalendarItem.quarantine.is_(None),
            or_(
                and_(CalendarItem.starts_at < end, CalendarItem.ends_at > start),
                and_(CalendarItem.recurring.is_(True), CalendarItem.starts_at < end),
            ),
        )
    )
    zone = zone_or_utc(user.time_zone)
    shown: list[ShownEvent] = []
    for row, calendar in rows:
        base = _shown(row, calendar)
        if row.recurring:
            shown += [
                replace(base, start=o.start, end=o.end, busy=base.busy and not o.free)
                for o in copied_busy.occurrences(row.raw, start, end, zone)
            ]
        else:
            shown.append(base)
    return sorted(shown, key=lambda e: (e.start or start, e.summary))


def _shown(row: CalendarItem, calendar: SyncedCalendar) -> ShownEvent:
    data = row.data or {}
    reason = _read_only_reason(row)
    if calendar.direction == "pull" and reason is None:
        reason = "This calendar is read-only in hiresync."
    return ShownEvent(
        id=row.id,
        uid=row.uid,
        calendar_id=calendar.id,
        calendar_name=calendar.name,
        calendar_role=calendar.role,
        summary=row.summary,
        start=row.starts_at,
        end=row.ends_at,
        all_day=row.all_day,
        time_zone=row.time_zone,
        busy=row.busy,
        status=row.status,
        origin=row.origin,
        read_only=reason is not None,
        read_only_reason=reason,
        interview_id=row.interview_id,
        location=data.get("location"),
        description=data.get("description"),
        recurring=row.recurring,
        sync_state=_sync_state(row),
    )


def _sync_state(row: CalendarItem) -> str:
    if row.origin == Origin.IMPORTED.value:
        return "local"
    if row.origin == Origin.REMOTE.value:
        return "synced"
    if row.remote_ident is not None and row.synced_version == row.version:
        return "synced"
    return "pending"


async def get(session: AsyncSession, user: User, event_id: uuid.UUID) -> ShownEvent:
    row = await _own_row(session, user, event_id)
    calendar = await session.get(SyncedCalendar, row.calendar_id)
    assert calendar is not None
    return _shown(row, calendar)


# -- iCalendar import --------------------------------------------------------------------------


def parse_import(text: str, default_zone: str = "UTC") -> list[Imported]:
    """The events of an iCalendar file, for ``import_events``; a file that cannot be read
    is refused whole, saying where (nothing is half-imported)."""
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise InvalidInput(
            f"The file is not valid iCalendar: {exc}",
            hint="Send the text of a .ics file (BEGIN:VCALENDAR … END:VCALENDAR).",
            field="body",
        ) from exc
    if calendar.name != "VCALENDAR":
        raise InvalidInput("The file is not a VCALENDAR.", field="body")
    zones = [c for c in calendar.walk("VTIMEZONE")]
    found: dict[str, Imported] = {}
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        uid = str(event.get("UID") or "").strip()
        if not uid:
            raise InvalidInput(f"Event {number} of the file has no UID.", field="body")
        if event.get("RECURRENCE-ID") is not None:
            continue  # an exception of a series: kept in the series' text below
        found[uid] = _imported(calendar, zones, event, uid, number, default_zone)
    if not found:
        raise InvalidInput("The file holds no event.", field="body")
    return list(found.values())


def _imported(
    calendar: Calendar, zones: list[Any], event: Any, uid: str, number: int, default_zone: str
) -> Imported:
    where = f"event {number} ({uid})"
    start_prop = event.get("DTSTART")
    if start_prop is None:
        raise InvalidInput(f"The file's {where} has no start (DTSTART).", field="body")
    start_value = start_prop.dt
    tzid = start_prop.params.get("TZID")
    if tzid and not is_valid_iana(str(tzid)) and not zones:
        raise InvalidInput(
            f"The file's {where} uses the time zone {tzid!r}, which neither the file nor the "
            "IANA database defines.",
            field="body",
        )
    all_day = not isinstance(start_value, datetime)
    zone = str(tzid) if tzid and is_valid_iana(str(tzid)) else default_zone
    floating = zone_or_utc(default_zone)  # times with no zone: the person's
    start = copied_busy.utc_of(start_value, floating)
    if event.get("DTEND") is not None:
        end = copied_busy.utc_of(event["DTEND"].dt, floating)
    elif event.get("DURATION") is not None:
        end = start + event["DURATION"].dt
    else:
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    if end <= start:
        end = start + (timedelta(days=1) if all_day else timedelta(minutes=1))
    summary = str(event.get("SUMMARY") or "").strip() or "(no title)"
    if event.get("RRULE") is not None:
        return Imported(uid, None, _series_text(calendar, zones, uid), start)
    fields = EventFields(
        summary=summary,
        start=start,
        end=end,
        time_zone=zone,
        all_day=all_day,
        location=str(event.get("LOCATION") or "") or None,
        description=str(event.get("DESCRIPTION") or "") or None,
        busy=str(event.get("TRANSP") or "OPAQUE").upper() != "TRANSPARENT",
    )
    return Imported(uid, check_fields(fields))


def _series_text(calendar: Calendar, zones: list[Any], uid: str) -> str:
    """A series with its exceptions and the zones it uses, as one calendar object."""
    one = Calendar()
    one.add("prodid", "-//hiresync//Imported events//EN")
    one.add("version", "2.0")
    for zone in zones:
        one.add_component(zone)
    for event in calendar.walk("VEVENT"):
        if str(event.get("UID") or "").strip() == uid:
            one.add_component(event)
    return one.to_ical().decode()
