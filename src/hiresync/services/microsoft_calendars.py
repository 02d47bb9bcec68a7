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
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache

import certifi
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.errors import AuthRevoked, NotFound, ProviderError
from hiresync.providers.microsoft.client import GraphClient, TokenGetter, user_path
from hiresync.providers.microsoft.sync_side import GraphRemote
from hiresync.runtime import Runtime
from hiresync.services import connections, directory
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
    except AuthRevoked as exc:
        raise NotConnected(
            f"Microsoft refused hiresync's access: {exc.message}",
            hint="An admin reconnects in Settings › Calendar sync.",
        ) from exc
    except NotFound as exc:
        raise InvalidInput(f"This mailbox has no calendar: {exc.message}") from exc
    except ProviderError as exc:
        raise UpstreamError(
            f"Microsoft 365 did not answer: {exc.message}", hint="Try again in a minute."
        ) from exc
    finally:
        await client.aclose()


async def start_company_sync(runtime: Runtime, session: AsyncSession, user: User) -> SyncedCalendar:
    """Keep ``user``'s default Outlook calendar in step with hiresync (two-way), through the
    company connection. Starting again returns the calendar already kept (an account that
    needed reconnecting is active again)."""
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
    account, calendar = _new_rows(user, connection, address, mailbox_id, found)
    session.add(account)
    await session.flush()
    session.add(calendar)
    await session.flush()
    return calendar


def _new_rows(
    user: User, connection: Connection, address: str, mailbox_id: str, found: dict
) -> tuple[CalendarAccount, SyncedCalendar]:
    """The company-scoped account of the mailbox, and its default calendar kept two-way."""
    account = CalendarAccount(
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
    calendar = SyncedCalendar(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        account_id=account.id,
        user_id=user.id,
        remote_id=str(found["id"]),
        name=str(found.get("name") or "Calendar"),
        role="primary",
        direction="both",
        state="initial",
        failures=0,
        initial_done=0,
    )
    return account, calendar


async def _kept(session: AsyncSession, user: User) -> tuple[CalendarAccount, SyncedCalendar] | None:
    """The person's live Microsoft account (either scope) with its primary calendar."""
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
            SyncedCalendar.account_id == account.id, SyncedCalendar.role == "primary"
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
