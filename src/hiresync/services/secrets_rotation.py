"""Re-encrypt every stored secret with the active key, after adding a new one.

The keyring file is written first (old keys kept) and the secrets re-sealed in one
transaction after, so a crash at any point leaves every secret readable.
"""

from __future__ import annotations

from sqlalchemy import select

from hiresync.runtime import Runtime
from hiresync.services.webhooks import secret_context
from hiresync.store.crypto import save_keyring
from hiresync.store.tables import Credential, WebhookEndpoint


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
    return changed


async def rotate(runtime: Runtime) -> int:
    """Add a fresh active key to the key file, then re-seal everything with it."""
    runtime.keyring = runtime.keyring.with_new_active_key()
    save_keyring(runtime.settings.keys_dir, runtime.keyring)
    return await reseal_all(runtime)
