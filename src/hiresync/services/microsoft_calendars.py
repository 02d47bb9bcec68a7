"""A person's Microsoft 365 calendar synchronized through the company connection (issue #6).

When the organization has connected Microsoft 365 (admin consent, app-only tokens), a team
member matched to a mailbox of the directory can "Start synchronization" without signing in
again: ``start_company_sync`` records a company-scoped ``CalendarAccount`` for that mailbox
(its address, and its Graph user id in ``username``: Graph addresses mailboxes by id) and a
two-way ``SyncedCalendar`` for the default calendar. The caller queues its first sync and its
subscription (``calendar_sync.queue_sync``, ``calendar_subscriptions.queue_keep``).

``open_remote`` builds a run's remote side: a Graph client whose tokens come from the
organization's live connection, or — for a person who signed in with their own Microsoft
account (``scope`` personal, ``services.microsoft_accounts``) — from their delegated grant.
Either way a grant removed or refused turns into ``AuthRevoked`` inside the run (the account
says "reconnect needed", the owner is told) rather than an error before it.

A person has one live Microsoft account row: starting the company sync while a personal one
is live (or the other way round) is refused with what to stop first.

**Placement** (``interview_settings.calendar_placement``; "person" leaves it to the person's
choice when they start): interviews go to the default calendar (role "primary", two-way), or
to a dedicated calendar hiresync creates in the mailbox, named ``dedicated_calendar_name``
(role "dedicated", two-way; ``dedicated_calendar`` re-uses one of that name rather than make
a second: Outlook refuses two folders of one name anyway, 409 ``ErrorFolderExists``). The
default calendar is then read only (role "external", direction "pull"), so the person's own
meetings still count in their availability. Both are synced and subscribed; stopping deletes
the dedicated calendar once hiresync's events are out of it and nothing else is
(``delete_if_empty``); deleted in Outlook, its next run disables it and tells the owner
(``calendar_sync._calendar_gone``, on the ``NotFound`` Graph answers for it).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import certifi
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.errors import AuthRevoked, Conflict, NotFound, ProviderError
from hiresync.providers.microsoft.client import GraphClient, TokenGetter, user_path
from hiresync.providers.microsoft.sync_side import GraphRemote
from hiresync.runtime import Runtime
from hiresync.services import connections, directory, interview_settings
from hiresync.services.errors import AlreadyExists, InvalidInput, NotConnected, UpstreamError
from hiresync.store.tables import (
    CalendarAccount,
    CalendarItem,
    Connection,
    DirectoryEntry,
    DirectoryMatch,
    SyncedCalendar,
    User,
)

MICROSOFT = "microsoft"
COMPANY = "company"
PERSONAL = "personal"
HIRING_ROLES = ("primary", "dedicated")
Close = Callable[[], Awaitable[None]]


def graph_client(runtime: Runtime, connection: Connection | None) -> GraphClient:
    """A Graph client on ``connection``'s app-only tokens; with no live connection every
    call raises ``AuthRevoked`` (said where the person sees it, not swallowed)."""
    if connection is None or connection.status == "disconnected":

        async def refused(force_refresh: bool = False) -> str:
            raise AuthRevoked(
                "The organization's Microsoft 365 connection was removed.", provider=MICROSOFT
            )

        get_token = refused
    else:
        get_token = connections.token_for(runtime, connection)
    return client_with(runtime, get_token)


def client_with(runtime: Runtime, get_token: TokenGetter) -> GraphClient:
    """A Graph client of this deployment (URL, timeout, concurrency, CA) on ``get_token``."""
    settings = runtime.settings
    return GraphClient(
        graph_url=settings.microsoft_graph_url,
        get_token=get_token,
        timeout=settings.microsoft_timeout_seconds,
        max_concurrency=settings.microsoft_max_concurrency,
        transport=httpx.AsyncHTTPTransport(verify=_tls()),
    )


async def account_client(runtime: Runtime, account: CalendarAccount) -> GraphClient:
    """A Graph client on whatever grant reaches ``account``'s mailbox: the person's own
    (delegated) or the organization's live connection (app-only)."""
    if account.scope == PERSONAL:
        from hiresync.services import microsoft_accounts  # it imports this module

        return client_with(runtime, microsoft_accounts.token_getter(runtime, account.id))
    async with runtime.db.sessions() as session:
        connection = await directory.live_connection(session, account.organization_id)
    return graph_client(runtime, connection)


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One TLS context per process (the CA bundle httpx would load): building it is most of
    what a new client costs, and every run of every synced calendar opens one."""
    return ssl.create_default_context(cafile=certifi.where())


async def _mailbox(session: AsyncSession, user: User) -> tuple[str, str]:
    """The person's mailbox address and Graph id, from the directory match."""
    row = (
        await session.execute(
            select(DirectoryMatch.mailbox, DirectoryEntry.external_id)
            .join(DirectoryEntry, DirectoryEntry.id == DirectoryMatch.entry_id)
            .where(
                DirectoryMatch.organization_id == user.organization_id,
                DirectoryMatch.user_id == user.id,
            )
        )
    ).first()
    if row is None:
        raise InvalidInput(
            f"{user.email} has no mailbox in the connected Microsoft 365 directory.",
            hint="Check the address, or ask IT whether this person has a mailbox.",
        )
    return row.mailbox, row.external_id


