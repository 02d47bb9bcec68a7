"""Bring an interview's event in the organizer's calendar up to the interview's state.

The interview row is the source of truth; this runs as the ``push_interview`` job
(one at a time per interview, by job lock) and is safe to run any number of times:

==========================  ==================  ============================================
interview                   calendar link        action
==========================  ==================  ============================================
draft                       any                  nothing (drafts stay in hiresync)
live or cancelled           no event id, but a   look for our key first (a crash may have
                            create was begun     left an event): found -> re-link it
live                        no event (still)     create (with transactionId and our key)
live                        behind (sequence)    update the same event
live                        up to date           nothing
cancelled                   event                cancel it, with the message, once
cancelled                   no event             nothing: it never reached a calendar
==========================  ==================  ============================================

The event id is saved in its own transaction as soon as the provider answers, so the
window in which a crash can lose it is small, and ``find`` closes it.

The job's own bookkeeping (the snapshot that marks a create as begun, the record of a
finished write) commits without waiting for the disk flush (``synchronous_commit``
off for those transactions only): losing one to a database *server* crash costs at
most a repeated look-up or an idempotent rewrite, never a lost or doubled event, while
waiting for two flushes per interview was what bounded a thousand-interview burst. For
the same reason each is one SQL statement written out here (``_CLAIM``, ``_SYNCED``)
rather than a series of ORM round trips: a burst is bounded by the worker's CPU, and
each round trip cost as much as the provider call's own handling. The interview
itself, the source of truth, is always committed durably by its use case.

A Zoom interview's own meeting (``services.meeting_push``) is brought up to date first, so
the event carries its link; while it cannot be made, the event waits (an invitation
without the link would be worse than a late one). Other interviews never take that path.

A provider failure that retrying may cure (throttling, outage) is raised for the job
engine to retry with backoff; one that it cannot (a refused request) is written on the
link and the interview's history, where the recruiter sees it.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import (
    InterviewStatus,
    is_live,
    made_on_host_account,
    made_with_event,
)
from hiresync.providers.base import EventAttendee, EventDraft, EventWriter, WrittenEvent
from hiresync.providers.errors import AuthRevoked, BadRequest, ProviderError
from hiresync.runtime import Runtime
from hiresync.services import calendar_events, connections, meeting_push, webhooks
from hiresync.services.interviews import history_entry as _history
from hiresync.services.interviews import summary
from hiresync.store.tables import (
    CalendarLink,
    Interview,
    InterviewAttendee,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LinkState:
    """The calendar link as the job read it (see ``CalendarLink``)."""

    id: uuid.UUID
    mailbox: str
    external_event_id: str | None
    transaction_id: str
    synced_sequence: int
    writing_sequence: int | None
    state: str


@dataclass(frozen=True, slots=True)
class ConnectionRef:
    """The organization's live calendar connection, as a job needs it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    tenant_id: str
    status: str


@dataclass(frozen=True, slots=True)
class AttendeeRef:
    name: str
    email: str
    email_key: str
    role: str


@dataclass(frozen=True)
class Snapshot:
    """What the job read, in one statement, before talking to the provider.

    ``interview`` is the interview's row (the columns of ``Interview``, read-only).
    ``address`` is how the provider is asked for the organizer's calendar: the directory
    id when we know it (Graph's ``/users/{x}`` takes an id or a UPN, not any address)."""

    interview: Any
    candidate_name: str
    attendees: tuple[AttendeeRef, ...]
    link: LinkState
    address: str
    fresh: bool = False  # never tried before: no create can be in limbo
    connection: ConnectionRef | None = None
    cancel_message: str | None = None


def body_html(interview: Any, candidate_name: str) -> str:
    """What every attendee reads in the invitation. Notes for interviewers are never
    here: the candidate receives the same event."""
    lines = [f"Interview with {candidate_name}."]
    if interview.message_to_candidate:
        lines.append(interview.message_to_candidate)
    for label, value in (
        ("Join", interview.meeting_url),
        ("Meeting ID", interview.meeting_id),
        ("Passcode", interview.meeting_passcode),
        ("Phone", interview.meeting_phone),
        ("Address", interview.meeting_address),
    ):
        if value:
            lines.append(f"{label}: {value}")
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines)


