"""Keep one synced calendar and hiresync's copy of it in step (issue #6).

A run (the ``sync_calendar`` job, one at a time per calendar: its job lock) goes:

1. read hiresync's copy and each pair's status (``store.calendar_copy.load``), while
2. reading the remote: the changes since the stored cursor, or everything on the first run,
   after an invalid cursor (``SyncTokenExpired``: a full resync, which doubles nothing as
   items are matched by uid), or when asked to;
3. the remote snapshot is the status of every pair, with the changes read laid over it
   (a full read *is* the snapshot); the first run keeps at most ``initial_limit`` events,
   upcoming ones first, then the most recently ended;
4. ``sync.plan`` (remote first: its changes come into the copy, then hiresync's own events
   go out), ``sync.check_plan`` (a run that would suddenly empty a side is refused, and
   said), ``sync.execute``;
5. one transaction stores the copy's rows, the statuses and the new cursor together.

Failures say what is wrong where the person sees it: a revoked or expired grant turns the
account into "reconnect needed" with a notification, never a silent gap; a dedicated
calendar deleted in the account disables its sync and tells the owner; other provider
errors count ``failures`` and the run is queued again with backoff (``_retry_in``), a run
throttled for longer than the client waits in place (``RateLimited``) for when the server
said to come back, not sooner.

Servers that cannot push (CalDAV) are polled: each run sets ``next_poll_at`` five minutes
ahead, a failed one backs off (doubling, at most six hours), and the ``poll_calendars``
task queues the runs that are due (``poll_due``).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.calendar_copies import EventCopy
from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.base import RemoteCalendar, RemoteRead
from hiresync.providers.errors import (
    AuthRevoked,
    NotFound,
    ProviderError,
    RateLimited,
    SyncTokenExpired,
)
from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes, notifications
from hiresync.store import calendar_copy
from hiresync.store.tables import CalendarAccount, SyncedCalendar, User
from hiresync.sync import (
    ConflictPolicy,
    Create,
    Direction,
    Item,
    Plan,
    Side,
    SyncGuardTripped,
    Update,
    check_plan,
    execute,
    plan,
)

log = structlog.get_logger(__name__)
INITIAL_LIMIT = 5_000  # events kept by a first sync (seeds 002/003)
POLL_EVERY = timedelta(minutes=5)  # servers that cannot push are read this often
POLLED_PROVIDERS = ("caldav",)
RETRIES = 5  # quick tries of a failed run before polling or reconciliation takes over
ROLES_PULLED = frozenset({"external"})  # read-only: other meetings, for availability


@dataclass
class SyncReport:
    """What a run did, for the job log, the status page and the benchmark."""

    calendar_id: uuid.UUID
    full: bool = False
    read: int = 0
    removed: int = 0
    applied: int = 0
    deferred: int = 0
    failed: list[str] = field(default_factory=list)
    quarantined: int = 0
    outcome: str = "synced"


def job_lock(calendar_id: uuid.UUID) -> str:
    return f"calendar-sync:{calendar_id}"


async def queue_sync(
    runtime: Runtime,
    session: AsyncSession,
    calendar_id: uuid.UUID,
    *,
    force: bool = False,
    in_seconds: float | None = None,
) -> None:
    """Ask for a run once the caller's transaction commits (``in_seconds`` later, if given);
    one waits per calendar."""
    later = {} if in_seconds is None else {"schedule_in": {"seconds": math.ceil(in_seconds)}}
    await defer_in_transaction(
        runtime.jobs,
        session,
        "sync_calendar",
        args={"calendar_id": str(calendar_id), "force": force},
        lock=job_lock(calendar_id),
        queueing_lock=job_lock(calendar_id),
        **later,
    )


async def sync_calendar(
    runtime: Runtime,
    calendar_id: uuid.UUID,
    *,
    force: bool = False,
    full: bool = False,
    initial_limit: int = INITIAL_LIMIT,
) -> SyncReport | None:
    """One run (see the module docstring); None when there is nothing to run."""
    async with runtime.db.sessions() as session:
        calendar = await session.get(SyncedCalendar, calendar_id)
        account = await session.get(CalendarAccount, calendar.account_id) if calendar else None
        if calendar is None or account is None or calendar.state == "disabled":
            return None
        if account.status != "active":
            return None
    report = SyncReport(calendar.id)
    # The status of every pair is loaded while the server prepares its answer: the read
    # needs it only once the answer is in (an incremental sync waits mostly on the server).
    loading = asyncio.create_task(_load(runtime, calendar.id))
    try:
        remote, close = await calendar_remotes.open_remote(runtime, account, calendar)
        try:
            return await _run(
                runtime, calendar, account, loading, remote, report, force, full, initial_limit
            )
        finally:
            await close()
    finally:
        await _settle(loading)


async def _load(runtime: Runtime, calendar_id: uuid.UUID) -> calendar_copy.LocalState:
    async with runtime.db.sessions() as session:
        return await calendar_copy.load(session, calendar_id)


async def _settle(task: asyncio.Task[Any]) -> None:
    """A load the run did not wait for (it failed first) is stopped, and its outcome
    collected: no session is left open, no exception unretrieved."""
    if not task.done():
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class _KnownEtags(Mapping[str, str]):
    """Remote ident -> etag of every pair, for a remote that compares etags (the CalDAV
    ctag scan), while the status is still loading: such a remote awaits it before use
    (``await known``), the others never look. Reading it before that is a bug, said."""

    def __init__(self, loading: asyncio.Task[calendar_copy.LocalState]) -> None:
        self._loading = loading
        self._etags: dict[str, str] | None = None

    def __await__(self) -> Generator[Any, None, Mapping[str, str]]:
        state = yield from self._loading.__await__()
        self._etags = {i: state.status[uid].remote.etag or "" for i, uid in state.uid_of.items()}
        return self._etags

    def _loaded(self) -> dict[str, str]:
        if self._etags is None:
            raise RuntimeError("the known etags are still loading: await them first")
        return self._etags

    def __getitem__(self, ident: str) -> str:
        return self._loaded()[ident]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


async def _run(
    runtime: Runtime,
    calendar: SyncedCalendar,
    account: CalendarAccount,
    loading: asyncio.Task[calendar_copy.LocalState],
    remote: RemoteCalendar,
    report: SyncReport,
    force: bool,
    full: bool,
    initial_limit: int,
) -> SyncReport:
    try:
        read = await _read(runtime, calendar, loading, remote, None if full else calendar.cursor)
        state = await loading
        snapshot = _remote_snapshot(state, read, initial_limit)
        the_plan = plan(
            state.items, snapshot, state.status, ConflictPolicy.REMOTE_WINS, _direction(calendar)
        )
        check_plan(
            the_plan,
            state.items,
            snapshot,
            state.status,
            force=force,
            names=("hiresync", f"the calendar {calendar.name!r}"),
        )
        writer = calendar_copy.CopyWriter(calendar.organization_id, calendar.id, state)
        writer.quarantined.extend(read.quarantined)
        the_plan = await _with_bodies(runtime, the_plan)
        result = await execute(the_plan, writer, remote, writer, stop_on=(AuthRevoked,))
    except AuthRevoked as exc:
        await _reconnect_needed(runtime, account, exc.message)
        report.outcome = "reconnect_needed"
        return report
    except NotFound as exc:
        await _calendar_gone(runtime, calendar, exc.message)
        report.outcome = "disabled"
        return report
    except SyncGuardTripped as exc:
        await _said(runtime, calendar.id, state="failed", last_error=str(exc))
        report.outcome = "refused"
        return report
    except RateLimited as exc:
        # Not the engine's retry, which comes back after its own backoff: as Graph says.
        await _failed(runtime, calendar.id, exc.message, retry_after=exc.retry_after)
        report.outcome = "throttled"
        return report
    except ProviderError as exc:
        # Tried again here, not by the engine: its retry of a run while another waits for
        # the same calendar clashes with the waiting run's queueing lock, and the job would
        # stay "doing", holding the calendar's lock for as long as its worker lives.
        await _failed(runtime, calendar.id, exc.message, retry_after=_retry_in(calendar.failures))
        report.outcome = "failed"
        return report
    async with runtime.db.transaction() as session:
        left = await writer.flush(session)
        await session.execute(
            update(SyncedCalendar)
            .where(SyncedCalendar.id == calendar.id, SyncedCalendar.state != "disabled")
            .values(
                cursor=read.cursor,
                state="ready",
                last_error=None,
                failures=0,
                last_synced_at=datetime.now(UTC),
                next_poll_at=datetime.now(UTC) + POLL_EVERY,
                initial_done=_done(calendar, read),
            )
        )
    report.full, report.read, report.removed = read.full, len(read.items), len(read.removed)
    report.applied = len(result.applied)
    report.deferred = len(result.deferred) + len(left)
    report.failed = [f"{f.uid}: {f.error}" for f in result.failed]
    report.quarantined = len(read.quarantined)
    log.info("calendar.synced", calendar=str(calendar.id), **_fields(report))
    return report


async def _read(
    runtime: Runtime,
    calendar: SyncedCalendar,
    loading: asyncio.Task[calendar_copy.LocalState],
    remote: RemoteCalendar,
    cursor: str | None,
) -> RemoteRead:
    """Changes since the cursor; everything when there is none or it expired. The status
    is still loading (``sync_calendar``): a remote that needs its etags awaits them."""
    known = _KnownEtags(loading)

    saved = [-1]  # the progress last stored: a first sync shows it moving, a page at a time

    async def progress(done: int, total: int) -> None:
        step = max(100, total // 20)
        if cursor is None and (calendar.initial_total != total or done - saved[0] >= step):
            calendar.initial_total, saved[0] = total, done
            await _said(runtime, calendar.id, initial_total=total, initial_done=done)

    try:
        return await remote.read(cursor, known, progress)
    except SyncTokenExpired as exc:
        log.info("calendar.resync", calendar=str(calendar.id), reason=exc.message)
        return await remote.read(None, known, progress)


def _remote_snapshot(
    state: calendar_copy.LocalState, read: RemoteRead, initial_limit: int
) -> dict[str, Item]:
    """What the remote holds: a full read as it is (the first run's capped), else every
    pair's status with the changes laid over it."""
    if read.full:
        items = list(read.items)
        if not state.status and len(items) > initial_limit:
            items = _first_sync_share(items, initial_limit)
        return {i.uid: i for i in items}
    snapshot = {
        uid: Item(p.remote.ident, uid, p.remote.etag, p.remote.digest)
        for uid, p in state.status.items()
    }
    for ident in read.removed:
        uid = state.uid_of.get(ident)
        if uid is not None:
            snapshot.pop(uid, None)
    for item in read.items:
        snapshot[item.uid] = item
    return snapshot


def _first_sync_share(items: list[Item], limit: int) -> list[Item]:
    """Upcoming events first (soonest first), then the most recently ended (seeds 002/003:
    "future events first, then the most recently ended")."""
    now = datetime.now(UTC)

    def rank(item: Item) -> tuple[int, float]:
        copy: EventCopy = item.payload
        end = copy.ends_at or datetime.max.replace(tzinfo=UTC)
        start = copy.starts_at or now
        if copy.recurring or end >= now:
            return 0, (start - now).total_seconds()
        return 1, (now - end).total_seconds()

    return sorted(items, key=rank)[:limit]


def _direction(calendar: SyncedCalendar) -> Direction:
    return Direction.PULL if calendar.role in ROLES_PULLED else Direction(calendar.direction)


async def _with_bodies(runtime: Runtime, the_plan: Plan) -> Plan:
    """Local items to be written out carry only their digest: load their event copies."""
    wanted = [
        a.source.ident
        for a in the_plan.actions
        if isinstance(a, Create | Update) and a.side is Side.REMOTE
    ]
    if not wanted:
        return the_plan
    async with runtime.db.sessions() as session:
        copies = await calendar_copy.bodies(session, [uuid.UUID(i) for i in wanted])

    def filled(action: Any) -> Any:
        if isinstance(action, Create | Update) and action.side is Side.REMOTE:
            body = copies.get(action.source.ident)
            return replace(action, source=replace(action.source, payload=body))
        return action

    return replace(the_plan, actions=tuple(filled(a) for a in the_plan.actions))


def _done(calendar: SyncedCalendar, read: RemoteRead) -> int:
    return len(read.items) if read.full else calendar.initial_done


def _fields(report: SyncReport) -> dict[str, Any]:
    return {
        "full": report.full,
        "read": report.read,
        "applied": report.applied,
        "deferred": report.deferred,
        "failed": len(report.failed),
        "quarantined": report.quarantined,
    }


# -- what the person is told -----------------------------------------------------------------


async def _said(runtime: Runtime, calendar_id: uuid.UUID, **values: Any) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(
            update(SyncedCalendar).where(SyncedCalendar.id == calendar_id).values(**values)
        )


async def _failed(
    runtime: Runtime, calendar_id: uuid.UUID, message: str, *, retry_after: float | None = None
) -> None:
    """Said on the calendar; with ``retry_after``, the next run is queued that many seconds
    ahead (a throttled run: when the server said to come back; another failure: a short
    backoff), unless one is waiting already."""
    failures = SyncedCalendar.failures + 1
    async with runtime.db.transaction() as session:
        await session.execute(
            update(SyncedCalendar)
            .where(SyncedCalendar.id == calendar_id)
            .values(
                last_error=message, failures=failures, next_poll_at=func.now() + _backoff(failures)
            )
        )
        if retry_after is not None:
            await queue_sync(runtime, session, calendar_id, in_seconds=retry_after)


def _retry_in(failures_before: int) -> float | None:
    """A failed run is tried again after 5, 10, 20, 40 and 80 s (a passing outage); after
    that, the poll (CalDAV, backed off by ``_backoff``) or the reconciliation (Microsoft)
    takes over."""
    return None if failures_before >= RETRIES else 5.0 * 2**failures_before


def _backoff(failures: Any) -> Any:
    """5 minutes doubled per failure in a row, at most 6 hours (an SQL expression)."""
    return func.least(
        func.power(2, func.least(failures, 7)) * POLL_EVERY, literal(timedelta(hours=6))
    )


async def poll_due(runtime: Runtime) -> int:
    """Servers that cannot push (CalDAV): queue a run for every calendar whose next poll is
    due (``next_poll_at``, moved on by each run, backed off after failures); returns how
    many were queued. One waits per calendar, so a slow server never piles runs up."""
    async with runtime.db.transaction() as session:
        due = list(
            await session.scalars(
                select(SyncedCalendar.id)
                .join(CalendarAccount, CalendarAccount.id == SyncedCalendar.account_id)
                .where(
                    CalendarAccount.provider.in_(POLLED_PROVIDERS),
                    CalendarAccount.status == "active",
                    SyncedCalendar.state != "disabled",
                    or_(
                        SyncedCalendar.next_poll_at.is_(None),
                        SyncedCalendar.next_poll_at <= func.now(),
                    ),
                )
                .limit(500)
            )
        )
        for calendar_id in due:
            await queue_sync(runtime, session, calendar_id)
    return len(due)


async def _reconnect_needed(runtime: Runtime, account: CalendarAccount, reason: str) -> None:
    """A revoked or expired grant: said on the account and to its owner, once."""
    async with runtime.db.transaction() as session:
        row = await session.get(CalendarAccount, account.id, with_for_update=True)
        if row is None or row.status != "active":
            return
        row.status, row.last_error = "reconnect_needed", reason
        owner = await session.get(User, row.user_id)
        if owner is not None:
            await notifications.notify(
                runtime,
                session,
                [owner],
                "calendar_reconnect",
                f"Reconnect your calendar {row.address}",
                f"hiresync can no longer reach {row.address}: {reason} Your calendar is not "
                "being synchronized until you reconnect it.",
                link=calendar_remotes.SETTINGS_PATH,
            )


async def _calendar_gone(runtime: Runtime, calendar: SyncedCalendar, reason: str) -> None:
    """The calendar no longer exists in the account: its sync stops, and the owner knows."""
    said = (
        f"The calendar {calendar.name!r} was deleted in your account, so its synchronization "
        "is disabled. Everything stays in hiresync; start synchronization again to create it "
        "anew."
    )
    async with runtime.db.transaction() as session:
        row = await session.get(SyncedCalendar, calendar.id, with_for_update=True)
        if row is None or row.state == "disabled":
            return
        row.state, row.disabled_reason, row.last_error = "disabled", said, reason
        owner = await session.get(User, row.user_id)
        if owner is not None:
            await notifications.notify(
                runtime,
                session,
                [owner],
                "calendar_disabled",
                f"Synchronization of {row.name!r} is disabled",
                said,
                link=calendar_remotes.SETTINGS_PATH,
            )
