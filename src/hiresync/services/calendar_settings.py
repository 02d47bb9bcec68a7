"""What a person sees and does about their own calendar sync (issue #6, seeds 002/003):
"Start synchronization", "Your calendar is synchronized with name@example.com", how the
first sync is getting on, what is wrong and how to fix it, "Sync now", and "Stop".

The page (``web.my_calendar``) and the API (``api.v1.calendar_sync``) both read
``status_for``: one view, so a hiring platform's engineer and the person read the same
sentences. Every problem comes with what to do about it.

Stopping is ``calendar_stop.stop`` (re-exported here): it removes the events hiresync
added to the calendar and keeps everything in hiresync.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.caldav import discover
from hiresync.providers.errors import AuthRevoked, ProviderError
from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes, calendar_sync, interview_settings
from hiresync.services.calendar_remotes import CALDAV, CalDavLogin
from hiresync.services.calendar_stop import (
    NotRemoved,
    StopOutcome,
    own_account,
    owned_by,
    stop,
)
from hiresync.services.errors import InvalidInput, NotConnected, NotFound
from hiresync.store.tables import CalendarAccount, CalendarItem, SyncedCalendar, User

__all__ = [
    "DEDICATED_NAME",
    "NotRemoved",
    "StopOutcome",
    "SyncStatus",
    "finish_microsoft",
    "reconnect_caldav",
    "start_caldav",
    "start_microsoft",
    "status_for",
    "stop",
    "sync_all",
    "sync_now",
]

log = structlog.get_logger(__name__)

DEDICATED_NAME = interview_settings.DEDICATED_NAME  # the default; organizations rename it
SHOWN = 50  # quarantined items and leftovers listed
HIRING_ROLES = frozenset({"primary", "dedicated"})
ROLE_LABELS = {
    "primary": "Your calendar: interviews are written here (two-way)",
    "dedicated": "Dedicated calendar created by hiresync (two-way)",
    "external": "Your other meetings, shown in hiresync (read-only)",
}
STATE_LABELS = {
    "initial": "First synchronization running",
    "ready": "Synchronized",
    "failed": "Needs attention",
    "disabled": "Disabled",
}


# -- the view --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong and what to do; ``action`` names the button that fixes it."""

    what: str
    fix: str
    action: str | None = None  # sync_now | sync_anyway | reconnect | restart


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    uid: str
    summary: str
    reason: str


@dataclass(frozen=True, slots=True)
class Counts:
    events: int = 0  # live events in hiresync's copy
    external: int = 0  # the person's own meetings, read from the calendar
    from_hiresync: int = 0  # written by hiresync (interviews)
    imported: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class CalendarView:
    id: uuid.UUID
    name: str
    role: str
    role_label: str
    state: str
    state_label: str
    direction: str
    done: int
    total: int | None
    last_synced_at: datetime | None
    counts: Counts
    quarantined: list[QuarantinedItem]
    problem: Problem | None

    @property
    def percent(self) -> int | None:
        if self.state != "initial" or not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


@dataclass(frozen=True, slots=True)
class AccountView:
    id: uuid.UUID
    provider: str
    address: str
    status: str
    state: str  # synchronized | starting | attention | reconnect_needed
    headline: str
    connected_at: datetime
    problem: Problem | None
    calendars: list[CalendarView]
    scope: str = "personal"  # company: through the organization's Microsoft 365 connection

    @property
    def signs_in_with_microsoft(self) -> bool:
        """Reconnecting is "Sign in with Microsoft" again (the person's own grant)."""
        return self.provider == "microsoft" and self.scope == "personal"

    @property
    def external_meetings(self) -> int:
        return sum(c.counts.external for c in self.calendars)


@dataclass(frozen=True, slots=True)
class LeftoverEvent:
    """An event hiresync wrote that stayed in a calendar whose sync was stopped."""

    account_id: uuid.UUID
    address: str
    summary: str
    starts_at: datetime | None