def draft_for(snapshot: Snapshot, online_meeting: bool) -> EventDraft:
    interview = snapshot.interview
    attendees = tuple(
        EventAttendee(a.email, a.name)
        for a in sorted(snapshot.attendees, key=lambda a: (a.role != "interviewer", a.name))
        if a.email_key != snapshot.link.mailbox.lower()
        and not (a.role == "candidate" and interview.candidate_invited_by == "email")
    )
    return EventDraft(
        key=str(interview.id),
        transaction_id=snapshot.link.transaction_id,
        subject=interview.title,
        body_html=body_html(interview, snapshot.candidate_name),
        start=interview.start,
        end=interview.end,
        time_zone=interview.time_zone,
        location=interview.location or interview.meeting_address,
        attendees=attendees,
        online_meeting=online_meeting,
    )


# Everything a push needs, in one statement: the job's hot path, where every round trip
# is paid once per interview. With ``claim`` the calendar link is created if missing and
# a create about to be sent is marked (state "writing"), by the ``claim`` CTE; the outer
# SELECT still sees the link as it was before (a CTE's writes are invisible to its
# statement), which is what tells a link never tried (``fresh``) from one a create may
# have reached. Run in autocommit, the statement is its own transaction, committed
# without waiting for the disk (``set_config``: see the module docstring). The new link's
# transactionId is derived from the interview and mailbox, so it is the same whichever
# attempt creates the row.
_SELECT = """
SELECT i.*, c.name AS candidate_name,
  l.id AS link_id, l.external_event_id AS link_event_id,
  l.transaction_id AS link_transaction_id, l.synced_sequence AS link_synced_sequence,
  l.writing_sequence AS link_writing_sequence, l.state AS link_state,
  conn.id AS conn_id, conn.provider AS conn_provider, conn.tenant_id AS conn_tenant_id,
  conn.status AS conn_status,
  COALESCE(
    (SELECT e.external_id FROM directory_matches m
       JOIN directory_entries e ON e.id = m.entry_id
      WHERE i.organizer_user_id IS NOT NULL AND m.user_id = i.organizer_user_id
        AND lower(m.mailbox) = lower(i.organizer_mailbox) LIMIT 1),
    (SELECT e.external_id FROM directory_entries e
      WHERE e.organization_id = i.organization_id
        AND (lower(e.mail) = lower(i.organizer_mailbox)
             OR lower(e.user_principal_name) = lower(i.organizer_mailbox)) LIMIT 1)
  ) AS directory_id,
  (SELECT coalesce(json_agg(json_build_object('name', a.name, 'email', a.email,
            'email_key', a.email_key, 'role', a.role)), '[]')
     FROM interview_attendees a WHERE a.interview_id = i.id) AS attendee_list,
  EXISTS (SELECT 1 FROM interview_meetings vm WHERE vm.interview_id = i.id
           AND vm.external_meeting_id IS NOT NULL AND vm.state <> 'deleted') AS has_video_meeting,
  CASE WHEN i.status = 'cancelled' THEN
    (SELECT h.details->>'message' FROM interview_history h
      WHERE h.interview_id = i.id AND h.action = 'cancelled' ORDER BY h.at DESC LIMIT 1)
  END AS cancel_message
  {claimed}
FROM interviews i
JOIN candidates c ON c.id = i.candidate_id
LEFT JOIN interview_calendar_links l
  ON l.interview_id = i.id AND l.mailbox = i.organizer_mailbox
LEFT JOIN LATERAL (
  SELECT id, provider, tenant_id, status FROM connections
   WHERE organization_id = i.organization_id AND status <> 'disconnected' LIMIT 1
) conn ON true
{claim_join}
WHERE i.id = :interview_id
"""
_READ = text(_SELECT.format(claimed="", claim_join=""))
_CLAIM_CTE = """
WITH claim AS (
  INSERT INTO interview_calendar_links AS l
    (id, organization_id, interview_id, mailbox, transaction_id, synced_sequence,
     writing_sequence, state, attempts, updated_at)
  SELECT :link_id, i.organization_id, i.id, i.organizer_mailbox,
         md5(i.id::text || ':' || lower(i.organizer_mailbox))::uuid::text, -1,
         CASE WHEN i.status IN ('confirmed', 'rescheduled') THEN i.sequence END,
         CASE WHEN i.status IN ('confirmed', 'rescheduled') THEN 'writing' ELSE 'pending' END,
         0, now()
    FROM interviews i WHERE i.id = :interview_id AND i.status <> 'draft'
  ON CONFLICT (interview_id, mailbox) DO UPDATE
    SET state = 'writing', writing_sequence = excluded.writing_sequence, updated_at = now()
    WHERE l.state = 'pending' AND l.external_event_id IS NULL AND excluded.state = 'writing'
  RETURNING l.id, l.transaction_id, l.state, l.writing_sequence
)
"""
_CLAIMED = """,
  claim.id AS claim_id, claim.transaction_id AS claim_transaction_id,
  claim.state AS claim_state, claim.writing_sequence AS claim_writing_sequence,
  set_config('synchronous_commit', 'off', true) AS relaxed"""
