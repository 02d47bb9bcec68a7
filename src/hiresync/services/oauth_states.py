"""The ``state`` of a person's OAuth round trip (Zoom's connect, Microsoft's sign-in), and the
access tokens a provider client asks for: what every user-managed OAuth here shares.

A state is single-use, lives ten minutes, is bound to the user and the browser that started
it (only hashes are stored) and carries a sealed secret — the PKCE verifier, or the whole
MSAL flow — until the callback claims it. A claim is committed whatever happens next, so an
answer replayed later is refused even when the first use failed further on.

``held_token_getter`` is the token callable provider clients receive: it hands out the token
it last saw while fresh, else reads the stored one, else asks the caller's ``refresh`` (which
locks the account row, so two workers refreshing at once use one refresh and never lose the
rotated refresh token).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.base import TokenGetter
from hiresync.runtime import Runtime
from hiresync.services.errors import ServiceError
from hiresync.store.tables import OAuthState, Organization, User

STATE_TTL = timedelta(minutes=10)
EARLY = timedelta(minutes=5)  # refresh an access token this long before it expires


class ConnectRefused(ServiceError):
    """The OAuth round trip cannot complete: bad or reused state, cancelled, code refused."""

    status = 400
    code = "connect_refused"


@dataclass(frozen=True, slots=True)
class Words:
    """How a provider's round trip is named in refusals: ``Zoom``/``Connect Zoom``."""

    provider: str
    button: str
    start_again: str


@dataclass(frozen=True, slots=True)
class LinkedElsewhere:
    """Where a provider login already in use is linked, in the words a refusal uses."""

    owner_email: str
    org_name: str
    where: str  # "ann@x in this organization (Acme)" or "ann@x in Globex"


async def linked_elsewhere(
    session: AsyncSession, me: User, org_id: object, user_id: object
) -> LinkedElsewhere:
    """Name the hiring account (``org_id``, ``user_id``) a login is linked to, for ``me``."""
    owner = await session.get(User, user_id)
    org = await session.get(Organization, org_id)
    owner_email = owner.email if owner else "another team member"
    org_name = org.name if org else "another organization"
    where = (
        f"{owner_email} in this organization ({org_name})"
        if org_id == me.organization_id
        else f"{owner_email} in {org_name}"
    )
    return LinkedElsewhere(owner_email, org_name, where)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def state_context(state_hash: str) -> str:
    """What a sealed verifier is bound to: its OAuth attempt."""
    return f"oauth_state:{state_hash}"


def fresh(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at - EARLY > datetime.now(UTC)


async def begin(
    runtime: Runtime,
    session: AsyncSession,
    user: User,
    provider: str,
    browser: str,
    secret: str,
    state: str | None = None,
) -> str:
    """Store a new attempt for ``user`` in this browser with its sealed ``secret``; returns
    its state (``state`` when the caller made one already)."""
    state = state or new_state()
    state_hash, now = digest(state), datetime.now(UTC)
    await session.execute(delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1)))
    session.add(
        OAuthState(
            organization_id=user.organization_id,
            user_id=user.id,
            provider=provider,
            state_hash=state_hash,
            browser_hash=digest(browser),
            verifier_sealed=runtime.keyring.seal(secret, context=state_context(state_hash)),
            key_id=runtime.keyring.active,
            expires_at=now + STATE_TTL,
        )
    )
    await session.flush()
    return state


def new_state() -> str:
    return secrets.token_urlsafe(32)


async def claim(
    runtime: Runtime,
    user: User,
    browser: str,
    state: str | None,
    providers: tuple[str, ...],
    words: Words,
) -> tuple[str, str]:
    """(provider, secret) of this state, which is marked used (committed, whatever happens
    next); the secret is "" when the attempt expired. Forged, foreign, other-provider and
    replayed states are refused."""
    if not state or len(state) > 200:
        raise ConnectRefused(
            f"{words.provider}'s answer carries no valid state.", hint=words.start_again
        )
    async with runtime.db.transaction() as session:
        row = await session.scalar(
            select(OAuthState)
            .where(OAuthState.state_hash == digest(state), OAuthState.provider.in_(providers))
            .with_for_update()
        )
        if row is None or row.user_id != user.id or row.organization_id != user.organization_id:
            raise ConnectRefused(
                f"This {words.provider} answer does not belong to a connection you started.",
                hint=words.start_again,
            )
        if row.used_at is not None:
            raise ConnectRefused(
                f"This {words.provider} answer was already used; each sign-in completes once.",
                hint=words.start_again,
            )
        if row.browser_hash != digest(browser):
            raise ConnectRefused(
                "This connection was started in another browser.",
                hint=f"Finish it in the browser where you clicked {words.button}, or start again.",
            )
        row.used_at = datetime.now(UTC)
        if row.expires_at < row.used_at:
            return row.provider, ""
        secret = runtime.keyring.open(row.verifier_sealed, context=state_context(row.state_hash))
        return row.provider, secret


Stored = Callable[[], Awaitable[tuple[str | None, datetime | None]]]
Refresh = Callable[[bool, str | None], Awaitable[tuple[str, datetime]]]


def held_token_getter(stored: Stored, refresh: Refresh) -> TokenGetter:
    """The token callable of a client: ``stored()`` reads the account's current token (and
    raises ``AuthRevoked`` when the account is unusable); ``refresh(force, rejected)``
    refreshes under the row lock. ``force_refresh`` comes after the provider refused the
    token this getter handed out (``rejected``): a token someone else stored since is used."""
    held: list[tuple[str, datetime]] = []  # the token this getter last handed out

    async def get_token(force_refresh: bool) -> str:
        if held and not force_refresh and fresh(held[0][1]):
            return held[0][0]
        if not force_refresh:
            token, expires = await stored()
            if token and expires is not None and fresh(expires):
                held[:] = [(token, expires)]
                return token
        rejected = held[0][0] if held and force_refresh else None
        token, expires = await refresh(force_refresh, rejected)
        held[:] = [(token, expires)]
        return token

    return get_token
