"""A person's own calendar account: connecting it, and opening one of its calendars as the
sync engine's remote side (issue #6, "Start synchronization").

CalDAV: the person gives their e-mail address (discovery finds the server from its domain,
RFC 6764) or the server URL, a user name and an app password (accounts with two-step
sign-in need one). The password is sealed at rest, bound to the account row; it is opened
only to build the client of a run. Every calendar with events is kept: the hiring calendar
(the person's first calendar, or a dedicated one hiresync creates, named after the hiring
platform) two-way; the others read-only, their meetings counted in availability.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.timezones import zone_or_utc
from hiresync.providers.base import RemoteCalendar
from hiresync.providers.caldav import CalDavCalendars, CalDavClient, CalendarInfo, discover
from hiresync.providers.caldav.sync_side import CalDavRemote
from hiresync.providers.errors import AuthRevoked, NotFound, ProviderError
from hiresync.runtime import Runtime
from hiresync.services.errors import AlreadyExists, InvalidInput
from hiresync.store.tables import CalendarAccount, SyncedCalendar, User

SETTINGS_PATH = "/settings/my-calendar"
CALDAV = "caldav"
Close = Callable[[], Awaitable[None]]


def secret_context(account_id: uuid.UUID) -> str:
    """What a sealed app password is bound to: this account row."""
    return f"calendar_account:{account_id}:secret"


@dataclass(frozen=True)
class CalDavLogin:
    """What the person types to start synchronization with a CalDAV account."""

    email: str
    password: str
    username: str | None = None  # the e-mail address when not given
    server_url: str | None = None  # advanced: when discovery from the domain finds nothing
    dedicated_calendar: str | None = None  # the name of a calendar hiresync creates


def _client(runtime: Runtime, url: str, username: str, password: str) -> CalDavClient:
    """The one way hiresync reaches a CalDAV server: the deployment's timeout and CA."""
    settings = runtime.settings
    return CalDavClient(
        url,
        username=username,
        password=password,
        timeout=settings.caldav_timeout_seconds,
        verify=settings.caldav_ca_file or True,
    )


def account_client(runtime: Runtime, account: CalendarAccount, password: str) -> CalDavClient:
    """A client logged in to a stored account (its server, its user name)."""
    username = account.username or account.address
    return _client(runtime, account.server_url or account.address, username, password)


async def open_remote(
    runtime: Runtime, account: CalendarAccount, calendar: SyncedCalendar
) -> tuple[RemoteCalendar, Close]:
    """The remote side of one run, and how to close its connections."""
    if account.provider == "microsoft":  # company connection or the person's own sign-in
        from hiresync.services import microsoft_calendars  # Graph's client only when needed

        return await microsoft_calendars.open_remote(runtime, account, calendar)
    if account.provider != CALDAV or not account.secret_sealed or not account.server_url:
        raise NotFound(f"no way to reach {account.provider} calendars", provider=account.provider)
    password = runtime.keyring.open(account.secret_sealed, context=secret_context(account.id))
    client = account_client(runtime, account, password)
    zone = await _zone_of(runtime, account.user_id)
    remote = CalDavRemote(CalDavCalendars(client), calendar.remote_id, account.address, zone)
    return remote, client.aclose


async def _zone_of(runtime: Runtime, user_id: uuid.UUID) -> ZoneInfo:
    """The person's zone reads floating times (events with no zone of their own)."""
    async with runtime.db.sessions() as session:
        user = await session.get(User, user_id)
    return zone_or_utc(user.time_zone if user is not None else None)


async def connect_caldav(
    runtime: Runtime, session: AsyncSession, user: User, login: CalDavLogin
) -> tuple[CalendarAccount, list[SyncedCalendar]]:
    """Discover the account, store it with its calendars (sealed password), and return them;
    the caller queues their first sync. Refused credentials or no CalDAV service found are
    a 422 that says what to check; a live account of this person is a 409."""
    existing = await session.scalar(
        select(CalendarAccount).where(
            CalendarAccount.organization_id == user.organization_id,
            CalendarAccount.user_id == user.id,
            CalendarAccount.provider == CALDAV,
            CalendarAccount.status != "disconnected",
        )
    )
    if existing is not None:
        raise AlreadyExists(
            f"Your calendar is already synchronized with {existing.address}.",
            hint="Stop synchronization first to use another account.",
        )
    username = login.username or login.email
    client = _client(runtime, login.server_url or login.email, username, login.password)
    try:
        found = await discover(client, login.server_url or login.email)
        calendars = [c for c in found.calendars if c.has_events]
        if login.dedicated_calendar:
            made = await CalDavCalendars(client, home_url=found.home_url).create_calendar(
                f"hiresync-{uuid.uuid4().hex[:8]}", login.dedicated_calendar
            )
            calendars.append(made)
    except AuthRevoked as exc:
        raise InvalidInput(
            f"The server refused the user name or password: {exc.message}",
            hint="Use an app password if your account has two-step sign-in.",
            field="password",
        ) from exc
    except ProviderError as exc:
        raise InvalidInput(
            f"No CalDAV calendar was found for {login.email}: {exc.message}",
            hint="Give the server URL under advanced settings.",
            field="server_url",
        ) from exc
    finally:
        await client.aclose()
    if not calendars:
        raise InvalidInput(f"{login.email} has no calendar with events.", field="email")
    account = CalendarAccount(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        provider=CALDAV,
        scope="personal",
        address=login.email,
        server_url=found.server_url,
        principal_url=found.principal_url,
        username=username,
        key_id=runtime.keyring.active,
        status="active",
    )
    account.secret_sealed = runtime.keyring.seal(login.password, context=secret_context(account.id))
    session.add(account)
    rows = [_synced(account, info, _role(info, calendars, login)) for info in calendars]
    session.add_all(rows)
    await session.flush()
    return account, rows


def _role(info: CalendarInfo, calendars: list[CalendarInfo], login: CalDavLogin) -> str:
    """The hiring calendar is two-way; every other calendar is read for availability."""
    if login.dedicated_calendar:
        return "dedicated" if info is calendars[-1] else "external"
    return "primary" if info is calendars[0] else "external"


def _synced(account: CalendarAccount, info: CalendarInfo, role: str) -> SyncedCalendar:
    return SyncedCalendar(
        id=uuid.uuid4(),
        organization_id=account.organization_id,
        account_id=account.id,
        user_id=account.user_id,
        remote_id=info.href,
        name=info.display_name or info.href.rstrip("/").rsplit("/", 1)[-1],
        role=role,
        direction="pull" if role == "external" else "both",
        state="initial",
        failures=0,
        initial_done=0,
        ctag=info.ctag,
        # The first run is queued by whoever connects; polling takes over after it.
        next_poll_at=datetime.now(UTC) + timedelta(minutes=5),
    )
