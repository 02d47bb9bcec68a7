"""Each Zoom interview's own meeting, on its host's Zoom account (seed 001, issue #5).

The host is the team member whose connection makes the meeting: the organizer, or the host
named with the meeting (required when a shared mailbox organizes). Their row in
``interview_meetings`` is made with the interview (a draft needs no connection); confirming
needs the host's live connection (``require_connected``), and the plan limits a scheduler
must know about (a Basic host's 40 minutes, a Pro host's one meeting at a time) are
``warnings_for`` the interview, which never block.

The push (``push``) runs inside ``calendar_push.push`` before the calendar event is drafted,
so the invitation carries the join URL, meeting ID and passcode. It answers whether the
calendar may be written now:

=====================  ======================  ==============================================
interview              meeting row             action
=====================  ======================  ==============================================
cancelled, or no       a meeting               delete it (already gone is fine) -> calendar
longer Zoom
cancelled, or no       writing, no id (a       ``find(key)`` and delete what it finds, so
longer Zoom            crash after the create) no meeting outlives its interview
live                   none, host not usable   reason on the interview; calendar waits
live                   writing, no id          ``find(key)`` first (a crash after Zoom's
                                               answer), never a second create
live                   no id / deleted in Zoom  mark writing (committed), create, store
live                   behind (sequence)       update the same meeting (same link)
live                   behind, host gone       keep the link; say the time in Zoom is stale
live                   up to date              nothing -> calendar
=====================  ======================  ==============================================

Zoom's daily create/update quota (``DailyLimitReached``) queues the push again for when it
resets and says so on the interview; the reset is kept on the host's account
(``quota_resets_at``), so neither this interview nor the host's others ask Zoom again before
then (they wait for the same reset). That waiting job has a lower priority than the interview's other push jobs:
procrastinate runs jobs of one ``lock`` in id order *whatever their schedule*, so a retry at
midnight with the default priority would hold back every later change (cancel, reschedule)
of the interview until midnight. A meeting Zoom refuses (``BadRequest``, e.g. 400 code 300
"Validation Failed.") is said with Zoom's reason and not retried: only an edit can cure it. A
token Zoom refuses even after a refresh marks the connection ``reconnect_needed`` (its owner
is notified) and the interview says why; reconnecting (``meeting_accounts.finish_connect``)
queues the push of every live interview of that host whose meeting is behind, so nobody has
to reschedule to get the invitation out. Other provider failures are raised for the job
engine's backoff. In every refusal the row keeps its state (a ``writing`` row is looked up
with ``find`` before any new create), so a refusal can never lead to a second meeting.

A meeting deleted in Zoom is **not** made again by itself: the attendees hold its link, and
a new meeting means a new link they must be sent, so it waits for the recruiter (said on the
interview). The next change that reaches the calendar (reschedule, edit) creates a new
meeting on the host's account, and the updated invitation carries its new link, meeting ID
and passcode. An interview edited from Zoom to another meeting type has its Zoom meeting
deleted (the calendar push reaches here through ``has_video_meeting``), and the event
carries the new details.

Changes made in Zoom arrive as ``meeting_events`` (services.zoom_webhooks) and are applied by
the ``apply_meeting_events`` job (``apply_events``), queued with each event: a meeting
deleted or moved in Zoom is said on the interview, with what to do. Our own updates come
back as events too; those that agree with the interview are ignored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import (
    LIVE_STATUSES,
    InterviewStatus,
    MeetingType,
    is_live,
    made_on_host_account,
)
from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.base import MeetingDetails, MeetingProvider, MeetingRequest
from hiresync.providers.errors import AuthRevoked, BadRequest, NotFound, ProviderError
from hiresync.providers.zoom import DailyLimitReached
from hiresync.runtime import Runtime
from hiresync.services import calendar_events, meeting_accounts
from hiresync.services.errors import InvalidInput
from hiresync.store.tables import (
    Interview,
    InterviewHistory,
    InterviewMeeting,
    MeetingAccount,
    MeetingEvent,
    User,
)

log = structlog.get_logger(__name__)
ZOOM = MeetingType.ZOOM.value
RETRY_PRIORITY = -1  # below procrastinate's default (0): see ``_daily_limit``
SETTINGS = "Settings › Connected applications"
BY_HAND = (
    "Or enter the meeting details by hand: choose a custom link with the URL, meeting ID and "
    'passcode ("meeting": {"type": "custom_link", "url": …, "meeting_id": …, "passcode": …}).'
)


class ZoomNotConnected(InvalidInput):
    """The host has no usable Zoom connection, so no meeting can be made for them (422)."""

    code = "zoom_not_connected"


def _history(interview: Any, action: str, **details: Any) -> InterviewHistory:
    return InterviewHistory(
        organization_id=interview.organization_id,
        interview_id=interview.id,
        action=action,
        actor="zoom",
        details={k: v for k, v in details.items() if v is not None},
    )


# -- when an interview is scheduled ------------------------------------------------------------


async def meeting_of(session: AsyncSession, interview_id: uuid.UUID) -> InterviewMeeting | None:
    return await session.scalar(
        select(InterviewMeeting).where(InterviewMeeting.interview_id == interview_id)
    )


async def attach(session: AsyncSession, interview: Interview, host: User) -> InterviewMeeting:
    """The interview's meeting row, with its host; a host change before any meeting exists
    simply changes whose account makes it."""
    row = await meeting_of(session, interview.id)
    if row is None:
        row = InterviewMeeting(
            organization_id=interview.organization_id,
            interview_id=interview.id,
            provider=ZOOM,
            state="pending",
            synced_sequence=-1,
            attempts=0,
        )
        session.add(row)
    if row.external_meeting_id is None or row.state == "deleted":
        row.host_user_id = host.id
    await session.flush()
    return row


async def _host_account(
    session: AsyncSession, row: InterviewMeeting | None
) -> tuple[User | None, MeetingAccount | None]:
    host = await session.get(User, row.host_user_id) if row and row.host_user_id else None
    return host, await meeting_accounts.live_account(session, host) if host else None


def _connection_said(host: User | None, account: MeetingAccount | None) -> str:
    who = host.name if host else "The meeting's host"
    if account is not None and account.status == "reconnect_needed":
        return f"{who}'s Zoom connection needs to be renewed"
    return f"{who} has not connected Zoom"


def not_connected_message(host: User | None, account: MeetingAccount | None) -> str:
    said = _connection_said(host, account)
    return f"{said}, so no Zoom meeting can be made for this interview."


async def require_connected(session: AsyncSession, interview: Interview) -> None:
    """A Zoom interview is sent only when its host can make the meeting."""
    if interview.meeting_type != ZOOM:
        return
    row = await meeting_of(session, interview.id)
    if row is not None and row.external_meeting_id and row.state != "deleted":
        return  # the meeting exists already; its link is kept whatever the connection does
    host, account = await _host_account(session, row)
    if account is None or account.status != "active":
        raise ZoomNotConnected(
            not_connected_message(host, account),
            hint=f"Connect Zoom under {SETTINGS} to generate meeting links. {BY_HAND}",
            field="meeting.type",
        )


async def warnings_for(session: AsyncSession, interview: Interview) -> list[str]:
    """What the host's Zoom plan will do to this interview; shown, never blocking."""
    if interview.meeting_type != ZOOM or interview.status == InterviewStatus.CANCELLED.value:
        return []
    row = await meeting_of(session, interview.id)
    host, account = await _host_account(session, row)
    if account is None or account.status != "active":
        if row is not None and row.external_meeting_id:
            return []  # the link stays; the push says what it could not update
        return [f"{not_connected_message(host, account)} Connect Zoom under {SETTINGS}. {BY_HAND}"]
    assert host is not None
    return await plan_warnings(
        session,
        interview.organization_id,
        host,
        account,
        interview.start,
        interview.end,
        leave_out=interview.id,
    )


