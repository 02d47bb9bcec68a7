"""Inbound Graph change notifications: verified, stored and turned into syncs, quickly.

Graph wants a 2xx within 3 seconds (202 once the notification is persisted) or it retries,
and an endpoint whose answers are slow gets its notifications delayed, then dropped
(PROVIDERS.md). So a POST does one short transaction and no network call:

1. the body is parsed and every item verified (``providers.microsoft.notifications``): its
   subscription must be one of ours and its ``clientState`` must hash to the one stored for
   it (only hashes are kept: each given clientState is hashed, then compared in constant
   time);
2. one INSERT stores every verified item as a ``CalendarNotification``;
3. each calendar it names gets ``calendar_sync.queue_sync``, unless a sync of it is already
   waiting (one query for all: what the queueing lock would refuse one by one), so a burst
   of notifications costs one sync; lifecycle events that need a Graph call (reauthorize,
   re-create) get their job instead, ``missed`` a sync.

A body that is not a notification collection is a 400; a POST of which nothing verifies
(unknown subscription, wrong clientState) a 403 that says which; nothing of it is stored.
Verified items of a POST that also carries refused ones are kept (a subscription deleted a
moment ago may still share a POST with a live one), the refused ones logged.

Concurrent POSTs are committed together (``Intake``): each waits for the transaction that
holds its items, so an answer still means "stored", while a burst of thousands a second
costs one transaction per batch rather than one per POST (``bench/notifications.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.jobs.engine import raw_connection
from hiresync.providers.microsoft import notifications
from hiresync.providers.microsoft.notifications import (
    LifecycleEvent,
    MalformedNotification,
    NotificationBatch,
    RejectReason,
)
from hiresync.runtime import Runtime
from hiresync.services import calendar_subscriptions, calendar_sync
from hiresync.services.errors import ServiceError

log = structlog.get_logger(__name__)
MAX_BODY = notifications.MAX_BODY_BYTES
MAX_BATCH = 500  # POSTs committed together at most


class Malformed(ServiceError):
    status = 400
    code = "malformed_notification"


class TooLarge(Malformed):
    status = 413


class Refused(ServiceError):
    status = 403
    code = "notification_refused"


class Unavailable(ServiceError):
    """The database could not store the POST: Graph retries on a 5xx, so nothing is lost."""

    status = 503
    code = "notifications_unavailable"


@dataclass(frozen=True, slots=True)
class Calendar:
    id: uuid.UUID
    organization_id: uuid.UUID
    state_hash: str


@dataclass(frozen=True)
class Receipt:
    accepted: int
    rejected: int

    @property
    def body(self) -> dict[str, int]:
        return {"accepted": self.accepted, "rejected": self.rejected}


def _hashed(body: bytes) -> tuple[bytes, set[str]]:
    """The body with each clientState replaced by its sha256 (what we can compare with), and
    the subscription ids it names. Shape errors are left to ``parse_notifications``."""
    if len(body) > MAX_BODY:
        raise TooLarge(f"A notification body is at most {MAX_BODY} bytes.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Malformed('The body is not JSON: expected Graph\'s {"value": [...]}.') from exc
    items = data.get("value") if isinstance(data, dict) else None
    ids: set[str] = set()
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        state = item.get("clientState")
        if isinstance(state, str):
            item["clientState"] = calendar_subscriptions.state_hash(state)
        if isinstance(item.get("subscriptionId"), str):
            ids.add(item["subscriptionId"])
    return orjson.dumps(data), ids


def verify(body: bytes, calendars: dict[str, Calendar]) -> NotificationBatch:
    """Parse and verify ``body`` against our subscriptions (by id); raises ``Malformed``."""
    return _verify_hashed(_hashed(body)[0], calendars)


def _verify_hashed(hashed: bytes, calendars: dict[str, Calendar]) -> NotificationBatch:
    try:
        return notifications.parse_notifications(
            hashed, lambda sub_id: c.state_hash if (c := calendars.get(sub_id)) else None
        )
    except MalformedNotification as exc:
        raise Malformed(f"Not a Graph notification collection: {exc}") from exc


def refusal(batch: NotificationBatch) -> Refused:
    reasons = {r.reason for r in batch.rejected}
    if RejectReason.CLIENT_STATE_MISMATCH in reasons:
        message = "The clientState does not match the one hiresync gave this subscription."
    elif RejectReason.UNKNOWN_SUBSCRIPTION in reasons:
        message = "hiresync holds no subscription with this id."
    else:
        message = "The notification names a lifecycle event hiresync does not know."
    return Refused(message, hint="Nothing was stored.")


@dataclass
class _Post:
    """One POST waiting for the transaction that stores it."""

    hashed: bytes  # the body, clientStates hashed (see ``_hashed``)
    ids: set[str]
    done: asyncio.Future[Receipt] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# The intake's statements go straight to the driver connection under the session (inside its
# transaction): at thousands of POSTs a second, the ORM's per-statement cost is the budget.
_CALENDARS = (
    "SELECT subscription_id, id, organization_id, client_state_hash FROM synced_calendars"
    " WHERE subscription_id = ANY(%s) AND client_state_hash IS NOT NULL"
)
_WAITING = (
    "SELECT queueing_lock FROM procrastinate_jobs WHERE queueing_lock = ANY(%s) AND status = 'todo'"
)
# Every row of a batch in one statement, its columns sent as five arrays: one round trip and
# one plan, however many rows.
_INSERT = (
    "INSERT INTO calendar_notifications (id, organization_id, calendar_id, kind, resource)"
    " SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::varchar[], %s::varchar[])"
)
Rows = tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID], list[str], list[str | None]]


async def _calendars(conn: Any, ids: Iterable[str]) -> dict[str, Calendar]:
    cursor = await conn.execute(_CALENDARS, (sorted(ids),))
    return {sub: Calendar(cal, org, digest) for sub, cal, org, digest in await cursor.fetchall()}


async def _waiting(conn: Any, calendars: set[uuid.UUID]) -> set[uuid.UUID]:
    """Calendars whose sync job is queued and not started: what ``queue_sync``'s queueing lock
    would refuse anyway, asked in one query rather than one refused insert per calendar. Such
    a job starts after this query, so its read sees every change notified so far."""
    if not calendars:
        return set()
    locks = {calendar_sync.job_lock(c): c for c in calendars}
    cursor = await conn.execute(_WAITING, (list(locks),))
    return {locks[lock] for (lock,) in await cursor.fetchall()}


def _add_rows(rows: Rows, batch: NotificationBatch, calendars: dict[str, Calendar]) -> None:
    found = [
        (calendars[c.subscription_id], c.change_type, c.resource[:2000]) for c in batch.changes
    ]
    found += [(calendars[n.subscription_id], n.event.value, None) for n in batch.lifecycle]
    ids, orgs, cals, kinds, resources = rows
    for calendar, kind, resource in found:
        ids.append(uuid.uuid4())
        orgs.append(calendar.organization_id)
        cals.append(calendar.id)
        kinds.append(kind)
        resources.append(resource)


@dataclass
class _Collected:
    """What a batch of POSTs comes to: each POST's answer, the rows to store, the work."""

    outcomes: list[Receipt | ServiceError] = field(default_factory=list)
    rows: Rows = field(default_factory=lambda: ([], [], [], [], []))
    syncs: set[uuid.UUID] = field(default_factory=set)
    jobs: set[tuple[uuid.UUID, str]] = field(default_factory=set)  # lifecycle job per event

    def add(self, hashed: bytes, calendars: dict[str, Calendar]) -> None:
        try:
            batch = _verify_hashed(hashed, calendars)
        except ServiceError as exc:
            self.outcomes.append(exc)
            return
        if batch.rejected:
            reasons = [r.reason.value for r in batch.rejected]
            log.warning("calendar.notification_refused", reasons=reasons)
        accepted = len(batch.changes) + len(batch.lifecycle)
        if not accepted:
            self.outcomes.append(refusal(batch) if batch.rejected else Receipt(0, 0))
            return
        _add_rows(self.rows, batch, calendars)
        self.syncs |= {calendars[c.subscription_id].id for c in batch.changes}
        for notice in batch.lifecycle:
            calendar_id = calendars[notice.subscription_id].id
            if notice.event is LifecycleEvent.MISSED:
                self.syncs.add(calendar_id)
            else:
                self.jobs.add((calendar_id, notice.event.value))
        self.outcomes.append(Receipt(accepted, len(batch.rejected)))

    async def store(self, runtime: Runtime, session: AsyncSession, conn: Any) -> None:
        """One INSERT for every row, then a sync (or lifecycle job) per calendar that has
        none waiting."""
        if self.rows[0]:
            await conn.execute(_INSERT, self.rows)
        for calendar_id in sorted(self.syncs - await _waiting(conn, self.syncs)):
            await calendar_sync.queue_sync(runtime, session, calendar_id)
        for calendar_id, event in sorted(self.jobs):
            await calendar_subscriptions.queue_lifecycle(runtime, session, calendar_id, event)