async def _default_calendar(runtime: Runtime, connection: Connection, mailbox_id: str) -> dict:
    client = graph_client(runtime, connection)
    try:
        return await client.request(
            "GET", user_path(mailbox_id, "calendar"), params={"$select": "id,name"}
        )
    except ProviderError as exc:
        raise said_upstream(exc) from exc
    finally:
        await client.aclose()


async def placement(session: AsyncSession, user: User, chosen: bool | None = None) -> str | None:
    """The name of the dedicated calendar the organization's rule (or, when it leaves that to
    each person, their ``chosen``) puts interviews in; None: the default calendar."""
    rules = await interview_settings.load(session, user.organization_id)
    wanted = rules.calendar_placement == "dedicated" or (
        rules.calendar_placement == "person" and bool(chosen)
    )
    return rules.dedicated_calendar_name if wanted else None


def _named(calendars: list[dict], name: str) -> dict | None:
    """A calendar other than the default one with this name (Outlook compares folder names
    without case)."""
    key = name.strip().lower()
    return next(
        (
            c
            for c in calendars
            if not c.get("isDefaultCalendar") and str(c.get("name") or "").strip().lower() == key
        ),
        None,
    )


async def dedicated_calendar(client: GraphClient, mailbox: str, name: str) -> dict:
    """The mailbox's calendar called ``name``, created when it has none: never a second one
    (starting twice, after a stop that kept it, or a create whose answer was lost)."""
    found = _named(await client.list_calendars(mailbox), name)
    if found is not None:
        return found
    try:
        return await client.create_calendar(mailbox, name)
    except Conflict as exc:  # made meanwhile, or the name is the default calendar's
        found = _named(await client.list_calendars(mailbox), name)
        if found is None:
            raise InvalidInput(
                f"Outlook refused to create the calendar {name!r}: {exc.message}",
                hint="An admin gives the dedicated calendar another name in Settings › Interviews.",
            ) from exc
        return found


def said_upstream(exc: ProviderError) -> Exception:
    """A Graph failure while starting, as the person should read it."""
    if isinstance(exc, AuthRevoked):
        return NotConnected(
            f"Microsoft refused hiresync's access: {exc.message}",
            hint="An admin reconnects in Settings › Calendar sync.",
        )
    if isinstance(exc, NotFound):
        return InvalidInput(f"This mailbox has no calendar: {exc.message}")
    return UpstreamError(
        f"Microsoft 365 did not answer: {exc.message}", hint="Try again in a minute."
    )


async def _dedicated(runtime: Runtime, connection: Connection, mailbox_id: str, name: str) -> dict:
    client = graph_client(runtime, connection)
    try:
        return await dedicated_calendar(client, mailbox_id, name)
    except ProviderError as exc:
        raise said_upstream(exc) from exc
    finally:
        await client.aclose()


def calendar_rows(
    account: CalendarAccount, default: Mapping[str, Any], dedicated: Mapping[str, Any] | None
) -> list[SyncedCalendar]:
    """The account's calendars, the hiring one first: the default calendar two-way
    ("primary"), or the dedicated one two-way and the default one read for availability."""

    def row(found: Mapping[str, Any], role: str) -> SyncedCalendar:
        return SyncedCalendar(
            id=uuid.uuid4(),
            organization_id=account.organization_id,
            account_id=account.id,
            user_id=account.user_id,
            remote_id=str(found["id"]),
            name=str(found.get("name") or "Calendar"),
            role=role,
            direction="pull" if role == "external" else "both",
            state="initial",
            failures=0,
            initial_done=0,
        )

    if dedicated is None:
        return [row(default, "primary")]
    return [row(dedicated, "dedicated"), row(default, "external")]