@dataclass(frozen=True, slots=True)
class SyncStatus:
    accounts: list[AccountView]
    leftovers: list[LeftoverEvent]
    leftover_count: int
    version: str

    @property
    def connected(self) -> bool:
        return bool(self.accounts)

    @property
    def headline(self) -> str:
        if not self.accounts:
            return "Your calendar is not synchronized."
        return " ".join(a.headline for a in self.accounts)


async def status_for(session: AsyncSession, user: User) -> SyncStatus:
    """The person's live calendar accounts with their calendars, and what a stop left."""
    accounts = list(
        await session.scalars(
            select(CalendarAccount)
            .where(*owned_by(CalendarAccount, user), CalendarAccount.status != "disconnected")
            .order_by(CalendarAccount.connected_at)
        )
    )
    calendars = list(
        await session.scalars(
            select(SyncedCalendar)
            .where(SyncedCalendar.account_id.in_([a.id for a in accounts]))
            .order_by(SyncedCalendar.created_at, SyncedCalendar.name)
        )
    )
    counts = await _counts(session, [c.id for c in calendars])
    bad = await _quarantined(session, [c.id for c in calendars])
    views = [
        _account_view(
            a,
            [
                _calendar_view(c, counts.get(c.id, Counts()), bad.get(c.id, []))
                for c in calendars
                if c.account_id == a.id
            ],
        )
        for a in accounts
    ]
    leftovers, left = await _leftovers(session, user)
    return SyncStatus(views, leftovers, left, await version_of(session, user))


async def version_of(session: AsyncSession, user: User) -> str:
    """A short fingerprint of everything the status shows, in one small query: every sync
    run, progress step, state change and stop touches ``updated_at`` of these rows. The
    page's event stream polls this to know when to refresh."""
    accounts = select(func.count(CalendarAccount.id), func.max(CalendarAccount.updated_at)).where(
        *owned_by(CalendarAccount, user)
    )
    calendars = select(func.count(SyncedCalendar.id), func.max(SyncedCalendar.updated_at)).where(
        *owned_by(SyncedCalendar, user)
    )
    row = (await session.execute(accounts.union_all(calendars))).all()
    return hashlib.sha256(repr(row).encode()).hexdigest()[:16]


async def _counts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    if not ids:
        return {}
    rows = await session.execute(
        select(
            CalendarItem.calendar_id,
            CalendarItem.origin,
            CalendarItem.quarantine.is_not(None),
            func.count(),
        )
        .where(CalendarItem.calendar_id.in_(ids), CalendarItem.deleted.is_(False))
        .group_by(
            CalendarItem.calendar_id, CalendarItem.origin, CalendarItem.quarantine.is_not(None)
        )
    )
    tally: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for calendar_id, origin, quarantined, n in rows:
        counts = tally[calendar_id]
        if quarantined:
            counts["quarantined"] += n
            continue
        counts["events"] += n
        key = {"remote": "external", "hiresync": "from_hiresync"}.get(origin, "imported")
        counts[key] += n
    return {calendar_id: Counts(**t) for calendar_id, t in tally.items()}


async def _quarantined(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[QuarantinedItem]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(
            CalendarItem.calendar_id,
            CalendarItem.uid,
            CalendarItem.summary,
            CalendarItem.quarantine,
        )
        .where(CalendarItem.calendar_id.in_(ids), CalendarItem.quarantine.is_not(None))
        .order_by(CalendarItem.calendar_id, CalendarItem.uid)
        .limit(SHOWN)
    )
    found: dict[uuid.UUID, list[QuarantinedItem]] = defaultdict(list)
    for calendar_id, uid, summary, reason in rows:
        found[calendar_id].append(QuarantinedItem(uid, summary or "", reason or ""))
    return found


