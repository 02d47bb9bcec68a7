"""Organization-scoped API keys: ``hs_<prefix>_<secret>``; only a hash of the secret is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.services import validation
from hiresync.services.errors import NotFound
from hiresync.store.tables import ApiKey


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create(session: AsyncSession, org_id: uuid.UUID, name: str) -> tuple[ApiKey, str]:
    """A new key; the plaintext is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        organization_id=org_id,
        name=validation.name(name),
        prefix=prefix,
        secret_hash=_digest(secret),
    )
    session.add(key)
    await session.flush()
    return key, f"hs_{prefix}_{secret}"


async def authenticate(session: AsyncSession, token: str) -> ApiKey | None:
    """The live key this token belongs to, or None (malformed, unknown, revoked)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "hs":
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _digest(parts[2])):
        return None
    key.last_used_at = datetime.now(UTC)
    return key


async def list_keys(session: AsyncSession, org_id: uuid.UUID) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.organization_id == org_id).order_by(ApiKey.created_at)
    )
    return list(rows)


async def revoke(session: AsyncSession, org_id: uuid.UUID, prefix: str) -> ApiKey:
    key = await session.scalar(
        select(ApiKey).where(ApiKey.organization_id == org_id, ApiKey.prefix == prefix)
    )
    if key is None:
        raise NotFound(f"No API key {prefix!r} in this organization.")
    key.revoked_at = key.revoked_at or datetime.now(UTC)
    return key