async def start_company_sync(
    runtime: Runtime, session: AsyncSession, user: User, *, dedicated: bool | None = None
) -> SyncedCalendar:
    """Keep ``user``'s Outlook calendar in step with hiresync through the company connection:
    the default calendar two-way, or (see ``placement``; ``dedicated`` is the person's choice)
    a dedicated one, with the default one read-only. Returns the hiring calendar; starting
    again returns the one already kept (an account that needed reconnecting is active
    again)."""
    connection = await directory.live_connection(session, user.organization_id)
    if connection is None:
        raise NotConnected(
            "No Microsoft 365 connection for this organization.",
            hint="An admin connects one in Settings › Calendar sync.",
        )
    address, mailbox_id = await _mailbox(session, user)
    kept = await _kept(session, user)
    if kept is not None and kept[0].scope == PERSONAL:
        raise AlreadyExists(
            f"Your Outlook calendar is already synchronized with {kept[0].address}, with your "
            "own Microsoft sign-in.",
            hint="Stop that synchronization first to use the company connection instead.",
        )
    if kept is not None:
        account, calendar = kept
        account.status, account.last_error, account.connection_id = "active", None, connection.id
        return calendar
    found = await _default_calendar(runtime, connection, mailbox_id)
    name = await placement(session, user, dedicated)
    made = await _dedicated(runtime, connection, mailbox_id, name) if name else None
    account = _new_account(user, connection, address, mailbox_id)
    session.add(account)
    await session.flush()
    calendars = calendar_rows(account, found, made)
    session.add_all(calendars)
    await session.flush()
    return calendars[0]


def _new_account(
    user: User, connection: Connection, address: str, mailbox_id: str
) -> CalendarAccount:
    """The company-scoped account of the mailbox."""
    return CalendarAccount(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        provider=MICROSOFT,
        scope=COMPANY,
        connection_id=connection.id,
        address=address,
        username=mailbox_id,
        status="active",
    )


async def _kept(session: AsyncSession, user: User) -> tuple[CalendarAccount, SyncedCalendar] | None:
    """The person's live Microsoft account (either scope) with its hiring calendar."""
    account = await session.scalar(
        select(CalendarAccount).where(
            CalendarAccount.organization_id == user.organization_id,
            CalendarAccount.user_id == user.id,
            CalendarAccount.provider == MICROSOFT,
            CalendarAccount.status != "disconnected",
        )
    )
    if account is None:
        return None
    calendar = await session.scalar(
        select(SyncedCalendar).where(
            SyncedCalendar.account_id == account.id, SyncedCalendar.role.in_(HIRING_ROLES)
        )
    )
    return (account, calendar) if calendar is not None else None


async def open_remote(
    runtime: Runtime, account: CalendarAccount, calendar: SyncedCalendar
) -> tuple[GraphRemote, Close]:
    """The remote side of one run, over the account's grant (``account_client``)."""
    client = await account_client(runtime, account)
    mailbox = account.username or account.address

    async def instances_of(series: Sequence[str]) -> Mapping[str, Sequence[str]]:
        return await held_instances(runtime, calendar.id, series)

    # The default calendar is reached by the mailbox's own routes; another by its id.
    calendar_id = None if calendar.role == "primary" else calendar.remote_id
    remote = GraphRemote(
        client, mailbox, account.address, calendar_id=calendar_id, instances_of=instances_of
    )
    return remote, client.aclose


async def delete_if_empty(
    runtime: Runtime, account: CalendarAccount, calendar: SyncedCalendar
) -> str | None:
    """Delete the dedicated calendar if it holds no event (any date: ``…/events`` lists
    singles and series masters whatever their time, unlike the synced window). None when it
    is deleted now, "" when it was gone already, else why it is kept."""
    client = await account_client(runtime, account)
    mailbox = account.username or account.address
    events = user_path(mailbox, "calendars", quote(calendar.remote_id, safe=""), "events")
    try:
        held = await client.request("GET", events, params={"$select": "id", "$top": "1"})
        if (held or {}).get("value"):
            return f"The calendar {calendar.name!r} is kept: it holds events of yours."
        await client.delete_calendar(mailbox, calendar.remote_id)
    except NotFound:
        return ""  # deleted already (in Outlook)
    except ProviderError as exc:
        return f"The calendar {calendar.name!r} is kept: {exc.message}"
    finally:
        await client.aclose()
    return None


async def held_instances(
    runtime: Runtime, calendar_id: uuid.UUID, series: Sequence[str]
) -> dict[str, list[str]]:
    """Graph ids of the instances of these series that the copy holds, by series."""
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(CalendarItem.data["series"].astext, CalendarItem.remote_ident).where(
                CalendarItem.calendar_id == calendar_id,
                CalendarItem.remote_ident.is_not(None),
                CalendarItem.data["series"].astext.in_(list(series)),
            )
        )
    found: dict[str, list[str]] = {}
    for master_id, ident in rows:
        found.setdefault(master_id, []).append(ident)
    return found
