"""Connect a company's calendar system once, keep its directory current, disconnect.

The admin-consent round trip is protected by a single-use ``state`` bound to the
browser that started it (a hash of both is stored, never the values). When the person
who clicked is not an admin of the company's Microsoft tenant, they get a share link
for their IT admin; opening it starts a fresh consent in the IT admin's browser, for
the same hiring organization, and the connection completes when that admin accepts.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.base import ConsentOutcome, ConsentStatus
from hiresync.providers.errors import AuthRevoked, ProviderError, UnsupportedCloud
from hiresync.runtime import Runtime
from hiresync.services import directory, tokens
from hiresync.services.errors import ConsentFailed, Forbidden, NotConnected, NotFound
from hiresync.store.tables import (
    Connection,
    ConsentRequest,
    Credential,
    DirectoryEntry,
    DirectoryMatch,
    User,
)

log = structlog.get_logger(__name__)
STATE_TTL = timedelta(minutes=15)
LINK_TTL = timedelta(days=7)
CALLBACK_PATH = "/oauth/microsoft/callback"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def require_admin(user: User) -> None:
    if user.role != "admin":
        raise Forbidden(
            "Only an admin of this hiring organization can connect or disconnect calendars.",
            hint="Ask one of your organization's admins to do it.",
        )


async def _new_state(
    session: AsyncSession, org_id: uuid.UUID, browser: str, requested_by: uuid.UUID | None, via: str
) -> str:
    state = secrets.token_urlsafe(32)
    session.add(
        ConsentRequest(
            organization_id=org_id,
            provider="microsoft",
            state_hash=digest(state),
            browser_hash=digest(browser),
            requested_by=requested_by,
            via=via,
            expires_at=datetime.now(UTC) + STATE_TTL,
        )
    )
    await session.flush()
    return state


async def start_consent(runtime: Runtime, session: AsyncSession, admin: User, browser: str) -> str:
    """The provider's admin-consent URL for ``admin``'s organization."""
    require_admin(admin)
    state = await _new_state(session, admin.organization_id, browser, admin.id, "admin")
    redirect = runtime.settings.base_url + CALLBACK_PATH
    return runtime.calendar("microsoft").admin_consent_url(redirect, state)


async def share_link(
    runtime: Runtime, session: AsyncSession, org_id: uuid.UUID, requested_by: uuid.UUID | None
) -> str:
    """A link to send to the company's Outlook admin; valid for a week, reusable until then."""
    token = secrets.token_urlsafe(24)
    session.add(
        ConsentRequest(
            organization_id=org_id,
            provider="microsoft",
            link_hash=digest(token),
            requested_by=requested_by,
            via="shared_link",
            expires_at=datetime.now(UTC) + LINK_TTL,
        )
    )
    await session.flush()
    return f"{runtime.settings.base_url}/connect/microsoft/{token}"


async def start_from_link(runtime: Runtime, session: AsyncSession, token: str, browser: str) -> str:
    """Begin consent for whoever opened a share link (the IT admin, not logged in here)."""
    link = await session.scalar(
        select(ConsentRequest).where(ConsentRequest.link_hash == digest(token))
    )
    if link is None or link.expires_at < datetime.now(UTC):
        raise ConsentFailed(
            "This connect link is not valid or has expired.",
            hint="Ask the person who sent it to open Settings › Calendar sync and send a new one.",
        )
    state = await _new_state(
        session, link.organization_id, browser, link.requested_by, "shared_link"
    )
    redirect = runtime.settings.base_url + CALLBACK_PATH
    return runtime.calendar("microsoft").admin_consent_url(redirect, state)


@dataclass(frozen=True)
class ConsentResult:
    """What the callback page shows."""

    organization_id: uuid.UUID
    outcome: ConsentOutcome
    via: str
    connection: Connection | None = None
    share_link: str | None = None
    unsupported_cloud: str | None = None
    problem: str | None = None