async def plan_warnings(
    session: AsyncSession,
    org_id: uuid.UUID,
    host: User,
    account: MeetingAccount,
    start: datetime,
    end: datetime,
    *,
    leave_out: uuid.UUID | None = None,
) -> list[str]:
    """What ``host``'s Zoom plan would do to an interview at this time: a Basic account's
    40 minutes, and a plan's meetings at a time (naming the interviews it overlaps).
    Also asked by the interview form before anything is saved."""
    said: list[str] = []
    minutes = int((end - start).total_seconds() // 60)
    if account.licensed is False or account.max_minutes:
        cap = account.max_minutes or 40
        if minutes > cap:
            said.append(
                f"{host.name}'s Zoom account is Basic (free): the meeting will end at {cap} "
                f"minutes, and this interview lasts {minutes}. Shorten it, pick a host with a "
                "licensed Zoom account, or upgrade the account."
            )
    if account.concurrent_meetings:
        others = await _overlapping(session, org_id, host.id, start, end, leave_out)
        if len(others) >= account.concurrent_meetings:
            names = "; ".join(
                f'"{o.title}" ({o.start.astimezone(UTC):%a %d %b %H:%M}–'
                f"{o.end.astimezone(UTC):%H:%M} UTC)"
                for o in others
            )
            said.append(
                f"{host.name}'s Zoom plan allows {account.concurrent_meetings} meeting(s) at a "
                f"time, and this interview overlaps {names}. Only one can run at once: move "
                "one, or pick another host."
            )
    return said


async def _overlapping(
    session: AsyncSession,
    org_id: uuid.UUID,
    host_id: uuid.UUID,
    start: datetime,
    end: datetime,
    leave_out: uuid.UUID | None,
) -> list[Interview]:
    """The host's other live Zoom interviews that overlap ``start``–``end``."""
    query = (
        select(Interview)
        .join(InterviewMeeting, InterviewMeeting.interview_id == Interview.id)
        .where(
            Interview.organization_id == org_id,
            InterviewMeeting.host_user_id == host_id,
            Interview.meeting_type == ZOOM,
            Interview.status.in_([s.value for s in LIVE_STATUSES]),
            Interview.start < end,
            Interview.end > start,
        )
        .order_by(Interview.start)
    )
    if leave_out is not None:
        query = query.where(Interview.id != leave_out)
    return list(await session.scalars(query))


# -- the push ----------------------------------------------------------------------------------


def request_for(interview: Any) -> MeetingRequest:
    return MeetingRequest(
        key=str(interview.id),
        topic=interview.title,
        start=interview.start,
        end=interview.end,
        time_zone=interview.time_zone,
        agenda=interview.message_to_candidate or "",
    )


async def push(runtime: Runtime, interview: Any) -> bool:
    """Bring the interview's meeting up to date (see the module docstring); True when the
    calendar may be written now."""
    async with runtime.db.sessions() as session:
        row = await meeting_of(session, interview.id)
        _, account = await _host_account(session, row)
        account = await _meeting_account(session, row, account)
    if row is None:
        return not made_on_host_account(interview.meeting_type) or not is_live(
            InterviewStatus(interview.status)
        )
    exists = row.external_meeting_id is not None and row.state != "deleted"
    live = is_live(InterviewStatus(interview.status)) and made_on_host_account(
        interview.meeting_type
    )
    if not live:
        if exists:
            await _delete(runtime, interview, row, account, row.external_meeting_id)
        elif row.state == "writing":
            await _delete_unrecorded(runtime, interview, row, account)
        return True
    if row.synced_sequence >= interview.sequence and (exists or row.state == "deleted"):
        return True
    if account is None or account.status != "active":
        return await _host_unusable(runtime, interview, row, exists)
    if account.quota_resets_at is not None and account.quota_resets_at > datetime.now(UTC):
        # Another of the host's pushes met the daily limit: Zoom would only refuse this one.
        await _daily_limit(runtime, interview, row, account.quota_resets_at)
        return exists
    meetings = runtime.meeting_provider(row.provider).meetings(
        meeting_accounts.token_getter(runtime, account.id)
    )
    try:
        if exists:
            try:
                await _update(runtime, meetings, interview, row)
                return True
            except NotFound:
                log.info("zoom.meeting_gone_on_update", interview=str(interview.id))
        await _create(runtime, meetings, interview, row, account.id)
        return True
    except AuthRevoked as exc:
        await meeting_accounts.mark_reconnect_needed(runtime, account.id, exc.message)
        return await _host_unusable(runtime, interview, row, exists)
    except DailyLimitReached as exc:
        await _quota_spent(runtime, account.id, exc.resets_at)
        await _daily_limit(runtime, interview, row, exc.resets_at)
        return exists
    except BadRequest as exc:
        await _problem(runtime, interview, row, _refused(exc, exists))
        return exists
    except ProviderError as exc:
        await _attempt_failed(runtime, row.id, exc.message)
        raise  # the job engine retries with backoff


def _refused(exc: BadRequest, exists: bool) -> str:
    """Zoom's reason as the client words it ("Zoom refused the meeting details: topic: …"),
    and what happens now; a refusal is final until the interview changes."""
    said = exc.message if exc.message.startswith("Zoom") else f"Zoom refused it: {exc.message}"
    then = (
        "The invitation keeps the meeting's current link, but the meeting in Zoom was not updated."
        if exists
        else "The invitation waits for the meeting."
    )
    return (
        f"Zoom refused the meeting. {said} {then} Edit the interview to correct it (hiresync "
        "tries again with the change), or edit it to enter the meeting details by hand."
    )


async def _meeting_account(
    session: AsyncSession, row: InterviewMeeting | None, host_account: MeetingAccount | None
) -> MeetingAccount | None:
    """The account that made the meeting while it is live, else the host's current one."""
    if row is not None and row.account_id is not None:
        made_by = await session.get(MeetingAccount, row.account_id)
        if made_by is not None and made_by.status == "active":
            return made_by
    return host_account


async def _create(
    runtime: Runtime,
    meetings: MeetingProvider,
    interview: Any,
    row: InterviewMeeting,
    account_id: uuid.UUID,
) -> None:
    request = request_for(interview)
    found: MeetingDetails | None = None
    if row.state == "writing" and row.external_meeting_id is None:
        found = await meetings.find(request.key)  # a create may have reached Zoom
    if found is None:
        async with runtime.db.transaction() as session:
            claimed = await session.get(InterviewMeeting, row.id, with_for_update=True)
            if claimed is None:
                return
            claimed.state, claimed.writing_sequence = "writing", interview.sequence
            claimed.account_id, claimed.external_meeting_id = account_id, None
        details = await meetings.create(request)
        what = "zoom_meeting_created"
    else:
        details, what = found, "zoom_meeting_relinked"
    if found is not None and row.writing_sequence != interview.sequence:
        details = await meetings.update(found.meeting_id, request)
    await _stored(runtime, interview, row.id, details, what, account_id)


async def _update(
    runtime: Runtime, meetings: MeetingProvider, interview: Any, row: InterviewMeeting
) -> None:
    assert row.external_meeting_id is not None
    details = await meetings.update(row.external_meeting_id, request_for(interview))
    await _stored(runtime, interview, row.id, details, "zoom_meeting_updated", row.account_id)


async def _stored(
    runtime: Runtime,
    interview: Any,
    row_id: uuid.UUID,
    details: MeetingDetails,
    what: str,
    account_id: uuid.UUID | None,
) -> None:
    """The meeting's id on our row and its joining details on the interview, so every
    invitation (candidate and interviewers alike) carries them."""
    async with runtime.db.transaction() as session:
        row = await session.get(InterviewMeeting, row_id, with_for_update=True)
        current = await session.get(Interview, interview.id)
        if row is None or current is None:
            return
        row.external_meeting_id, row.state = details.meeting_id, "synced"
        row.synced_sequence = max(row.synced_sequence, interview.sequence)
        row.account_id, row.last_error = account_id or row.account_id, None
        current.meeting_url = details.join_url
        current.meeting_id = details.meeting_id
        current.meeting_passcode = details.passcode
        current.meeting_problem = None
        session.add(_history(current, what, meeting_id=details.meeting_id))
        await calendar_events.mirror_interview(runtime, session, current)  # the new link
    log.info(what, interview=str(interview.id), meeting=details.meeting_id)


async def _delete_unrecorded(
    runtime: Runtime, interview: Any, row: InterviewMeeting, account: MeetingAccount | None
) -> None:
    """A create was sent but its meeting never recorded (a crash, a lost answer) and the
    interview no longer wants it: the meeting may exist in Zoom all the same, so it is
    looked up by our key and deleted, never left with a working link."""
    if account is None or account.status != "active":
        await _delete(runtime, interview, row, account, None)
        return
    meetings = runtime.meeting_provider(row.provider).meetings(
        meeting_accounts.token_getter(runtime, account.id)
    )
    try:
        found = await meetings.find(str(interview.id))
    except AuthRevoked as exc:
        await meeting_accounts.mark_reconnect_needed(runtime, account.id, exc.message)
        await _delete(runtime, interview, row, None, None)
        return
    await _delete(runtime, interview, row, account, found.meeting_id if found else None)


async def _delete(
    runtime: Runtime,
    interview: Any,
    row: InterviewMeeting,
    account: MeetingAccount | None,
    meeting_id: str | None,
) -> None:
    """The interview no longer uses this meeting: delete it in Zoom (gone already is fine).
    Without a usable connection it cannot be: said, and the link is left to lapse.
    ``meeting_id``: the recorded meeting, or one found by key; None when none was found
    (nothing to delete, the row is closed all the same)."""
    note: str | None = None
    if account is None or account.status != "active":
        note = "The Zoom meeting could not be deleted: its host's Zoom is not connected."
    elif meeting_id is not None:
        meetings = runtime.meeting_provider(row.provider).meetings(
            meeting_accounts.token_getter(runtime, account.id)
        )
        try:
            await meetings.delete(meeting_id)
        except AuthRevoked as exc:
            await meeting_accounts.mark_reconnect_needed(runtime, account.id, exc.message)
            note = f"The Zoom meeting could not be deleted: {exc.message}"
    async with runtime.db.transaction() as session:
        current = await session.get(InterviewMeeting, row.id, with_for_update=True)
        shown = await session.get(Interview, interview.id)
        if current is None or shown is None:
            return
        current.state, current.last_error = "deleted", note
        current.synced_sequence = max(current.synced_sequence, interview.sequence)
        if meeting_id is not None or note is not None:
            session.add(_history(shown, "zoom_meeting_deleted", meeting_id=meeting_id, note=note))


async def _host_unusable(
    runtime: Runtime, interview: Any, row: InterviewMeeting, exists: bool
) -> bool:
    """No usable connection: an existing meeting keeps its link (seed 001) and the calendar
    goes ahead; a meeting never made holds the invitation back (no link-less invitation)."""
    async with runtime.db.sessions() as session:
        host, account = await _host_account(session, row)
    if exists:
        reason = (
            f"{_connection_said(host, account)}, so the Zoom meeting keeps its link but its "
            f"time in Zoom was not updated. Reconnect Zoom under {SETTINGS} (the meeting is "
            "then updated), or change the time in Zoom."
        )
    else:
        reason = (
            f"{not_connected_message(host, account)} The invitation waits until it is: "
            f"when the host connects Zoom under {SETTINGS} the meeting is made and the "
            "invitation sent; or edit the interview to enter the meeting details by hand "
            "(custom link with URL, meeting ID and passcode)."
        )
    await _problem(runtime, interview, row, reason)
    return exists


async def _quota_spent(runtime: Runtime, account_id: uuid.UUID, resets_at: datetime) -> None:
    """Remembered on the host's account, so their other interviews wait without asking."""
    async with runtime.db.transaction() as session:
        account = await session.get(MeetingAccount, account_id, with_for_update=True)
        if account is not None:
            account.quota_resets_at = max(resets_at, account.quota_resets_at or resets_at)


async def _daily_limit(
    runtime: Runtime, interview: Any, row: InterviewMeeting, resets_at: datetime
) -> None:
    """Zoom's 100 creates/updates a day are spent: try again when the quota resets.

    The retry keeps the interview's job lock (never two pushes at once) but a lower
    priority, so waiting for midnight it does not hold back the interview's later pushes;
    one retry waits per interview (``queueing_lock``)."""
    when = f"{resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    then = (
        "the invitation keeps the meeting's link, and its time in Zoom is updated then"
        if row.external_meeting_id and row.state != "deleted"
        else "the invitation waits for the meeting until then"
    )
    reason = (
        "The host's Zoom account reached Zoom's daily limit of meeting creates and updates. "
        f"It resets at {when}, when hiresync tries again; {then}."
    )
    async with runtime.db.transaction() as session:
        await defer_in_transaction(
            runtime.jobs,
            session,
            "push_interview",
            args={"interview_id": str(interview.id)},
            lock=f"interview:{interview.id}",
            queueing_lock=f"zoom-quota:{interview.id}",
            priority=RETRY_PRIORITY,
            schedule_at=resets_at,
        )
    await _problem(runtime, interview, row, reason)


