"""Graph change notifications for synced Microsoft 365 calendars (issue #6, "Push").

A notification only says "this mailbox's events changed": it triggers a sync, whose delta
round reads what changed. So nothing here can lose a change, only delay one, and every
failure ends in a sync:

* **subscribe**: one subscription per synced calendar (``users/{id}/events`` for the
  default calendar kept two-way, as ever; ``users/{id}/calendars/{cid}/events`` for the
  dedicated calendar and for the default one read beside it, since ``…/events`` covers every
  calendar of the mailbox and would wake both for each change; created, updated, deleted; notifications to ``{base_url}/webhooks/microsoft/calendar``, lifecycle
  events to ``…/lifecycle``) with a random ``clientState`` of which only the sha256 is kept
  (``SyncedCalendar.client_state_hash``), expiring near Graph's maximum (10,080 minutes for
  events; when Graph answers with a lower one, "can only be N minutes in the future", that
  one). A sync is queued once it is stored, for whatever changed before it existed.
* **keep** (the ``renew_calendar_subscriptions`` job, every 30 minutes, queues one per
  calendar): a subscription expiring within ``RENEW_WITHIN`` is renewed (PATCH); one Graph no
  longer knows (404) is created anew, as is a missing one.
* **lifecycle** (``calendar_subscription_lifecycle`` job): ``reauthorizationRequired`` →
  reauthorize (or, refused, renew; gone, re-create); ``subscriptionRemoved`` → re-create and
  a full sync (the cursor is dropped); ``missed`` → a sync (queued by the webhook itself).
* **reconcile** (``reconcile_calendar_syncs``, every 15 minutes): every live Microsoft
  calendar whose last sync is older than ``STALE_AFTER`` gets a sync, so a subscription that
  died silently costs at most that long. It also marks notifications applied by a later sync
  and prunes old ones.
* **unsubscribe** when synchronization stops.
* **a calendar deleted in Outlook**: Graph refuses a subscription on it (404) and may end the
  one it had (``subscriptionRemoved``). Either way a sync is queued instead of another
  subscription: that run meets the same 404, disables the calendar and tells its owner
  (``calendar_sync._calendar_gone``), and a disabled calendar is never subscribed again, so
  nothing loops.

Calendars reached through the company connection use its app-only tokens; those of a person
who signed in with their own Microsoft account use that person's delegated tokens
(``microsoft_calendars.account_client``): Graph ties a subscription to the grant that made
it, so each is renewed, reauthorized and deleted with the same kind of token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.errors import BadRequest, NotFound, ProviderError
from hiresync.providers.microsoft.client import GraphClient, events_resource
from hiresync.providers.microsoft.parse import SubscriptionInfo, parse_subscription
from hiresync.providers.microsoft.wire import SubscriptionWire
from hiresync.runtime import Runtime
from hiresync.services import calendar_sync
from hiresync.services.microsoft_calendars import MICROSOFT, account_client
from hiresync.store.tables import CalendarAccount, CalendarNotification, SyncedCalendar

log = structlog.get_logger(__name__)
NOTIFY_PATH = "/webhooks/microsoft/calendar"
LIFECYCLE_PATH = NOTIFY_PATH + "/lifecycle"
MAX_MINUTES = 10_080  # Outlook events (older docs: 4,230; Graph says which when it refuses)
MARGIN = timedelta(minutes=15)  # asked below the maximum: clocks differ
RENEW_WITHIN = timedelta(hours=6)
STALE_AFTER = timedelta(minutes=30)
KEEP_NOTIFICATIONS = timedelta(days=1)
LIVE_STATES = ("initial", "ready")
_ALLOWED = re.compile(r"can only be (\d+) minutes", re.IGNORECASE)
Attempt = Callable[[datetime], Awaitable[SubscriptionWire]]


def state_hash(client_state: str) -> str:
    """What is kept of a subscription's secret: its sha256, hex."""
    return hashlib.sha256(client_state.encode()).hexdigest()


def keep_lock(calendar_id: uuid.UUID) -> str:
    return f"calendar-subscription:{calendar_id}"


async def queue_keep(runtime: Runtime, session: AsyncSession, calendar_id: uuid.UUID) -> None:
    """Ask for the calendar's subscription to be created or renewed, after the commit."""
    await defer_in_transaction(
        runtime.jobs,
        session,
        "keep_calendar_subscription",
        args={"calendar_id": str(calendar_id)},
        lock=keep_lock(calendar_id),
        queueing_lock=keep_lock(calendar_id),
    )


async def queue_lifecycle(
    runtime: Runtime, session: AsyncSession, calendar_id: uuid.UUID, event: str
) -> None:
    """Act on a lifecycle event (a Graph call: not within the webhook's answer)."""
    await defer_in_transaction(
        runtime.jobs,
        session,
        "calendar_subscription_lifecycle",
        args={"calendar_id": str(calendar_id), "event": event},
        lock=keep_lock(calendar_id),
    )


