"""App-only access tokens, kept encrypted in the database so every worker shares one.

A token is reused until five minutes before it expires; ``force_refresh`` (after a
401 from the provider) fetches a new one regardless. Each process also keeps the tokens
it has read in memory (``TokenMemo``, by connection), so a burst of jobs does not read and
decrypt the same token once per job; a job checks its connection is live before it
asks for a token, so a disconnected connection's token is never used. Two workers refreshing at once
both get valid tokens, and the last write wins, which is harmless for app-only tokens.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from hiresync.providers.base import CompanyCalendar, TokenGetter
from hiresync.providers.errors import AuthRevoked
from hiresync.store.crypto import Keyring
from hiresync.store.db import Database
from hiresync.store.tables import Connection, Credential

ACCESS_TOKEN = "app_access_token"  # noqa: S105 - a credential kind, not a secret
_EARLY = timedelta(minutes=5)


TokenMemo = dict[uuid.UUID, tuple[str, datetime]]


def _context(connection_id: uuid.UUID) -> str:
    return f"connection:{connection_id}:{ACCESS_TOKEN}"


async def save_token(
    db: Database,
    keyring: Keyring,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    token: str,
    expires_at: datetime,
) -> bool:
    """Store the connection's token; False (nothing stored) once it is disconnected.

    The connection row is locked (FOR SHARE) while writing, and disconnecting locks it
    FOR UPDATE before deleting tokens, so a token fetched by a job that was already
    running can never reappear after a disconnect.
    """
    sealed = keyring.seal(token, context=_context(connection_id))
    values = {
        "organization_id": org_id,
        "connection_id": connection_id,
        "kind": ACCESS_TOKEN,
        "sealed": sealed,
        "key_id": keyring.active,
        "expires_at": expires_at,
    }
    stmt = insert(Credential).values(id=uuid.uuid4(), **values)
    async with db.transaction() as session:
        status = await session.scalar(
            select(Connection.status)
            .where(Connection.id == connection_id)
            .with_for_update(read=True)
        )
        if status is None or status == "disconnected":
            return False
        await session.execute(
            stmt.on_conflict_do_update(
                constraint="uq_credentials_conn_kind",
                set_={k: stmt.excluded[k] for k in ("sealed", "key_id", "expires_at")},
            )
        )
    return True


def token_getter(
    db: Database,
    keyring: Keyring,
    calendar: CompanyCalendar,
    org_id: uuid.UUID,
    connection_id: uuid.UUID,
    tenant_id: str,
    memo: TokenMemo | None = None,
) -> TokenGetter:
    """A callable the provider client uses whenever it needs a bearer token; ``memo`` is
    the process's memory of tokens (a fresh one when not given)."""

    memo = {} if memo is None else memo

    async def get_token(force_refresh: bool) -> str:
        held = memo.get(connection_id)
        if held and not force_refresh and held[1] - _EARLY > datetime.now(UTC):
            return held[0]
        if not force_refresh:
            async with db.sessions() as session:
                row = await session.scalar(
                    select(Credential).where(
                        Credential.connection_id == connection_id,
                        Credential.kind == ACCESS_TOKEN,
                    )
                )
            if row and row.expires_at and row.expires_at - _EARLY > datetime.now(UTC):
                token = keyring.open(row.sealed, context=_context(connection_id))
                memo[connection_id] = (token, row.expires_at)
                return token
        issued = await calendar.app_token(tenant_id, force_refresh=True)
        if not await save_token(
            db, keyring, org_id, connection_id, issued.access_token, issued.expires_at
        ):
            raise AuthRevoked("This connection was disconnected.", provider=calendar.provider)
        memo[connection_id] = (issued.access_token, issued.expires_at)
        return issued.access_token

    return get_token