# Constant fragments of our own, no input anywhere: not an injection vector.
_CLAIM = text(_CLAIM_CTE + _SELECT.format(claimed=_CLAIMED, claim_join="LEFT JOIN claim ON true"))


async def snapshot_of(
    runtime: Runtime, interview_id: uuid.UUID, *, claim: bool = True
) -> Snapshot | None:
    """Everything the push needs, read in one statement. With ``claim`` (the push) the
    calendar link is created if missing and a create about to be sent is marked; without
    it (a reader such as the answers refresh) nothing is written, and no link means None.
    A draft has no link and gives None either way (a draft stays in hiresync)."""
    params: dict[str, Any] = {"interview_id": interview_id}
    if claim:
        params["link_id"] = uuid.uuid4()
    async with runtime.db.autocommit() as conn:
        row = (await conn.execute(_CLAIM if claim else _READ, params)).first()
    if row is None:
        return None
    fresh = row.link_id is None or (row.link_state == "pending" and row.link_event_id is None)
    if claim and row.claim_id is not None:
        link = LinkState(
            row.claim_id,
            row.organizer_mailbox,
            row.link_event_id,
            row.claim_transaction_id,
            -1 if row.link_id is None else row.link_synced_sequence,
            row.claim_writing_sequence,
            row.claim_state,
        )
    elif row.link_id is not None:
        link = LinkState(
            row.link_id,
            row.organizer_mailbox,
            row.link_event_id,
            row.link_transaction_id,
            row.link_synced_sequence,
            row.link_writing_sequence,
            row.link_state,
        )
    else:
        return None  # a draft, or no link yet for a reader
    connection = (
        ConnectionRef(
            row.conn_id, row.organization_id, row.conn_provider, row.conn_tenant_id, row.conn_status
        )
        if row.conn_id is not None
        else None
    )
    attendees = tuple(
        AttendeeRef(a["name"], a["email"], a["email_key"], a["role"]) for a in row.attendee_list
    )
    return Snapshot(
        interview=row,
        candidate_name=row.candidate_name,
        attendees=attendees,
        link=link,
        address=row.directory_id or link.mailbox,
        fresh=fresh,
        connection=connection,
        cancel_message=row.cancel_message,
    )


async def push(runtime: Runtime, interview_id: uuid.UUID) -> None:
    """The job: see the module docstring's table."""
    snapshot = await snapshot_of(runtime, interview_id)
    if snapshot is None or snapshot.interview.status == InterviewStatus.DRAFT.value:
        return
    if made_on_host_account(snapshot.interview.meeting_type) or (
        snapshot.interview.has_video_meeting
    ):
        snapshot = await _with_meeting(runtime, snapshot)
        if snapshot is None:
            return
    interview, link = snapshot.interview, snapshot.link
    if link.synced_sequence >= interview.sequence:
        return
    connection = snapshot.connection
    if connection is None:
        await _failed(runtime, snapshot, "The company calendar was disconnected.")
        return
    writer = runtime.calendar(connection.provider).events(
        connection.tenant_id, connections.token_for(runtime, connection)
    )
    try:
        await _apply(runtime, writer, snapshot)
    except AuthRevoked as exc:
        await connections.mark_broken(runtime, connection.id, exc.message)
        await _failed(runtime, snapshot, f"Microsoft refused hiresync's access: {exc.message}")
    except BadRequest as exc:
        await _failed(runtime, snapshot, f"The calendar refused the event: {exc.message}")
    except ProviderError as exc:
        await _attempt_failed(runtime, link.id, exc.message)
        raise  # the job engine retries with backoff


# A claim undone when the event must wait for its meeting: no create was sent, so the next
# attempt is still "fresh" and spares itself a look-up.
_UNCLAIM = text(
    "UPDATE interview_calendar_links SET state = 'pending', writing_sequence = NULL "
    "WHERE id = :link_id AND state = 'writing' AND external_event_id IS NULL"
)