def _calendar_view(c: SyncedCalendar, counts: Counts, bad: list[QuarantinedItem]) -> CalendarView:
    return CalendarView(
        id=c.id,
        name=c.name,
        role=c.role,
        role_label=ROLE_LABELS.get(c.role, c.role),
        state=c.state,
        state_label=STATE_LABELS.get(c.state, c.state),
        direction=c.direction,
        done=c.initial_done or 0,
        total=c.initial_total,
        last_synced_at=c.last_synced_at,
        counts=counts,
        quarantined=bad,
        problem=_calendar_problem(c),
    )


def _calendar_problem(c: SyncedCalendar) -> Problem | None:
    if c.state == "disabled":
        anew = "a new one is created" if c.role == "dedicated" else "your calendars are read anew"
        return Problem(
            c.disabled_reason or "Synchronization of this calendar is disabled.",
            f"Stop synchronization, then start it again: {anew}, and everything in hiresync "
            "is kept.",
            "restart",
        )
    if c.state == "failed":  # the guard refused a run that would suddenly empty a side
        return Problem(
            c.last_error or "The last synchronization was refused.",
            "If that change is intended, choose “Sync anyway”. If not, check the calendar in "
            "your calendar app, then choose “Sync now”.",
            "sync_anyway",
        )
    if c.last_error:
        return Problem(
            f"The last attempt failed: {c.last_error}",
            "hiresync tries again by itself; choose “Sync now” to try at once.",
            "sync_now",
        )
    return None


def _account_view(a: CalendarAccount, calendars: list[CalendarView]) -> AccountView:
    live = [c for c in calendars if c.state != "disabled"]
    hiring = [c for c in calendars if c.role in HIRING_ROLES]
    problem = None
    if a.status == "reconnect_needed":
        state = "reconnect_needed"
        headline = (
            f"Your calendar is not synchronized: hiresync can no longer sign in to {a.address}."
        )
        fix = _reconnect_fix(a)
        problem = Problem(
            a.last_error or "The server refused hiresync's sign-in.", fix, "reconnect"
        )
    elif any(c.state == "initial" for c in live):
        state, headline = "starting", f"Synchronization with {a.address} has started."
    elif not hiring or any(c.state in ("failed", "disabled") for c in hiring):
        state, headline = "attention", f"Synchronization with {a.address} needs your attention."
    else:
        state, headline = "synchronized", f"Your calendar is synchronized with {a.address}."
    return AccountView(
        a.id,
        a.provider,
        a.address,
        a.status,
        state,
        headline,
        a.connected_at,
        problem,
        calendars,
        a.scope,
    )


def _reconnect_fix(a: CalendarAccount) -> str:
    if a.provider == CALDAV:
        return "Enter a new app password for it on Settings › My calendar."
    if a.scope == "personal":
        return (
            f"Choose “Sign in with Microsoft” below and sign in as {a.address}: "
            "synchronization resumes where it stopped."
        )
    return "Stop synchronization and start it again, signing in anew."


async def _leftovers(session: AsyncSession, user: User) -> tuple[list[LeftoverEvent], int]:
    """Events hiresync wrote into calendars whose sync was stopped, not removed yet."""
    where = (
        *owned_by(CalendarAccount, user),
        CalendarAccount.status == "disconnected",
        CalendarItem.origin == "hiresync",
        CalendarItem.remote_ident.is_not(None),
    )
    joined = (SyncedCalendar, SyncedCalendar.id == CalendarItem.calendar_id)
    owner = (CalendarAccount, CalendarAccount.id == SyncedCalendar.account_id)
    total = await session.scalar(
        select(func.count(CalendarItem.id)).join(*joined).join(*owner).where(*where)
    )
    rows = await session.execute(
        select(
            CalendarAccount.id,
            CalendarAccount.address,
            CalendarItem.summary,
            CalendarItem.starts_at,
        )
        .join(*joined)
        .join(*owner)
        .where(*where)
        .order_by(CalendarItem.starts_at.desc().nulls_last())
        .limit(SHOWN)
    )
    return [LeftoverEvent(*row) for row in rows], total or 0


# -- starting, reconnecting, syncing now ------------------------------------------------------