@dataclass(frozen=True)
class Target:
    """A calendar whose subscription we manage, and how to reach its mailbox."""

    calendar: SyncedCalendar
    account: CalendarAccount
    client: GraphClient

    @property
    def mailbox(self) -> str:
        return self.account.username or self.account.address


async def _target(runtime: Runtime, calendar_id: uuid.UUID) -> Target | None:
    """The calendar, if it is a live Microsoft one (company connection or own sign-in)."""
    async with runtime.db.sessions() as session:
        calendar = await session.get(SyncedCalendar, calendar_id)
        account = await session.get(CalendarAccount, calendar.account_id) if calendar else None
        if calendar is None or account is None or calendar.state == "disabled":
            return None
        if account.provider != MICROSOFT or account.status != "active":
            return None
    return Target(calendar, account, await account_client(runtime, account))


def _allowed_minutes(error: BadRequest) -> int | None:
    found = _ALLOWED.search(error.message or "")
    return int(found.group(1)) if found else None


async def _lifetime(attempt: Attempt, minutes: int = MAX_MINUTES) -> SubscriptionInfo:
    """Run ``attempt(expiration)`` near Graph's maximum; once more at the maximum Graph names
    when it refuses ours."""
    for _ in range(2):
        expiration = datetime.now(UTC) + timedelta(minutes=minutes) - MARGIN
        try:
            return parse_subscription(await attempt(expiration))
        except BadRequest as exc:
            allowed = _allowed_minutes(exc)
            if allowed is None or allowed >= minutes:
                raise
            minutes = allowed
    raise AssertionError("unreachable")


async def subscribe(runtime: Runtime, calendar_id: uuid.UUID, *, full: bool = False) -> str | None:
    """A new subscription for the calendar (any old one is deleted once the new one stands),
    then a sync (``full``: from scratch). None for a calendar that is not live."""
    target = await _target(runtime, calendar_id)
    if target is None:
        return None
    base = runtime.settings.base_url.rstrip("/")
    secret = secrets.token_urlsafe(48)
    old = target.calendar.subscription_id
    try:
        made = await _lifetime(
            lambda expiration: target.client.create_subscription(
                resource_of(target),
                base + NOTIFY_PATH,
                expiration=expiration,
                client_state=secret,
                lifecycle_url=base + LIFECYCLE_PATH,
            ),
        )
        if old and old != made.id:
            await _quietly_delete(target.client, old)
    except NotFound as exc:
        if target.calendar.role == "primary":
            raise
        # The calendar is gone from the mailbox: its sync finds out and disables it.
        log.info("calendar.subscribe_gone", calendar=str(calendar_id), error=exc.message)
        await _sync_now(runtime, calendar_id)
        return None
    finally:
        await target.client.aclose()
    async with runtime.db.transaction() as session:
        values: dict[str, object] = {
            "subscription_id": made.id,
            "subscription_expires_at": made.expires,
            "client_state_hash": state_hash(secret),
        }
        if full:
            values["cursor"] = None
        await session.execute(
            update(SyncedCalendar).where(SyncedCalendar.id == calendar_id).values(**values)
        )
        await calendar_sync.queue_sync(runtime, session, calendar_id)
    log.info("calendar.subscribed", calendar=str(calendar_id), subscription=made.id)
    return made.id


def resource_of(target: Target) -> str:
    """What the calendar's subscription watches (see the module docstring)."""
    if target.calendar.role == "primary":
        return events_resource(target.mailbox)
    return events_resource(target.mailbox, target.calendar.remote_id)


async def _quietly_delete(client: GraphClient, subscription_id: str) -> None:
    try:
        await client.delete_subscription(subscription_id)
    except ProviderError as exc:  # it expires by itself; nothing depends on it any more
        log.warning("calendar.unsubscribe_failed", subscription=subscription_id, error=exc.message)


async def keep(runtime: Runtime, calendar_id: uuid.UUID) -> str:
    """Create, renew or leave the calendar's subscription; says which."""
    target = await _target(runtime, calendar_id)
    if target is None:
        return "not_live"
    calendar = target.calendar
    due = datetime.now(UTC) + RENEW_WITHIN
    if calendar.subscription_id is None:
        await target.client.aclose()
        await subscribe(runtime, calendar_id)
        return "created"
    if calendar.subscription_expires_at and calendar.subscription_expires_at > due:
        await target.client.aclose()
        return "current"
    sub_id = calendar.subscription_id
    try:
        renewed = await _lifetime(
            lambda expiration: target.client.renew_subscription(sub_id, expiration)
        )
    except NotFound:
        await subscribe(runtime, calendar_id)  # Graph lost it: anew, with a sync
        return "recreated"
    finally:
        await target.client.aclose()
    await _expires(runtime, calendar_id, sub_id, renewed.expires)
    return "renewed"


async def _expires(
    runtime: Runtime, calendar_id: uuid.UUID, subscription_id: str, expires: datetime
) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(
            update(SyncedCalendar)
            .where(
                SyncedCalendar.id == calendar_id,
                SyncedCalendar.subscription_id == subscription_id,
            )
            .values(subscription_expires_at=expires)
        )