async def _with_meeting(runtime: Runtime, snapshot: Snapshot) -> Snapshot | None:
    """The video meeting first; the snapshot re-read so the event carries its link. None
    when the event must wait (the reason is on the interview)."""
    if not await meeting_push.push(runtime, snapshot.interview):
        if snapshot.fresh:
            async with runtime.db.transaction() as session:
                await session.execute(_UNCLAIM, {"link_id": snapshot.link.id})
        return None
    reread = await snapshot_of(runtime, snapshot.interview.id, claim=False)
    return snapshot if reread is None else replace(snapshot, interview=reread.interview)


async def _apply(runtime: Runtime, writer: EventWriter, snapshot: Snapshot) -> None:
    interview, link = snapshot.interview, snapshot.link
    event_id = link.external_event_id
    # Where a new event goes: the organizer's dedicated calendar when they keep one in
    # step (seed 002: "seen in the hiring platform's calendar, not the other calendars"),
    # else their default one. Once written, the event is reached by its id wherever it is.
    calendar_id = None if event_id else await dedicated_calendar(runtime, snapshot)
    if event_id is None and not snapshot.fresh:
        # A create may have reached the calendar before its job died: look before writing.
        # A link never tried cannot have one, which spares the happy path a call.
        found = await writer.find(snapshot.address, str(interview.id), calendar_id)
        if found is not None:
            event_id = found.event_id
            await _relinked(runtime, snapshot, found)
            if link.writing_sequence == interview.sequence and is_live(
                InterviewStatus(interview.status)
            ):
                # The lost create wrote this very version: nothing to send again.
                await _synced(runtime, snapshot, event_id, "re-linked to the calendar", found)
                return
    if interview.status == InterviewStatus.CANCELLED.value:
        if event_id is not None:
            comment = snapshot.cancel_message or "This interview has been cancelled."
            await writer.cancel(snapshot.address, event_id, comment)
        await _synced(runtime, snapshot, event_id, "cancelled in the calendar")
        return
    if not is_live(InterviewStatus(interview.status)):
        return
    teams = await _teams(runtime, writer, snapshot)
    draft = draft_for(snapshot, online_meeting=teams)
    if event_id is None:
        event = await writer.create(snapshot.address, replace(draft, calendar_id=calendar_id))
    else:
        event = await writer.update(snapshot.address, event_id, draft)
    await _synced(runtime, snapshot, event.event_id, "written to the calendar", event)


# The organizer's dedicated Outlook calendar, if they keep one in step with hiresync.
_DEDICATED = text(
    """
SELECT c.remote_id
  FROM synced_calendars c JOIN calendar_accounts a ON a.id = c.account_id
 WHERE a.organization_id = :organization_id AND a.provider = 'microsoft'
   AND a.status = 'active' AND lower(a.address) = lower(:mailbox)
   AND c.role = 'dedicated' AND c.state <> 'disabled'
 LIMIT 1
"""
)


async def dedicated_calendar(runtime: Runtime, snapshot: Snapshot) -> str | None:
    async with runtime.db.autocommit() as conn:
        found: str | None = await conn.scalar(
            _DEDICATED,
            {
                "organization_id": snapshot.interview.organization_id,
                "mailbox": snapshot.link.mailbox,
            },
        )
    return found


async def _teams(runtime: Runtime, writer: EventWriter, snapshot: Snapshot) -> bool:
    """Whether to ask for a Teams meeting; a calendar that cannot is said on the interview."""
    interview = snapshot.interview
    if not made_with_event(interview.meeting_type):
        return False
    if await writer.online_meetings_allowed(snapshot.address):
        return True
    reason = (
        f"Teams meetings are not enabled for {snapshot.link.mailbox}'s calendar, so the "
        "invitation has no Teams link. Ask IT to allow Teams meetings in Outlook, or "
        "reschedule with another meeting type."
    )
    async with runtime.db.transaction() as session:
        row = await session.get(Interview, interview.id)
        if row is not None and row.meeting_problem != reason:
            row.meeting_problem = reason
            session.add(_history(row, "meeting_not_created", "calendar", reason=reason))
    return False