async def start_caldav(
    runtime: Runtime, session: AsyncSession, user: User, login: CalDavLogin
) -> CalendarAccount:
    """Connect the person's CalDAV account and queue the first sync of each calendar (the
    jobs run once the caller's transaction commits). Errors name the field to fix. The
    organization's placement rule decides where interviews go, unless it leaves that to
    the person (then ``login.dedicated_calendar`` says)."""
    _check_login(login)
    login = await placed(session, user, login)
    account, calendars = await calendar_remotes.connect_caldav(runtime, session, user, login)
    for calendar in calendars:
        await calendar_sync.queue_sync(runtime, session, calendar.id)
    log.info("calendar.started", account=str(account.id), calendars=len(calendars))
    return account


async def placed(session: AsyncSession, user: User, login: CalDavLogin) -> CalDavLogin:
    """``login`` with the organization's placement applied: its primary calendar, or a
    dedicated one under the organization's name for it."""
    rules = await interview_settings.load(session, user.organization_id)
    if rules.calendar_placement == "primary":
        return replace(login, dedicated_calendar=None)
    if rules.calendar_placement == "dedicated" or login.dedicated_calendar:
        return replace(login, dedicated_calendar=rules.dedicated_calendar_name)
    return login


async def start_outlook(
    runtime: Runtime, session: AsyncSession, user: User, *, dedicated: bool | None = None
) -> CalendarAccount:
    """Keep the person's Outlook calendar in step through the company connection, where the
    organization's placement rule puts interviews (``dedicated``: the person's choice, when
    the rule leaves it to them): each calendar's first sync and Graph subscription are
    queued (they run once the caller commits)."""
    from hiresync.services import calendar_subscriptions, microsoft_calendars

    calendar = await microsoft_calendars.start_company_sync(
        runtime, session, user, dedicated=dedicated
    )
    calendars = list(
        await session.scalars(
            select(SyncedCalendar.id).where(
                SyncedCalendar.account_id == calendar.account_id,
                SyncedCalendar.state != "disabled",
            )
        )
    )
    for calendar_id in calendars:
        await calendar_sync.queue_sync(runtime, session, calendar_id)
        await calendar_subscriptions.queue_keep(runtime, session, calendar_id)
    account = await session.get(CalendarAccount, calendar.account_id)
    assert account is not None
    log.info("calendar.started", account=str(account.id), calendars=len(calendars))
    return account


async def start_microsoft(runtime: Runtime, session: AsyncSession, user: User, browser: str) -> str:
    """Where to send the person to sign in with their own Microsoft account (to start, or
    to reconnect an account that needs it); the attempt is bound to them and this browser."""
    from hiresync.services import microsoft_accounts

    return await microsoft_accounts.start_sign_in(runtime, session, user, browser)


async def finish_microsoft(
    runtime: Runtime, user: User, browser: str, params: Mapping[str, str]
) -> CalendarAccount:
    """Microsoft's redirect back: the account is stored (or reconnected) and its first sync
    and subscription are queued; refusals say what to do."""
    from hiresync.services import microsoft_accounts

    account = await microsoft_accounts.finish_sign_in(runtime, user, browser, params)
    log.info("calendar.started", account=str(account.id), calendars=1)
    return account


def _check_login(login: CalDavLogin) -> None:
    """What can be told before asking any server."""
    email = login.email.strip()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise InvalidInput(
            f"{email or 'An empty value'} is not an e-mail address.",
            hint="Type the address of the calendar account, like name@example.com.",
            field="email",
        )
    if not login.password:
        raise InvalidInput(
            "Type the password of the calendar account.",
            hint="Accounts with two-step sign-in need an app password.",
            field="password",
        )
    if login.server_url:
        parts = urlsplit(login.server_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"{login.server_url} is not a web address.",
                hint="Give the CalDAV server's address, like https://dav.example.com/.",
                field="server_url",
            )


