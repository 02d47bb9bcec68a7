"""Each team member's own Zoom account: connect, disconnect, and tokens that stay valid.

Connecting is user-managed OAuth with ``state`` and PKCE: the state is single-use, lives ten
minutes, is bound to the user and the browser that started it (only its hash is stored) and
carries the sealed PKCE verifier. Zoom's answer is checked against the **one-login rule**:
a Zoom user is linked to one hiring account at a time, across all organizations (as
seed 001 says of Trakstar Hire); a second link is refused with the name of the first and
how to move it, and nothing of the first link is touched. The partial unique index on
(provider, external_user_id) makes the rule hold under races too.

Zoom rotates the refresh token on every refresh and kills the old one at once, so a token
lost is a connection lost. A refresh therefore runs under ``SELECT … FOR UPDATE`` on the
account row: whoever waits re-reads the row and uses the token the first one stored, and the
new pair is written in the transaction that holds the lock. A refresh Zoom refuses
(revoked, expired) turns the account to ``reconnect_needed`` and tells its owner, so a
broken connection is never a silent gap.

States of an account row::

    (none) --connect--> active --refresh refused--> reconnect_needed --connect--> active
    active | reconnect_needed --disconnect / app_deauthorized--> disconnected (tokens and
    host profile deleted; the row stays for history, and a new connect makes a new row)

Interviews keep the meeting links already made whatever happens here: a link belongs to a
Zoom meeting, which outlives the app's authorization.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.interviews import LIVE_STATUSES
from hiresync.providers.base import MeetingAccounts, MeetingHost, TokenGetter, UserTokens
from hiresync.providers.errors import AuthRevoked, BadRequest, ProviderError
from hiresync.runtime import Runtime
from hiresync.services import notifications, oauth_states, preapproval
from hiresync.services.errors import NotConnected, ServiceError, UpstreamError
from hiresync.services.oauth_states import ConnectRefused, digest, state_context
from hiresync.store.crypto import SecretError
from hiresync.store.tables import (
    Interview,
    InterviewMeeting,
    MeetingAccount,
    User,
)

log = structlog.get_logger(__name__)
ZOOM = "zoom"
PAGE = "/settings/connected-apps"
CALLBACK_PATH = PAGE + "/zoom/callback"
START_AGAIN = "Start again with Connect Zoom on Settings › Connected applications."
WORDS = oauth_states.Words("Zoom", "Connect Zoom", START_AGAIN)
__all__ = ["ConnectRefused", "digest", "state_context"]  # shared, in oauth_states


class LoginInUse(ServiceError):
    """The Zoom login is already linked to another hiring account."""

    status = 409
    code = "zoom_login_in_use"


class NotConfigured(ServiceError):
    status = 503
    code = "zoom_not_configured"


def provider_for(runtime: Runtime, name: str = ZOOM) -> MeetingAccounts:
    """The provider's per-user OAuth and API, or a clear refusal when it is not set up."""
    found = runtime.meeting_accounts.get(name) if runtime.settings.zoom_client_id else None
    if found is None:
        raise NotConfigured(
            "Zoom is not set up on this hiresync server.",
            hint="Set HIRESYNC_ZOOM_CLIENT_ID and HIRESYNC_ZOOM_CLIENT_SECRET (a Zoom "
            "user-managed OAuth app) and restart.",
        )
    return found


def token_context(account_id: uuid.UUID, kind: str) -> str:
    """What a sealed token is bound to: this account and kind (access or refresh)."""
    return f"meeting_account:{account_id}:{kind}"


_fresh = oauth_states.fresh


def _redirect_uri(runtime: Runtime) -> str:
    return runtime.settings.base_url + CALLBACK_PATH


# -- connect -----------------------------------------------------------------------------------


async def start_connect(
    runtime: Runtime, session: AsyncSession, user: User, browser: str, provider: str = ZOOM
) -> str:
    """The provider's authorization URL for ``user``; its state and PKCE verifier are stored
    (ten minutes, single use)."""
    accounts = provider_for(runtime, provider)
    verifier = secrets.token_urlsafe(64)
    state = await oauth_states.begin(runtime, session, user, provider, browser, verifier)
    return accounts.authorization_url(_redirect_uri(runtime), state, verifier)