class Intake:
    """Stores notification POSTs, committing concurrent ones together (module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiting: list[_Post] = []
        self._flusher: asyncio.Task[None] | None = None

    async def receive(self, body: bytes) -> Receipt:
        """Store a POST's verified notifications; raises ``Malformed`` or ``Refused``."""
        post = _Post(*_hashed(body))  # a body that is not even JSON never waits for a batch
        self._waiting.append(post)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        try:
            return await asyncio.shield(post.done)
        except ServiceError:
            raise
        except Exception as exc:
            raise Unavailable(
                "hiresync could not store the notifications just now.", hint="Send them again."
            ) from exc

    async def _flush_all(self) -> None:
        while self._waiting:
            posts, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._flush(posts)
            except Exception as exc:  # the database failed: every POST of the batch is told
                log.exception("calendar.notifications_not_stored", posts=len(posts))
                for post in posts:
                    if not post.done.done():
                        post.done.set_exception(exc)

    async def _flush(self, posts: list[_Post]) -> None:
        async with self._runtime.db.transaction() as session:
            conn = await raw_connection(session)
            calendars = await _calendars(conn, {i for p in posts for i in p.ids})
            collected = _Collected()
            for post in posts:
                collected.add(post.hashed, calendars)
            await collected.store(self._runtime, session, conn)
        for post, outcome in zip(posts, collected.outcomes, strict=True):
            if isinstance(outcome, Receipt):
                post.done.set_result(outcome)
            else:
                post.done.set_exception(outcome)
