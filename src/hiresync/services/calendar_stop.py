"""Stopping a person's calendar sync (issue #6, seed 002): "When you disable the
synchronization ..., the events synchronized will be deleted from [the external calendar].
The events will however remain intact in [hiresync]."

``stop``:

1. in one transaction, turns the account ``disconnected`` and its calendars ``disabled``
   (no new run starts; a run already under way still finishes its own writes);
2. deletes, outside any transaction, each event hiresync wrote there (origin ``hiresync``
   with a ``remote_ident``) with its etag; one already gone counts as removed; one the
   person changed there since the last sync (etag mismatch) is left, so their change is
   not lost, and listed; a server-wide failure (password refused, server down, rate
   limited) stops that calendar's deletes and lists the rest;
3. forgets the remote half of each removed row (``remote_ident``/etag/digest cleared) and
   keeps every row of the copy;
4. deletes the dedicated calendar hiresync created only if it is then empty (CalDAV, and
   Outlook: ``microsoft_calendars.delete_if_empty``): an empty "Hiring interviews" calendar
   left behind would only confuse, and a new start creates a new one (or re-uses one kept);
   a calendar still holding the person's own events is kept, and said.

Events that could not be removed stay linked and are listed on the page; calling ``stop``
again on the disconnected account tries them again. The sealed password is deleted once
nothing is left to remove. Another person's account is a 404, whoever asks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.base import RemoteCalendar
from hiresync.providers.caldav import CalDavCalendars
from hiresync.providers.errors import AuthRevoked, ProviderError, ProviderUnavailable, RateLimited
from hiresync.providers.errors import NotFound as ProviderNotFound
from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes
from hiresync.services.calendar_remotes import CALDAV
from hiresync.services.errors import NotFound
from hiresync.store.tables import CalendarAccount, CalendarItem, SyncedCalendar, User
from hiresync.sync.model import NotFound as ItemGone
from hiresync.sync.model import PreconditionFailed

log = structlog.get_logger(__name__)
# Server-wide trouble: the remaining deletes of a calendar would fail the same way.
_WHOLE_SERVER = (AuthRevoked, ProviderUnavailable, RateLimited)


def owned_by(table: Any, user: User) -> tuple[Any, ...]:
    """Conditions for rows of ``table`` that belong to ``user`` (tenancy is explicit)."""
    return (table.organization_id == user.organization_id, table.user_id == user.id)


async def own_account(
    session: AsyncSession, user: User, account_id: uuid.UUID, *, lock: bool = False
) -> CalendarAccount:
    """The person's own account, or 404: another person's account does not exist for them."""
    query = select(CalendarAccount).where(
        CalendarAccount.id == account_id, *owned_by(CalendarAccount, user)
    )
    account = await session.scalar(query.with_for_update() if lock else query)
    if account is None:
        raise NotFound("That calendar account is not one of yours.", field="account_id")
    return account


@dataclass(frozen=True, slots=True)
class NotRemoved:
    summary: str
    starts_at: datetime | None
    reason: str


@dataclass
class StopOutcome:
    """What ``stop`` did, for the flash message and the API."""

    address: str
    already_stopped: bool = False
    removed: int = 0
    not_removed: list[NotRemoved] = field(default_factory=list)
    calendars_deleted: list[str] = field(default_factory=list)
    calendars_kept: list[str] = field(default_factory=list)  # sentences: name and why

    @property
    def complete(self) -> bool:
        return not self.not_removed

    @property
    def message(self) -> str:
        said = [
            f"Synchronization with {self.address} was already stopped."
            if self.already_stopped
            else f"Synchronization with {self.address} is stopped."
        ]
        if self.removed:
            said.append(
                f"hiresync removed the {_events(self.removed)} it had added to your calendar."
            )
        if self.not_removed:
            first = self.not_removed[0]
            said.append(
                f"{_events(len(self.not_removed))} hiresync added could not be removed "
                f"(“{first.summary}”: {first.reason}); they are listed on this page, where you "
                "can try again."
            )
        said += [f"The empty calendar {n!r} was deleted." for n in self.calendars_deleted]
        said += self.calendars_kept
        said.append("Everything stays in hiresync.")
        return " ".join(said)


def _events(n: int) -> str:
    return "1 event" if n == 1 else f"{n} events"


@dataclass(frozen=True, slots=True)
class _Ours:
    id: uuid.UUID
    summary: str
    starts_at: datetime | None
    ident: str
    etag: str | None


async def stop(runtime: Runtime, user: User, account_id: uuid.UUID) -> StopOutcome:
    """Stop synchronization of one of the person's accounts (see the module docstring).
    Another person's account is a 404; an account already stopped retries what is left;
    server errors are listed in the outcome, never a lost copy."""
    account, calendars, already = await _mark_stopped(runtime, user, account_id)
    outcome = StopOutcome(account.address, already_stopped=already)
    if account.provider == "microsoft":
        await _unsubscribe(runtime, calendars)
    for calendar in calendars:
        removed = await _remove_ours(runtime, account, calendar, outcome)
        await _forget_remote(runtime, removed)
    await _seal_off(runtime, account.id)
    log.info(
        "calendar.stopped",
        account=str(account.id),
        removed=outcome.removed,
        not_removed=len(outcome.not_removed),
    )
    return outcome


async def _unsubscribe(runtime: Runtime, calendars: list[SyncedCalendar]) -> None:
    """Graph stops notifying; one it cannot reach expires by itself within days, and its
    notifications find a disabled calendar (acknowledged, never applied)."""
    from hiresync.services import calendar_subscriptions

    for calendar in calendars:
        try:
            await calendar_subscriptions.unsubscribe(runtime, calendar.id)
        except ProviderError as exc:
            log.info("calendar.unsubscribe_failed", calendar=str(calendar.id), error=exc.message)


async def _mark_stopped(
    runtime: Runtime, user: User, account_id: uuid.UUID
) -> tuple[CalendarAccount, list[SyncedCalendar], bool]:
    async with runtime.db.transaction() as session:
        account = await own_account(session, user, account_id, lock=True)
        already = account.status == "disconnected"
        if not already:
            account.status, account.disconnected_at = "disconnected", datetime.now(UTC)
            await session.execute(
                update(SyncedCalendar)
                .where(SyncedCalendar.account_id == account.id)
                .values(state="disabled", disabled_reason="You stopped synchronization.")
            )
        calendars = list(
            await session.scalars(
                select(SyncedCalendar).where(SyncedCalendar.account_id == account.id)
            )
        )
    return account, calendars, already


async def _ours_out_there(runtime: Runtime, calendar_id: uuid.UUID) -> list[_Ours]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(
                CalendarItem.id,
                CalendarItem.summary,
                CalendarItem.starts_at,
                CalendarItem.remote_ident,
                CalendarItem.remote_etag,
            ).where(
                CalendarItem.calendar_id == calendar_id,
                CalendarItem.origin == "hiresync",
                CalendarItem.remote_ident.is_not(None),
            )
        )
        return [_Ours(*row) for row in rows]


async def _remove_ours(
    runtime: Runtime, account: CalendarAccount, calendar: SyncedCalendar, outcome: StopOutcome
) -> list[uuid.UUID]:
    """Delete hiresync's events from one calendar; the ids of the rows whose remote copy
    is gone. The dedicated calendar goes too when that leaves it empty."""
    ours = await _ours_out_there(runtime, calendar.id)
    if not ours and calendar.role != "dedicated":
        return []
    try:
        remote, close = await calendar_remotes.open_remote(runtime, account, calendar)
    except ProviderError as exc:
        outcome.not_removed += [NotRemoved(o.summary, o.starts_at, exc.message) for o in ours]
        return []
    try:
        removed = await _delete_each(remote, ours, outcome)
        if calendar.role == "dedicated" and len(removed) == len(ours):
            await _drop_if_empty(runtime, account, calendar, remote, outcome)
    finally:
        await close()
    return removed


async def _delete_each(
    remote: RemoteCalendar, ours: list[_Ours], outcome: StopOutcome
) -> list[uuid.UUID]:
    removed: list[uuid.UUID] = []
    for n, event in enumerate(ours):
        try:
            await remote.delete(event.ident, event.etag)
        except (ItemGone, ProviderNotFound):
            pass  # gone already: counts as removed
        except PreconditionFailed:
            reason = "it was changed in your calendar since the last sync, so it is left there"
            outcome.not_removed.append(NotRemoved(event.summary, event.starts_at, reason))
            continue
        except _WHOLE_SERVER as exc:  # the rest would fail the same way: not tried
            outcome.not_removed += [
                NotRemoved(o.summary, o.starts_at, exc.message) for o in ours[n:]
            ]
            break
        except ProviderError as exc:
            outcome.not_removed.append(NotRemoved(event.summary, event.starts_at, exc.message))
            continue
        removed.append(event.id)
    outcome.removed += len(removed)
    return removed


async def _drop_if_empty(
    runtime: Runtime,
    account: CalendarAccount,
    calendar: SyncedCalendar,
    remote: RemoteCalendar,
    outcome: StopOutcome,
) -> None:
    """The dedicated calendar, deleted only if nothing is left in it (see the module
    docstring); one that cannot be deleted here is kept, and said."""
    if account.provider == "microsoft":
        from hiresync.services import microsoft_calendars  # Graph's client only when needed

        kept = await microsoft_calendars.delete_if_empty(runtime, account, calendar)
        if kept is None:
            outcome.calendars_deleted.append(calendar.name)
        elif kept:
            outcome.calendars_kept.append(kept)
        return
    if account.provider != CALDAV or not account.secret_sealed:
        outcome.calendars_kept.append(
            f"The calendar {calendar.name!r} is kept in your account; delete it there if "
            "you no longer need it."
        )
        return
    try:
        read = await remote.read(None, {})
    except ProviderNotFound:
        return  # deleted already
    except ProviderError as exc:
        outcome.calendars_kept.append(f"The calendar {calendar.name!r} is kept: {exc.message}")
        return
    if read.items or read.quarantined:
        outcome.calendars_kept.append(
            f"The calendar {calendar.name!r} is kept: it holds "
            f"{len(read.items) + len(read.quarantined)} events of yours."
        )
        return
    password = runtime.keyring.open(
        account.secret_sealed, context=calendar_remotes.secret_context(account.id)
    )
    client = calendar_remotes.account_client(runtime, account, password)
    try:
        await CalDavCalendars(client).delete_calendar(calendar.remote_id)
    except ProviderError as exc:
        outcome.calendars_kept.append(f"The calendar {calendar.name!r} is kept: {exc.message}")
        return
    finally:
        await client.aclose()
    outcome.calendars_deleted.append(calendar.name)


async def _forget_remote(runtime: Runtime, removed: list[uuid.UUID]) -> None:
    """The rows stay (hiresync keeps everything); only their link to the remote goes."""
    if not removed:
        return
    async with runtime.db.transaction() as session:
        await session.execute(
            update(CalendarItem)
            .where(CalendarItem.id.in_(removed))
            .values(remote_ident=None, remote_etag=None, remote_digest=None)
        )


async def _seal_off(runtime: Runtime, account_id: uuid.UUID) -> None:
    """Once nothing hiresync wrote is left out there, the stored password is deleted; the
    row is touched either way, so open pages refresh."""
    async with runtime.db.transaction() as session:
        left = await session.scalar(
            select(func.count(CalendarItem.id))
            .join(SyncedCalendar, SyncedCalendar.id == CalendarItem.calendar_id)
            .where(
                SyncedCalendar.account_id == account_id,
                CalendarItem.origin == "hiresync",
                CalendarItem.remote_ident.is_not(None),
            )
        )
        values: dict[str, Any] = {"updated_at": func.now()}
        if not left:
            values.update(secret_sealed=None, access_sealed=None)
        await session.execute(
            update(CalendarAccount).where(CalendarAccount.id == account_id).values(**values)
        )
