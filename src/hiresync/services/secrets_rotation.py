"""Re-encrypt every stored secret with the active key, after adding a new one.

The keyring file is written first (old keys kept) and the secrets re-sealed in one
transaction after, so a crash at any point leaves every secret readable.
"""

from __future__ import annotations

from sqlalchemy import select

from hiresync.runtime import Runtime
from hiresync.services.calendar_remotes import secret_context as calendar_secret_context
from hiresync.services.meeting_accounts import state_context, token_context
from hiresync.services.microsoft_accounts import access_context
from hiresync.services.webhooks import secret_context
from hiresync.store.crypto import Keyring, save_keyring
from hiresync.store.tables import (
    CalendarAccount,
    Credential,
    MeetingAccount,
    OAuthState,
    WebhookEndpoint,
)


def _context(row: Credential) -> str:
    return f"connection:{row.connection_id}:{row.kind}"


async def reseal_all(runtime: Runtime) -> int:
    """Re-seal every secret not yet under the active key; returns how many changed."""
    ring = runtime.keyring
    changed = 0
    async with runtime.db.transaction() as session:
        for row in await session.scalars(select(Credential).with_for_update()):
            if row.key_id == ring.active:
                continue
            row.sealed = ring.seal(
                ring.open(row.sealed, context=_context(row)), context=_context(row)
            )
            row.key_id = ring.active
            changed += 1
        for endpoint in await session.scalars(select(WebhookEndpoint).with_for_update()):
            if endpoint.key_id == ring.active:
                continue
            context = secret_context(endpoint.id)
            endpoint.sealed = ring.seal(
                ring.open(endpoint.sealed, context=context), context=context
            )
            endpoint.key_id = ring.active
            changed += 1
        for account in await session.scalars(select(MeetingAccount).with_for_update()):
            if account.key_id in (None, ring.active):
                continue  # no tokens (disconnected), or already under the active key
            for kind in ("access", "refresh"):
                column = f"{kind}_sealed"
                sealed = getattr(account, column)
                if sealed:
                    setattr(account, column, _reseal(ring, sealed, token_context(account.id, kind)))
            account.key_id = ring.active
            changed += 1
        for calendar in await session.scalars(select(CalendarAccount).with_for_update()):
            # A CalDAV app password, or a Microsoft sign-in's refresh and access tokens.
            if calendar.key_id in (None, ring.active):
                continue
            if calendar.secret_sealed:
                calendar.secret_sealed = _reseal(
                    ring, calendar.secret_sealed, calendar_secret_context(calendar.id)
                )
            if calendar.access_sealed:
                calendar.access_sealed = _reseal(
                    ring, calendar.access_sealed, access_context(calendar.id)
                )
            calendar.key_id = ring.active
            changed += 1
        for state in await session.scalars(select(OAuthState).with_for_update()):
            if state.key_id == ring.active:
                continue
            context = state_context(state.state_hash)
            state.verifier_sealed = _reseal(ring, state.verifier_sealed, context)
            state.key_id = ring.active
            changed += 1
    return changed


def _reseal(ring: Keyring, sealed: str, context: str) -> str:
    return ring.seal(ring.open(sealed, context=context), context=context)


async def rotate(runtime: Runtime) -> int:
    """Add a fresh active key to the key file, then re-seal everything with it."""
    runtime.keyring = runtime.keyring.with_new_active_key()
    save_keyring(runtime.settings.keys_dir, runtime.keyring)
    return await reseal_all(runtime)