async def _claim_state(
    runtime: Runtime, user: User, browser: str, state: str | None
) -> tuple[str, str]:
    """(provider, PKCE verifier) of this state (see ``oauth_states.claim``)."""
    return await oauth_states.claim(runtime, user, browser, state, (ZOOM,), WORDS)


def _refusal(params: Mapping[str, str]) -> ConnectRefused | None:
    error = params.get("error")
    if error == "access_denied":
        return ConnectRefused(
            "You cancelled connecting Zoom, so nothing changed.",
            hint="If Zoom said your account needs an admin's pre-approval, use "
            "“Request pre-approval” on this page; otherwise connect again when you are ready.",
        )
    if error:
        said = params.get("error_description") or error
        return ConnectRefused(f"Zoom did not connect your account: {said[:200]}", hint=START_AGAIN)
    if not params.get("code") or len(params["code"]) > 2000:
        return ConnectRefused("Zoom's answer carries no authorization code.", hint=START_AGAIN)
    return None


def _fixed_token(token: str) -> TokenGetter:
    async def get_token(force_refresh: bool) -> str:
        return token

    return get_token


async def _sign_in(
    accounts: MeetingAccounts, runtime: Runtime, code: str, verifier: str
) -> tuple[UserTokens, MeetingHost]:
    try:
        tokens = await accounts.exchange_code(code, _redirect_uri(runtime), verifier)
        host = await accounts.meetings(_fixed_token(tokens.access_token)).host()
    except (AuthRevoked, BadRequest) as exc:
        raise ConnectRefused(
            f"Zoom did not accept this sign-in: {exc.message}",
            hint="A sign-in answer can be used once, within five minutes. " + START_AGAIN,
        ) from exc
    except ProviderError as exc:
        raise UpstreamError(
            f"Zoom is not answering: {exc.message}", hint="Try again in a minute."
        ) from exc
    return tokens, host


async def finish_connect(
    runtime: Runtime, user: User, browser: str, params: Mapping[str, str]
) -> MeetingAccount:
    """Complete the OAuth round trip for ``user``: claim the state, exchange the code, read
    who the Zoom user is, apply the one-login rule, and store the sealed tokens."""
    provider, verifier = await _claim_state(runtime, user, browser, params.get("state"))
    if not verifier:
        raise ConnectRefused("This Zoom sign-in took too long and expired.", hint=START_AGAIN)
    if refused := _refusal(params):
        raise refused
    accounts = provider_for(runtime, provider)
    tokens, host = await _sign_in(accounts, runtime, params["code"], verifier)
    replaced: str | None = None
    async with runtime.db.transaction() as session:
        await _check_one_login(session, user, provider, host)
        row = await _live(session, user, provider, lock=True)
        if row is None:
            row = MeetingAccount(
                id=uuid.uuid4(),
                organization_id=user.organization_id,
                user_id=user.id,
                provider=provider,
            )
            session.add(row)
        elif row.external_user_id != host.user_id:
            replaced = _open(runtime, row, "access")  # the user switched Zoom logins
        _apply_host(row, host)
        _store_tokens(runtime, row, tokens)
        row.status, row.last_error, row.connected_at = "active", None, datetime.now(UTC)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:  # another hiring account linked it a moment ago
            raise LoginInUse(
                f"This Zoom login ({host.email}) was just connected to another hiring account.",
                hint="Reload Settings › Connected applications to see where.",
            ) from exc
        await preapproval.close_open(session, user, provider)
        await _push_waiting(runtime, session, user)
    if replaced:
        await _revoke_quietly(accounts, replaced)
    log.info("meeting_account.connected", user=str(user.id), provider=provider, host=host.user_id)
    return row