async def _relinked(runtime: Runtime, snapshot: Snapshot, event: WrittenEvent) -> None:
    """Adopt an event an interrupted create left in the calendar, instead of a second one."""
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, snapshot.link.id, with_for_update=True)
        interview = await session.get(Interview, snapshot.interview.id)
        if link is None or interview is None:
            return
        link.external_event_id = event.event_id
        _take_meeting_link(interview, event)
        session.add(_history(interview, "relinked", "calendar", mailbox=link.mailbox))
    log.info(
        "interview.relinked", interview=str(snapshot.interview.id), mailbox=snapshot.link.mailbox
    )


# The record of a finished write, in one statement: the link brought to the version just
# written, and the history line saying so (committed without waiting for the disk).
_SYNCED = text(
    """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
link AS (
  UPDATE interview_calendar_links
     SET external_event_id = :event_id, synced_sequence = GREATEST(synced_sequence, :sequence),
         state = 'synced', last_error = NULL, updated_at = now()
    FROM relaxed WHERE id = :link_id
  RETURNING mailbox
)
INSERT INTO interview_history (id, organization_id, interview_id, action, actor, details)
SELECT :history_id, :organization_id, :interview_id, 'calendar_synced', 'calendar',
       jsonb_build_object('mailbox', link.mailbox, 'result', CAST(:result AS text))
  FROM link
RETURNING id
"""
)


async def _synced(
    runtime: Runtime,
    snapshot: Snapshot,
    event_id: str | None,
    what: str,
    event: WrittenEvent | None = None,
) -> None:
    interview = snapshot.interview
    async with runtime.db.transaction() as session:
        recorded = await session.scalar(
            _SYNCED,
            {
                "event_id": event_id,
                "sequence": interview.sequence,
                "link_id": snapshot.link.id,
                "history_id": uuid.uuid4(),
                "organization_id": interview.organization_id,
                "interview_id": interview.id,
                "result": what,
            },
        )
        if recorded is None:
            return  # the interview was deleted meanwhile
        if event is not None and (
            (event.join_url and made_with_event(interview.meeting_type))
            or any(answer != "none" for _, answer in event.responses)
        ):
            row = await session.get(Interview, interview.id)
            if row is not None:
                link_before = row.meeting_url
                _take_meeting_link(row, event)
                await _record_responses(session, interview.id, event)
                if row.meeting_url != link_before:  # the Teams link reaches the copies too
                    await calendar_events.mirror_interview(runtime, session, row)
        await webhooks.emit(
            runtime,
            session,
            interview.organization_id,
            "interview.calendar_synced",
            {**summary(interview), "mailbox": snapshot.link.mailbox, "result": what},
        )


def _take_meeting_link(interview: Interview, event: WrittenEvent) -> None:
    """The Teams link the calendar made with the event goes on the interview."""
    if event.join_url and made_with_event(interview.meeting_type):
        interview.meeting_url = event.join_url
        interview.meeting_problem = None


async def _record_responses(
    session: AsyncSession, interview_id: uuid.UUID, event: WrittenEvent
) -> None:
    """Attendee answers the calendar already holds (e.g. after a re-link)."""
    answers = dict(event.responses)
    rows = await session.scalars(
        select(InterviewAttendee).where(InterviewAttendee.interview_id == interview_id)
    )
    for attendee in rows:
        answer = answers.get(attendee.email_key)
        if answer and answer != "none" and answer != attendee.response:
            attendee.response = answer


async def _attempt_failed(runtime: Runtime, link_id: uuid.UUID, message: str) -> None:
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, link_id, with_for_update=True)
        if link is not None:
            link.attempts += 1
            link.last_error = message


async def _failed(runtime: Runtime, snapshot: Snapshot, reason: str) -> None:
    """A failure retrying will not cure: shown on the interview, with its reason."""
    async with runtime.db.transaction() as session:
        link = await session.get(CalendarLink, snapshot.link.id, with_for_update=True)
        interview = await session.get(Interview, snapshot.interview.id)
        if link is None or interview is None:
            return
        link.state, link.last_error = "failed", reason
        link.attempts += 1
        session.add(_history(interview, "calendar_failed", "calendar", reason=reason))
        await webhooks.emit(
            runtime,
            session,
            interview.organization_id,
            "interview.calendar_failed",
            {**summary(interview), "mailbox": link.mailbox, "reason": reason},
        )
    log.warning("interview.push_failed", interview=str(snapshot.interview.id), reason=reason)