async def _problem(runtime: Runtime, interview: Any, row: InterviewMeeting, reason: str) -> None:
    """Said once on the interview (meeting_problem and history), however often it recurs."""
    async with runtime.db.transaction() as session:
        current = await session.get(Interview, interview.id)
        meeting = await session.get(InterviewMeeting, row.id, with_for_update=True)
        if current is None or meeting is None:
            return
        meeting.attempts += 1
        meeting.last_error = reason
        if meeting.external_meeting_id is None and meeting.state != "writing":
            meeting.state = "failed"
        if current.meeting_problem != reason:
            current.meeting_problem = reason
            session.add(_history(current, "meeting_not_created", reason=reason))
    log.warning("zoom.meeting_problem", interview=str(interview.id), reason=reason)


async def _attempt_failed(runtime: Runtime, row_id: uuid.UUID, message: str) -> None:
    async with runtime.db.transaction() as session:
        row = await session.get(InterviewMeeting, row_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            row.last_error = message


# -- changes made in Zoom ----------------------------------------------------------------------


async def queue_events(runtime: Runtime, session: AsyncSession) -> None:
    """Queue the consumer with the event (one waiting job serves a burst)."""
    await defer_in_transaction(
        runtime.jobs, session, "apply_meeting_events", queueing_lock="meeting_events"
    )


async def apply_events(runtime: Runtime, batch: int = 100) -> int:
    """Apply the meeting events not yet processed to their interviews; returns how many."""
    done = 0
    while True:
        async with runtime.db.transaction() as session:
            events = list(
                await session.scalars(
                    select(MeetingEvent)
                    .where(MeetingEvent.processed_at.is_(None), MeetingEvent.provider == ZOOM)
                    .order_by(MeetingEvent.received_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for event in events:
                await _apply_event(session, event)
                event.processed_at = datetime.now(UTC)
        done += len(events)
        if len(events) < batch:
            return done


async def _apply_event(session: AsyncSession, event: MeetingEvent) -> None:
    query = select(InterviewMeeting).where(
        InterviewMeeting.provider == ZOOM,
        InterviewMeeting.external_meeting_id == event.meeting_id,
    )
    if event.organization_id is not None:
        query = query.where(InterviewMeeting.organization_id == event.organization_id)
    for row in list(await session.scalars(query.with_for_update())):
        interview = await session.get(Interview, row.interview_id)
        if (
            interview is None
            or row.state == "deleted"
            or not is_live(InterviewStatus(interview.status))
        ):
            continue  # our own deletion coming back, or an interview no longer sent
        if event.event == "meeting.deleted":
            _deleted_in_zoom(session, row, interview, event)
        else:
            _moved_in_zoom(session, interview, event)


def _deleted_in_zoom(
    session: AsyncSession, row: InterviewMeeting, interview: Interview, event: MeetingEvent
) -> None:
    who = event.payload.get("operator") or "its host"
    reason = (
        f"The Zoom meeting was deleted in Zoom (by {who}), so the link in the invitation no "
        "longer works. Reschedule or edit the interview to create a new Zoom meeting and "
        "send the attendees its link, or edit it to enter other meeting details."
    )
    row.state, row.last_error = "deleted", reason
    interview.meeting_problem = reason
    session.add(
        _history(interview, "zoom_meeting_deleted_in_zoom", meeting_id=row.external_meeting_id)
    )


def _moved_in_zoom(session: AsyncSession, interview: Interview, event: MeetingEvent) -> None:
    """A time changed in Zoom that the interview does not have: the attendees were invited
    for the interview's time, so the recruiter must pick one."""
    changed = event.payload.get("object") or {}
    start = _zoom_time(changed.get("start_time"))
    duration = changed.get("duration")
    minutes = int((interview.end - interview.start).total_seconds() // 60)
    moved = start is not None and start != interview.start
    resized = isinstance(duration, int) and duration != minutes
    if not (moved or resized):
        return  # our own update coming back, or a change that is not the time
    when = f" to {start:%Y-%m-%d %H:%M} UTC" if start is not None else ""
    reason = (
        f"The Zoom meeting's time was changed in Zoom{when}, and no longer matches the "
        "interview the attendees were invited to. Change it back in Zoom, or reschedule the "
        "interview (which also updates the Zoom meeting)."
    )
    interview.meeting_problem = reason
    session.add(
        _history(interview, "zoom_meeting_changed_in_zoom", start=changed.get("start_time"))
    )


def _zoom_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