async def _push_waiting(runtime: Runtime, session: AsyncSession, user: User) -> None:
    """Queue, in the reconnect's transaction, the push of every live Zoom interview this
    user hosts whose meeting is behind: it waited for the connection (no meeting made yet,
    or a change Zoom did not get). A meeting deleted in Zoom and not changed since is up to
    date and stays as it is (``meeting_push``'s rule)."""
    from hiresync.services import interviews  # here: interviews imports this module

    waiting = await session.scalars(
        select(Interview)
        .join(InterviewMeeting, InterviewMeeting.interview_id == Interview.id)
        .where(
            InterviewMeeting.organization_id == user.organization_id,
            InterviewMeeting.host_user_id == user.id,
            InterviewMeeting.provider == ZOOM,
            InterviewMeeting.synced_sequence < Interview.sequence,
            Interview.meeting_type == ZOOM,
            Interview.status.in_([s.value for s in LIVE_STATUSES]),
        )
    )
    for interview in list(waiting):
        await interviews.queue_push(runtime, session, interview)
        log.info("meeting_account.push_queued", interview=str(interview.id))


async def _check_one_login(
    session: AsyncSession, user: User, provider: str, host: MeetingHost
) -> None:
    other = await session.scalar(
        select(MeetingAccount).where(
            MeetingAccount.provider == provider,
            MeetingAccount.external_user_id == host.user_id,
            MeetingAccount.status != "disconnected",
        )
    )
    if other is None or (other.organization_id, other.user_id) == (
        user.organization_id,
        user.id,
    ):
        return
    linked = await oauth_states.linked_elsewhere(
        session, user, other.organization_id, other.user_id
    )
    owner_email, org_name, where = linked.owner_email, linked.org_name, linked.where
    log.info("meeting_account.login_in_use", user=str(user.id), other=str(other.id))
    raise LoginInUse(
        f"This Zoom login ({host.email}) is already connected to another hiring account: "
        f"{where}. A Zoom login can be connected to one hiring account at a time.",
        hint=f"To move it here, sign in to hiresync as {owner_email} ({org_name}), open "
        "Settings › Connected applications and click Disconnect, then connect Zoom again "
        "here. Or sign in to Zoom with a different login.",
    )


def _apply_host(row: MeetingAccount, host: MeetingHost) -> None:
    row.external_user_id, row.external_account_id = host.user_id, host.account_id
    row.email, row.display_name, row.licensed = host.email, host.display_name, host.licensed
    row.max_minutes, row.concurrent_meetings = host.max_minutes, host.concurrent_meetings


def _store_tokens(runtime: Runtime, row: MeetingAccount, tokens: UserTokens) -> None:
    ring = runtime.keyring
    row.access_sealed = ring.seal(tokens.access_token, context=token_context(row.id, "access"))
    row.refresh_sealed = ring.seal(tokens.refresh_token, context=token_context(row.id, "refresh"))
    row.key_id, row.access_expires_at = ring.active, tokens.expires_at


def _open(runtime: Runtime, row: MeetingAccount, kind: str) -> str | None:
    sealed = row.access_sealed if kind == "access" else row.refresh_sealed
    if not sealed:
        return None
    try:
        return runtime.keyring.open(sealed, context=token_context(row.id, kind))
    except SecretError:
        log.error("meeting_account.token_unreadable", account=str(row.id), kind=kind)
        return None


def forget(row: MeetingAccount, status: str, reason: str | None) -> None:
    """Delete the tokens; on disconnect also the host profile (the user's Zoom data)."""
    row.status, row.last_error = status, reason
    row.access_sealed = row.refresh_sealed = row.key_id = None
    row.access_expires_at = None
    if status == "disconnected":
        row.disconnected_at = datetime.now(UTC)
        row.external_user_id = row.external_account_id = row.email = row.display_name = None
        row.licensed = row.max_minutes = row.concurrent_meetings = None