async def _claim_state(session: AsyncSession, state: str | None, browser: str) -> ConsentRequest:
    """The pending request this state belongs to, marked used; refuses forged, foreign,
    expired and replayed states."""
    if not state or len(state) > 200:
        raise ConsentFailed(
            "The sign-in answer carries no valid state.",
            hint="Start the connection again from Settings › Calendar sync.",
        )
    request = await session.scalar(
        select(ConsentRequest).where(ConsentRequest.state_hash == digest(state)).with_for_update()
    )
    if request is None:
        raise ConsentFailed(
            "This sign-in answer does not belong to any connection we started.",
            hint="Start the connection again from Settings › Calendar sync.",
        )
    if request.used_at is not None:
        raise ConsentFailed(
            "This sign-in answer was already used.",
            hint="Each sign-in can complete once; start again if you need to.",
        )
    if request.browser_hash != digest(browser):
        raise ConsentFailed(
            "This sign-in was started in another browser.",
            hint="Finish it in the browser where you clicked Connect, or start again here.",
        )
    request.used_at = datetime.now(UTC)
    if request.expires_at < request.used_at:
        request.outcome = "expired"
        raise ConsentFailed(
            "This sign-in took too long and has expired.", hint="Start the connection again."
        )
    return request


async def complete_consent(runtime: Runtime, params: dict[str, str], browser: str) -> ConsentResult:
    """Handle the provider's redirect back: claim the state, then act on the outcome."""
    calendar = runtime.calendar("microsoft")
    async with runtime.db.transaction() as session:
        request = await _claim_state(session, params.get("state"), browser)
        outcome = calendar.read_consent_callback(params)
        request.outcome, request.error_code = outcome.status.value, outcome.error_code
        org_id, via, requested_by = request.organization_id, request.via, request.requested_by
        if outcome.status is ConsentStatus.NOT_ADMIN:
            link = await share_link(runtime, session, org_id, requested_by)
            return ConsentResult(org_id, outcome, via, share_link=link)
    if outcome.status is not ConsentStatus.GRANTED or not outcome.tenant_id:
        return ConsentResult(org_id, outcome, via)
    try:
        cloud = await calendar.check_cloud(outcome.tenant_id)
        issued = await calendar.app_token(outcome.tenant_id, force_refresh=True)
    except UnsupportedCloud as exc:
        return ConsentResult(org_id, outcome, via, unsupported_cloud=exc.cloud, problem=exc.message)
    except ProviderError as exc:
        return ConsentResult(org_id, outcome, via, problem=exc.message)
    async with runtime.db.transaction() as session:
        connection = await activate_connection(
            session, org_id, outcome.tenant_id, cloud, via, requested_by
        )
        await defer_in_transaction(
            runtime.jobs,
            session,
            "refresh_directory",
            args={"organization_id": str(org_id)},
            queueing_lock=f"directory:{org_id}",
            lock=f"directory:{org_id}",
        )
    await tokens.save_token(
        runtime.db, runtime.keyring, org_id, connection.id, issued.access_token, issued.expires_at
    )
    log.info("company calendar connected", organization_id=str(org_id), tenant=outcome.tenant_id)
    return ConsentResult(org_id, outcome, via, connection=connection)


async def activate_connection(
    session: AsyncSession,
    org_id: uuid.UUID,
    tenant_id: str,
    cloud: str,
    via: str,
    requested_by: uuid.UUID | None,
) -> Connection:
    """Make this tenant the organization's live connection (idempotent per tenant)."""
    live = await directory.live_connection(session, org_id)
    if live is not None and live.tenant_id == tenant_id:
        live.status, live.last_error, live.cloud = "active", None, cloud
        return live
    if live is not None:
        await tear_down(session, live)
    connection = Connection(
        organization_id=org_id,
        provider="microsoft",
        status="active",
        tenant_id=tenant_id,
        cloud=cloud,
        connected_by=requested_by,
        consented_by=via,
    )
    session.add(connection)
    await session.flush()
    return connection