async def handle_lifecycle(runtime: Runtime, calendar_id: uuid.UUID, event: str) -> str:
    """What Graph's lifecycle event asks for (see the module docstring); says what was done."""
    if event == "subscriptionRemoved":
        await subscribe(runtime, calendar_id, full=True)
        return "recreated"
    if event != "reauthorizationRequired":
        await _sync_now(runtime, calendar_id)
        return "synced"
    target = await _target(runtime, calendar_id)
    if target is None or target.calendar.subscription_id is None:
        if target is not None:
            await target.client.aclose()
        return "not_live"
    sub_id, client = target.calendar.subscription_id, target.client
    try:
        done = await _reauthorize(client, calendar_id, sub_id, runtime)
    finally:
        await client.aclose()
    if done == "gone":
        await subscribe(runtime, calendar_id)
        return "recreated"
    await _sync_now(runtime, calendar_id)  # delivery may have paused meanwhile
    return done


async def _reauthorize(
    client: GraphClient, calendar_id: uuid.UUID, sub_id: str, runtime: Runtime
) -> str:
    """Reauthorize; refused, renew instead (a renewal reauthorizes too); gone, say so."""
    try:
        await client.reauthorize_subscription(sub_id)
        return "reauthorized"
    except NotFound:
        return "gone"
    except ProviderError as exc:
        log.warning("calendar.reauthorize_refused", subscription=sub_id, error=exc.message)
    try:
        renewed = await _lifetime(lambda expiration: client.renew_subscription(sub_id, expiration))
    except NotFound:
        return "gone"
    await _expires(runtime, calendar_id, sub_id, renewed.expires)
    return "renewed"


async def _sync_now(runtime: Runtime, calendar_id: uuid.UUID) -> None:
    async with runtime.db.transaction() as session:
        await calendar_sync.queue_sync(runtime, session, calendar_id)


async def unsubscribe(runtime: Runtime, calendar_id: uuid.UUID) -> bool:
    """Delete the calendar's subscription (synchronization stops); False when it had none."""
    async with runtime.db.transaction() as session:
        calendar = await session.get(SyncedCalendar, calendar_id, with_for_update=True)
        if calendar is None or calendar.subscription_id is None:
            return False
        sub_id = calendar.subscription_id
        account = await session.get(CalendarAccount, calendar.account_id)
        calendar.subscription_id = None
        calendar.subscription_expires_at = calendar.client_state_hash = None
    if account is not None and account.provider == MICROSOFT:
        client = await account_client(runtime, account)
        try:
            await _quietly_delete(client, sub_id)
        finally:
            await client.aclose()
    return True


def _live_microsoft() -> object:
    return and_(
        CalendarAccount.id == SyncedCalendar.account_id,
        CalendarAccount.provider == MICROSOFT,
        CalendarAccount.status == "active",
        SyncedCalendar.state.in_(LIVE_STATES),
    )


async def renew_all(runtime: Runtime) -> int:
    """Queue ``keep`` for every live calendar whose subscription is missing or expires soon."""
    due = datetime.now(UTC) + RENEW_WITHIN
    async with runtime.db.transaction() as session:
        ids = list(
            await session.scalars(
                select(SyncedCalendar.id)
                .join(CalendarAccount, _live_microsoft())
                .where(
                    or_(
                        SyncedCalendar.subscription_id.is_(None),
                        SyncedCalendar.subscription_expires_at.is_(None),
                        SyncedCalendar.subscription_expires_at < due,
                    )
                )
            )
        )
        for calendar_id in ids:
            await queue_keep(runtime, session, calendar_id)
    return len(ids)


async def reconcile(runtime: Runtime, stale_after: timedelta = STALE_AFTER) -> int:
    """Queue a sync for every live calendar not synced for ``stale_after``; mark notifications
    a later sync covered, and prune old ones."""
    now = datetime.now(UTC)
    async with runtime.db.transaction() as session:
        ids = list(
            await session.scalars(
                select(SyncedCalendar.id)
                .join(CalendarAccount, _live_microsoft())
                .where(
                    or_(
                        SyncedCalendar.last_synced_at < now - stale_after,
                        # never synced: its first run was queued when it started
                        SyncedCalendar.last_synced_at.is_(None)
                        & (SyncedCalendar.created_at < now - stale_after),
                    )
                )
            )
        )
        for calendar_id in ids:
            await calendar_sync.queue_sync(runtime, session, calendar_id)
        await _tidy_notifications(session, now)
    if ids:
        log.info("calendar.reconcile", queued=len(ids))
    return len(ids)


async def _tidy_notifications(session: AsyncSession, now: datetime) -> None:
    synced = (
        select(SyncedCalendar.last_synced_at)
        .where(SyncedCalendar.id == CalendarNotification.calendar_id)
        .scalar_subquery()
    )
    await session.execute(
        update(CalendarNotification)
        .where(
            CalendarNotification.processed_at.is_(None), CalendarNotification.received_at < synced
        )
        .values(processed_at=synced)
    )
    await session.execute(
        delete(CalendarNotification).where(
            CalendarNotification.processed_at < now - KEEP_NOTIFICATIONS
        )
    )