async def _live(
    session: AsyncSession, user: User, provider: str = ZOOM, *, lock: bool = False
) -> MeetingAccount | None:
    query = select(MeetingAccount).where(
        MeetingAccount.organization_id == user.organization_id,
        MeetingAccount.user_id == user.id,
        MeetingAccount.provider == provider,
        MeetingAccount.status != "disconnected",
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def live_account(
    session: AsyncSession, user: User, provider: str = ZOOM
) -> MeetingAccount | None:
    """The user's connection (active or needing a reconnect), or None."""
    return await _live(session, user, provider)


def plan_summary(row: MeetingAccount) -> str:
    """The host's plan in the words a scheduler needs: what will limit their interviews."""
    if row.licensed is False or row.max_minutes:
        return f"Basic: meetings end after {row.max_minutes or 40} minutes"
    if row.concurrent_meetings == 1:
        return "Pro: one meeting at a time"
    if row.concurrent_meetings:
        return f"Licensed: {row.concurrent_meetings} meetings at a time"
    return "Licensed"


# -- disconnect --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disconnected:
    revoked: bool
    message: str


async def disconnect(runtime: Runtime, user: User, provider: str = ZOOM) -> Disconnected:
    """End the user's connection here, then revoke hiresync's access at Zoom. A failed
    revocation still disconnects locally, and says what to do in Zoom."""
    accounts = provider_for(runtime, provider)
    async with runtime.db.transaction() as session:
        row = await _live(session, user, provider, lock=True)
        if row is None:
            raise NotConnected("Zoom is not connected to your hiring account.")
        access, refresh = _open(runtime, row, "access"), _open(runtime, row, "refresh")
        expired = not _fresh(row.access_expires_at)
        account_id = row.id
        forget(row, "disconnected", None)
    kept = "Meeting links already created for upcoming interviews stay as they are."
    if access is None:
        return Disconnected(True, f"Zoom is disconnected (Zoom had already ended access). {kept}")
    try:
        if expired and refresh:  # revoke with a live token; the rotated pair is not kept
            access = (await accounts.refresh(refresh)).access_token
        await accounts.revoke(access)
    except ProviderError as exc:
        problem = (
            f"Disconnected here, but Zoom did not confirm it revoked hiresync's access "
            f"({exc.message}). Remove hiresync in the Zoom App Marketplace under Manage › "
            "Added Apps to be sure."
        )
        async with runtime.db.transaction() as session:
            gone = await session.get(MeetingAccount, account_id, with_for_update=True)
            if gone is not None:
                gone.last_error = problem
        log.warning("meeting_account.revoke_failed", account=str(account_id), error=exc.message)
        return Disconnected(False, f"{problem} {kept}")
    log.info("meeting_account.disconnected", account=str(account_id))
    return Disconnected(True, f"Zoom is disconnected and hiresync's access is revoked. {kept}")


async def _revoke_quietly(accounts: MeetingAccounts, token: str) -> None:
    try:
        await accounts.revoke(token)
    except ProviderError as exc:
        log.warning("meeting_account.revoke_failed", error=exc.message)


async def deauthorized(
    runtime: Runtime,
    session: AsyncSession,
    provider: str,
    external_user_id: str,
    when: datetime | None,
) -> list[uuid.UUID]:
    """The user removed the app in Zoom: every live link of that Zoom user made before
    ``when`` is disconnected and its Zoom data deleted, in the caller's transaction (a link
    made after it, by connecting again, is a new authorization and stays). Returns the
    notifications to e-mail."""
    rows = await session.scalars(
        select(MeetingAccount)
        .where(
            MeetingAccount.provider == provider,
            MeetingAccount.external_user_id == external_user_id,
            MeetingAccount.status != "disconnected",
        )
        .with_for_update()
    )
    said = f"at {when:%Y-%m-%d %H:%M} UTC" if when else "recently"
    ids: list[uuid.UUID] = []
    for row in list(rows):
        if when is not None and row.connected_at > when:
            log.info("meeting_account.deauthorization_predates", account=str(row.id))
            continue
        email = row.email
        forget(row, "disconnected", f"hiresync was removed from the Zoom account {email} {said}.")
        owner = await session.get(User, row.user_id)
        ids += await notifications.notify(
            runtime,
            session,
            [owner] if owner else [],
            "zoom_deauthorized",
            "Zoom is disconnected",
            f"hiresync was removed from the Zoom account {email} in Zoom ({said}), so it no "
            "longer creates Zoom links for your interviews. Links already created stay. "
            "Connect Zoom again on Settings › Connected applications to create new ones.",
            PAGE,
        )
    return ids


# -- tokens ------------------------------------------------------------------------------------


def token_getter(runtime: Runtime, account_id: uuid.UUID) -> TokenGetter:
    """What a Zoom client calls for a bearer token: the stored one while fresh, else a
    refresh under the row lock; ``force_refresh`` after Zoom refused the token it had."""

    async def stored() -> tuple[str | None, datetime | None]:
        async with runtime.db.sessions() as session:
            row = await session.get(MeetingAccount, account_id)
        _require_usable(row)
        assert row is not None
        return _open(runtime, row, "access"), row.access_expires_at

    async def refreshed(force: bool, rejected: str | None) -> tuple[str, datetime]:
        return await refresh(runtime, account_id, force=force, rejected=rejected)

    return oauth_states.held_token_getter(stored, refreshed)


def _require_usable(row: MeetingAccount | None) -> None:
    if row is None or row.status == "disconnected":
        raise AuthRevoked("This Zoom connection was disconnected.", provider=ZOOM)
    if row.status != "active":
        raise AuthRevoked(row.last_error or "Zoom needs to be reconnected.", provider=ZOOM)


async def refresh(
    runtime: Runtime, account_id: uuid.UUID, *, force: bool, rejected: str | None = None
) -> tuple[str, datetime]:
    """A fresh access token, refreshing at most once however many workers ask at once: the
    row is locked, and a token stored by whoever held the lock before is used as is."""
    revoked: tuple[str, list[uuid.UUID]] | None = None
    async with runtime.db.transaction() as session:
        row = await session.get(
            MeetingAccount, account_id, with_for_update=True, populate_existing=True
        )
        _require_usable(row)
        assert row is not None
        current = _open(runtime, row, "access")
        someone_refreshed = rejected is not None and current != rejected
        if current and _fresh(row.access_expires_at) and (not force or someone_refreshed):
            return current, row.access_expires_at  # type: ignore[return-value]
        refresh_token = _open(runtime, row, "refresh")
        try:
            if refresh_token is None:
                raise AuthRevoked("no refresh token is stored", provider=row.provider)
            tokens = await provider_for(runtime, row.provider).refresh(refresh_token)
        except AuthRevoked as exc:
            revoked = await _reconnect_needed(runtime, session, row, exc.message)
        else:
            _store_tokens(runtime, row, tokens)
            return tokens.access_token, tokens.expires_at
    reason, _ = revoked
    raise AuthRevoked(reason, provider=ZOOM)


async def _reconnect_needed(
    runtime: Runtime, session: AsyncSession, row: MeetingAccount, said: str
) -> tuple[str, list[uuid.UUID]]:
    reason = f"Zoom no longer accepts hiresync's access to {row.email or 'your account'}: {said}"
    forget(row, "reconnect_needed", reason)
    owner = await session.get(User, row.user_id)
    ids = await notifications.notify(
        runtime,
        session,
        [owner] if owner else [],
        "zoom_reconnect",
        "Reconnect Zoom",
        f"{reason}. Until you reconnect, hiresync cannot create or update Zoom links for "
        "your interviews. Open Settings › Connected applications and click Reconnect Zoom.",
        PAGE,
    )
    log.warning("meeting_account.reconnect_needed", account=str(row.id), reason=said)
    return reason, ids


async def mark_reconnect_needed(runtime: Runtime, account_id: uuid.UUID, said: str) -> None:
    """For callers whose API request Zoom refused even with a fresh token."""
    async with runtime.db.transaction() as session:
        row = await session.get(MeetingAccount, account_id, with_for_update=True)
        if row is None or row.status != "active":
            return
        await _reconnect_needed(runtime, session, row, said)