async def tear_down(session: AsyncSession, connection: Connection) -> None:
    """Forget the tokens and the directory copy of a connection; keep the row for history.

    The row is locked first: ``tokens.save_token`` holds a share lock while it writes, so a
    token being stored by a running job is deleted here, not left behind."""
    await session.execute(
        select(Connection.id).where(Connection.id == connection.id).with_for_update()
    )
    await session.execute(delete(Credential).where(Credential.connection_id == connection.id))
    await session.execute(
        delete(DirectoryMatch).where(DirectoryMatch.organization_id == connection.organization_id)
    )
    await session.execute(
        delete(DirectoryEntry).where(DirectoryEntry.connection_id == connection.id)
    )
    connection.status = "disconnected"
    connection.disconnected_at = datetime.now(UTC)
    connection.directory_size = 0
    await session.flush()


async def disconnect(session: AsyncSession, admin: User) -> Connection:
    require_admin(admin)
    connection = await directory.live_connection(session, admin.organization_id)
    if connection is None:
        raise NotConnected("No calendar system is connected.")
    await tear_down(session, connection)
    return connection


async def get_connection(
    session: AsyncSession, org_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection:
    connection = await session.scalar(
        select(Connection).where(
            Connection.organization_id == org_id, Connection.id == connection_id
        )
    )
    if connection is None:
        raise NotFound(f"No connection {connection_id} in this organization.")
    return connection


def token_for(runtime: Runtime, connection: Connection) -> tokens.TokenGetter:
    return tokens.token_getter(
        runtime.db,
        runtime.keyring,
        runtime.calendar(connection.provider),
        connection.organization_id,
        connection.id,
        connection.tenant_id,
        runtime.tokens,
    )


async def mark_broken(runtime: Runtime, connection_id: uuid.UUID, message: str) -> None:
    """Record that the provider refused us, so the admin sees "reconnect needed" at once."""
    async with runtime.db.transaction() as session:
        connection = await session.get(Connection, connection_id)
        if connection is not None and connection.status != "disconnected":
            connection.status, connection.last_error = "error", message
    log.warning("connection broken", connection_id=str(connection_id), reason=message)


async def refresh_directory(runtime: Runtime, org_id: uuid.UUID) -> int:
    """Read the whole directory, store it and rematch the team; returns its size."""
    async with runtime.db.sessions() as session:
        connection = await directory.live_connection(session, org_id)
    if connection is None or connection.status == "disconnected":
        return 0
    source = runtime.calendar(connection.provider).directory(
        connection.tenant_id, token_for(runtime, connection)
    )
    try:
        users = await source.list_users()
    except AuthRevoked as exc:
        await mark_broken(runtime, connection.id, exc.message)
        return 0
    async with runtime.db.transaction() as session:
        current = await session.get(Connection, connection.id, with_for_update=True)
        if current is None or current.status == "disconnected":
            return 0  # disconnected while we were reading: store nothing
        current.status, current.last_error = "active", None
        await directory.store_directory(session, current, users)
    await _refresh_statistics(runtime)
    return len(users)


async def _refresh_statistics(runtime: Runtime) -> None:
    """Let the query planner know the directory just changed wholesale.

    A first refresh writes thousands of rows at once; until autovacuum notices, the
    planner believes the tables are nearly empty and joins them row by row, which turns
    the free/busy lookup of a thousand people from a millisecond into tens of them.
    """
    try:
        async with runtime.db.transaction() as session:
            await session.execute(text("ANALYZE users, directory_entries, directory_matches"))
    except DBAPIError as exc:  # e.g. a database user that may not analyze: only slower
        log.warning("directory.analyze_skipped", error=str(exc.orig or exc))


async def queue_stale_directory_refreshes(runtime: Runtime) -> int:
    """Queue a refresh for every live connection whose copy is older than the setting."""
    cutoff = datetime.now(UTC) - timedelta(minutes=runtime.settings.directory_refresh_minutes)
    queued = 0
    async with runtime.db.transaction() as session:
        rows = await session.scalars(select(Connection).where(Connection.status == "active"))
        for connection in rows:
            if connection.directory_refreshed_at and connection.directory_refreshed_at > cutoff:
                continue
            org = str(connection.organization_id)
            job = await defer_in_transaction(
                runtime.jobs,
                session,
                "refresh_directory",
                args={"organization_id": org},
                queueing_lock=f"directory:{org}",
                lock=f"directory:{org}",
            )
            queued += job is not None
    return queued