async def reconnect_caldav(
    runtime: Runtime, session: AsyncSession, user: User, account_id: uuid.UUID, password: str
) -> CalendarAccount:
    """A new app password for an account that needs reconnecting: checked against the
    server, sealed, and every calendar still synced is queued at once."""
    account = await own_account(session, user, account_id, lock=True)
    if account.status == "disconnected" or account.provider != CALDAV:
        raise NotFound("That calendar account is not connected.", field="account_id")
    if not password:
        raise InvalidInput("Type the new app password.", field="password")
    await _check_password(runtime, account, password)
    account.secret_sealed = runtime.keyring.seal(
        password, context=calendar_remotes.secret_context(account.id)
    )
    account.key_id, account.status, account.last_error = runtime.keyring.active, "active", None
    for calendar in await session.scalars(
        select(SyncedCalendar).where(
            SyncedCalendar.account_id == account.id, SyncedCalendar.state != "disabled"
        )
    ):
        await calendar_sync.queue_sync(runtime, session, calendar.id)
    return account


async def _check_password(runtime: Runtime, account: CalendarAccount, password: str) -> None:
    client = calendar_remotes.account_client(runtime, account, password)
    try:
        await discover(client, account.principal_url or account.server_url)
    except AuthRevoked as exc:
        raise InvalidInput(
            f"The server refused the password: {exc.message}",
            hint="Use an app password if your account has two-step sign-in.",
            field="password",
        ) from exc
    except ProviderError as exc:
        raise InvalidInput(
            f"The server of {account.address} could not be reached: {exc.message}",
            hint="Try again in a moment.",
            field="password",
        ) from exc
    finally:
        await client.aclose()


async def sync_now(
    runtime: Runtime,
    session: AsyncSession,
    user: User,
    calendar_id: uuid.UUID,
    *,
    force: bool = False,
) -> SyncedCalendar:
    """Queue a run of one of the person's calendars ("Sync now"; ``force``: "Sync anyway"
    past the guard). A run already waiting makes this a no-op."""
    calendar = await session.scalar(
        select(SyncedCalendar).where(
            SyncedCalendar.id == calendar_id, *owned_by(SyncedCalendar, user)
        )
    )
    if calendar is None:
        raise NotFound("That calendar is not one of yours.", field="calendar_id")
    account = await session.get(CalendarAccount, calendar.account_id)
    _runnable(account, calendar)
    await calendar_sync.queue_sync(runtime, session, calendar.id, force=force)
    return calendar


async def sync_all(
    runtime: Runtime, session: AsyncSession, user: User, *, force: bool = False
) -> list[SyncedCalendar]:
    """Queue a run of each of the person's synced calendars; 409 when there is none."""
    rows = (
        await session.execute(
            select(SyncedCalendar, CalendarAccount)
            .join(CalendarAccount, CalendarAccount.id == SyncedCalendar.account_id)
            .where(*owned_by(SyncedCalendar, user), CalendarAccount.status != "disconnected")
        )
    ).all()
    if not rows:
        raise NotConnected(
            f"{user.email} has no calendar connected.",
            hint=f"They start synchronization on {calendar_remotes.SETTINGS_PATH}.",
        )
    runnable = [c for c, a in rows if a.status == "active" and c.state != "disabled"]
    if not runnable:
        _runnable(rows[0][1], rows[0][0])  # says why (reconnect needed, disabled)
    for calendar in runnable:
        await calendar_sync.queue_sync(runtime, session, calendar.id, force=force)
    return runnable


def _runnable(account: CalendarAccount | None, calendar: SyncedCalendar) -> None:
    if account is None or account.status == "disconnected":
        raise NotConnected("Synchronization of this calendar was stopped.")
    if account.status != "active":
        raise NotConnected(
            f"hiresync can no longer sign in to {account.address}.",
            hint="Reconnect the account with a new app password first."
            if account.provider == CALDAV
            else "Reconnect it first: " + _reconnect_fix(account),
        )
    if calendar.state == "disabled":
        raise NotConnected(
            calendar.disabled_reason or f"Synchronization of {calendar.name!r} is disabled.",
            hint="Stop synchronization and start it again.",
        )
