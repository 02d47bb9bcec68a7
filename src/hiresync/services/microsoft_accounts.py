"""A person's calendar synchronized through their own Microsoft account: "Sign in with
Microsoft" on Settings › My calendar (issue #6), for organizations without a company
connection, or people who prefer their own sign-in.

Signing in is the authorization-code flow with ``state``, PKCE and an OpenID nonce
(``providers.microsoft.delegated``); the attempt is an ``oauth_states`` row bound to the
user and browser that started it, holding the sealed MSAL flow. The callback claims it
(single use), redeems the code, reads ``/me`` (who signed in: Graph id and address) and the
default calendar, and stores a ``CalendarAccount(provider="microsoft", scope="personal")``
— the Graph id in ``username`` as for company accounts, the directory in
``external_tenant_id``, the refresh token sealed in ``secret_sealed`` like a CalDAV
password, the access token in ``access_sealed`` — with one two-way ``SyncedCalendar`` for
the default calendar, or, when the organization puts interviews in a dedicated calendar, that
calendar (found by name or created, with the person's token, before anything is stored) two-way
and the default one read-only (``microsoft_calendars.calendar_rows``); their first syncs and
Graph subscriptions are queued in the same transaction, as ``calendar_settings.start_outlook``
does.

**One login, one hiring account**: a Microsoft login already synchronized with another
hiresync user (this organization or another) is refused, naming where, and nothing of that
link is touched; a partial unique index makes the rule hold under races too.

**Reconnecting** is signing in again: the same account row (and its calendar, copy and
cursor) is reused, its new tokens stored and its calendars queued. Signing in as another
Microsoft user than the one synchronized is refused: the copy belongs to that mailbox.

**Tokens**: every refresh returns a new refresh token, stored in the transaction that holds
the account row's lock, so two workers refreshing at once refresh once and the second uses
what the first stored. A refresh Microsoft refuses (revoked, expired, consent removed)
raises ``AuthRevoked`` from the token source: the sync run turns the account to
"reconnect needed" and tells its owner (``calendar_sync._reconnect_needed``), never a
silent gap. A stopped account keeps its tokens until ``calendar_stop`` has removed
hiresync's events from Outlook (it deletes them after).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.providers.base import TokenGetter
from hiresync.providers.errors import AuthRevoked, BadRequest, NotFound, ProviderError
from hiresync.providers.microsoft.client import GraphClient, user_path
from hiresync.providers.microsoft.delegated import DelegatedAuth, DelegatedTokens
from hiresync.providers.microsoft.identity import aadsts_code
from hiresync.runtime import Runtime
from hiresync.services import calendar_sync, microsoft_calendars, oauth_states
from hiresync.services.calendar_remotes import SETTINGS_PATH, secret_context
from hiresync.services.errors import AlreadyExists, ServiceError, UpstreamError
from hiresync.services.microsoft_calendars import COMPANY, MICROSOFT, PERSONAL, client_with
from hiresync.services.oauth_states import ConnectRefused
from hiresync.store.crypto import SecretError
from hiresync.store.tables import CalendarAccount, SyncedCalendar, User

log = structlog.get_logger(__name__)
SIGN_IN = "microsoft_calendar"  # OAuthState.provider of these attempts
CALLBACK_PATH = SETTINGS_PATH + "/microsoft/callback"
BUTTON = "Sign in with Microsoft"
START_AGAIN = f"Start again with “{BUTTON}” on Settings › My calendar."
WORDS = oauth_states.Words("Microsoft", f"“{BUTTON}”", START_AGAIN)
NEEDS_ADMIN = frozenset({"AADSTS90094", "AADSTS90093", "AADSTS65001"})


class LoginInUse(ServiceError):
    """The Microsoft login is already synchronized with another hiring account."""

    status = 409
    code = "microsoft_login_in_use"


class NotConfigured(ServiceError):
    status = 503
    code = "microsoft_not_configured"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who signed in, and their default calendar."""

    tokens: DelegatedTokens
    graph_id: str
    address: str
    calendar_id: str
    calendar_name: str
    dedicated: dict[str, Any] | None = None  # the dedicated calendar, when placed there


def access_context(account_id: uuid.UUID) -> str:
    """What a sealed access token is bound to (the refresh token: ``secret_context``)."""
    return f"calendar_account:{account_id}:access"


def delegated_auth(runtime: Runtime) -> DelegatedAuth:
    """This deployment's app registration, or a clear refusal when there is none."""
    settings = runtime.settings
    if not settings.microsoft_client_id or not settings.microsoft_client_secret:
        raise NotConfigured(
            "Signing in with Microsoft is not set up on this hiresync server.",
            hint="An administrator sets HIRESYNC_MICROSOFT_CLIENT_ID and "
            "HIRESYNC_MICROSOFT_CLIENT_SECRET (an Entra ID app registration with the "
            f"redirect URI {_redirect_uri(runtime)}) and restarts.",
        )
    return DelegatedAuth(
        login_url=settings.microsoft_login_url,
        client_id=settings.microsoft_client_id,
        client_secret=settings.microsoft_client_secret,
        timeout=settings.microsoft_timeout_seconds,
    )


def _redirect_uri(runtime: Runtime) -> str:
    return runtime.settings.base_url.rstrip("/") + CALLBACK_PATH


# -- sign in -----------------------------------------------------------------------------------


async def start_sign_in(runtime: Runtime, session: AsyncSession, user: User, browser: str) -> str:
    """Microsoft's authorization URL for ``user``; the attempt (state, sealed MSAL flow with
    the PKCE verifier and nonce) is stored for ten minutes, single use."""
    auth = delegated_auth(runtime)
    state = oauth_states.new_state()
    hint = await session.scalar(
        select(CalendarAccount.address).where(*_mine(user), CalendarAccount.scope == PERSONAL)
    )
    try:
        url, flow = await auth.begin(_redirect_uri(runtime), state, login_hint=hint)
    except ProviderError as exc:
        raise UpstreamError(
            f"Microsoft's sign-in service is not answering: {exc.message}",
            hint="Try again in a minute.",
        ) from exc
    finally:
        auth.close()
    await oauth_states.begin(runtime, session, user, SIGN_IN, browser, json.dumps(flow), state)
    return url


def _refusal(params: Mapping[str, str]) -> ConnectRefused | None:
    """What Microsoft's redirect says when it carries no usable code (error checked first)."""
    error = params.get("error")
    said = (params.get("error_description") or error or "")[:300]
    if error and aadsts_code(said) in NEEDS_ADMIN:
        return ConnectRefused(
            f"Your organization lets only an administrator approve hiresync ({said}).",
            hint="Ask your IT administrator to grant consent to hiresync for your "
            "organization, then sign in again. Or ask them to connect Microsoft 365 for the "
            "whole company on Settings › Calendar sync.",
        )
    if error == "access_denied":
        return ConnectRefused(
            "You declined the permissions hiresync asks for, so nothing changed.",
            hint=f"To synchronize your Outlook calendar, choose “{BUTTON}” again and accept: "
            "hiresync reads and writes your calendar and reads your name and address.",
        )
    if error:
        return ConnectRefused(f"Microsoft did not sign you in: {said}", hint=START_AGAIN)
    if not params.get("code") or len(params["code"]) > 4000:
        return ConnectRefused("Microsoft's answer carries no authorization code.", hint=START_AGAIN)
    return None


async def finish_sign_in(
    runtime: Runtime, user: User, browser: str, params: Mapping[str, str]
) -> CalendarAccount:
    """Complete the round trip for ``user`` (see the module docstring); refusals are 4xx
    errors that say what to do, and store nothing."""
    _, flow = await oauth_states.claim(
        runtime, user, browser, params.get("state"), (SIGN_IN,), WORDS
    )
    if not flow:
        raise ConnectRefused("This Microsoft sign-in took too long and expired.", hint=START_AGAIN)
    if refused := _refusal(params):
        raise refused
    signed_in = await _sign_in(runtime, json.loads(flow), params)
    signed_in = await _placed(runtime, user, signed_in)
    async with runtime.db.transaction() as session:
        await _check_one_login(session, user, signed_in)
        account = await session.scalar(
            select(CalendarAccount).where(*_mine(user)).with_for_update()
        )
        if account is None:
            account = await _new_rows(session, user, signed_in)
        else:
            _check_same_login(account, signed_in)
        _store_tokens(runtime, account, signed_in.tokens)
        account.status, account.last_error = "active", None
        await _flush_or_in_use(session, signed_in)
        await _queue(runtime, session, account)
    log.info("calendar.microsoft_signed_in", account=str(account.id), user=str(user.id))
    return account


async def _sign_in(runtime: Runtime, flow: dict[str, Any], params: Mapping[str, str]) -> SignedIn:
    """Redeem the code, then ask Graph who signed in and which calendar is theirs."""
    auth = delegated_auth(runtime)
    try:
        tokens = await auth.redeem(flow, params)
        return await _profile(runtime, tokens)
    except (AuthRevoked, BadRequest, NotFound) as exc:
        raise ConnectRefused(
            f"Microsoft did not accept this sign-in: {exc.message}",
            hint="A sign-in answer can be used once, within ten minutes. " + START_AGAIN,
        ) from exc
    except ProviderError as exc:
        raise UpstreamError(
            f"Microsoft is not answering: {exc.message}", hint="Try again in a minute."
        ) from exc
    finally:
        auth.close()


async def _placed(runtime: Runtime, user: User, signed_in: SignedIn) -> SignedIn:
    """A first sign-in where the organization places interviews in a dedicated calendar:
    that calendar, found by name or created (a reconnect keeps the calendars it has; a
    login refused below creates nothing)."""
    async with runtime.db.sessions() as session:
        await _check_one_login(session, user, signed_in)
        if await session.scalar(select(CalendarAccount.id).where(*_mine(user))) is not None:
            return signed_in
        name = await microsoft_calendars.placement(session, user)
    if name is None:
        return signed_in
    client = _client_of(runtime, signed_in.tokens)
    try:
        made = await microsoft_calendars.dedicated_calendar(client, signed_in.graph_id, name)
    except AuthRevoked as exc:
        raise ConnectRefused(
            f"Microsoft did not let hiresync create the calendar {name!r}: {exc.message}",
            hint=START_AGAIN,
        ) from exc
    except ProviderError as exc:
        raise UpstreamError(
            f"Microsoft is not answering: {exc.message}", hint="Try again in a minute."
        ) from exc
    finally:
        await client.aclose()
    return replace(signed_in, dedicated=made)


def _client_of(runtime: Runtime, tokens: DelegatedTokens) -> GraphClient:
    """A Graph client on the access token just redeemed."""

    async def fixed(force_refresh: bool) -> str:
        return tokens.access_token

    return client_with(runtime, fixed)


async def _profile(runtime: Runtime, tokens: DelegatedTokens) -> SignedIn:
    client = _client_of(runtime, tokens)
    try:
        me = await client.request("GET", "me", params={"$select": "id,mail,userPrincipalName"})
        graph_id = str(me["id"])
        calendar = await client.request(
            "GET", user_path(graph_id, "calendar"), params={"$select": "id,name"}
        )
    finally:
        await client.aclose()
    address = str(me.get("mail") or me.get("userPrincipalName") or tokens.username)
    return SignedIn(
        tokens, graph_id, address, str(calendar["id"]), str(calendar.get("name") or "Calendar")
    )


def _mine(user: User) -> tuple[Any, ...]:
    """The person's live Microsoft account (one at most, whatever its scope)."""
    return (
        CalendarAccount.organization_id == user.organization_id,
        CalendarAccount.user_id == user.id,
        CalendarAccount.provider == MICROSOFT,
        CalendarAccount.status != "disconnected",
    )


async def _check_one_login(session: AsyncSession, user: User, signed_in: SignedIn) -> None:
    other = await session.scalar(
        select(CalendarAccount).where(
            CalendarAccount.provider == MICROSOFT,
            CalendarAccount.status != "disconnected",
            CalendarAccount.username == signed_in.graph_id,
            or_(
                CalendarAccount.scope == COMPANY,
                CalendarAccount.external_tenant_id == signed_in.tokens.tenant_id,
            ),
            or_(
                CalendarAccount.organization_id != user.organization_id,
                CalendarAccount.user_id != user.id,
            ),
        )
    )
    if other is None:
        return
    linked = await oauth_states.linked_elsewhere(
        session, user, other.organization_id, other.user_id
    )
    owner_email, org_name, where = linked.owner_email, linked.org_name, linked.where
    log.info("calendar.microsoft_login_in_use", user=str(user.id), other=str(other.id))
    raise LoginInUse(
        f"The Microsoft account {signed_in.address} is already synchronized with another "
        f"hiring account: {where}. A Microsoft account can be synchronized with one hiring "
        "account at a time.",
        hint=f"To move it here, sign in to hiresync as {owner_email} ({org_name}), open "
        f"Settings › My calendar and stop synchronization, then choose “{BUTTON}” here "
        "again. Or sign in to Microsoft with another account.",
    )


def _check_same_login(account: CalendarAccount, signed_in: SignedIn) -> None:
    if account.scope != PERSONAL:
        raise AlreadyExists(
            f"Your Outlook calendar is already synchronized with {account.address} through "
            "your company's Microsoft 365 connection.",
            hint="Stop that synchronization first to sign in with your own Microsoft account "
            "instead.",
        )
    same = (account.username, account.external_tenant_id) == (
        signed_in.graph_id,
        signed_in.tokens.tenant_id,
    )
    if not same:
        raise ConnectRefused(
            f"You signed in to Microsoft as {signed_in.address}, but your calendar is "
            f"synchronized with {account.address}.",
            hint=f"Choose “{BUTTON}” again and pick {account.address}; or stop "
            f"synchronization first to use {signed_in.address} instead.",
        )


async def _new_rows(session: AsyncSession, user: User, signed_in: SignedIn) -> CalendarAccount:
    """The personal account and its calendars (``microsoft_calendars.calendar_rows``)."""
    account = CalendarAccount(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        provider=MICROSOFT,
        scope=PERSONAL,
        address=signed_in.address,
        username=signed_in.graph_id,
        external_tenant_id=signed_in.tokens.tenant_id,
        status="active",
    )
    session.add(account)
    default = {"id": signed_in.calendar_id, "name": signed_in.calendar_name}
    session.add_all(microsoft_calendars.calendar_rows(account, default, signed_in.dedicated))
    return account


async def _flush_or_in_use(session: AsyncSession, signed_in: SignedIn) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # another hiring account linked it a moment ago
        raise LoginInUse(
            f"The Microsoft account {signed_in.address} was just synchronized with another "
            "hiring account.",
            hint="Reload Settings › My calendar to see the details.",
        ) from exc


async def _queue(runtime: Runtime, session: AsyncSession, account: CalendarAccount) -> None:
    """First sync (or the catch-up after a reconnect) and the subscription, after commit."""
    from hiresync.services import calendar_subscriptions  # it imports microsoft_calendars

    calendars = await session.scalars(
        select(SyncedCalendar.id).where(
            SyncedCalendar.account_id == account.id, SyncedCalendar.state != "disabled"
        )
    )
    for calendar_id in list(calendars):
        await calendar_sync.queue_sync(runtime, session, calendar_id)
        await calendar_subscriptions.queue_keep(runtime, session, calendar_id)


# -- tokens ------------------------------------------------------------------------------------


def _store_tokens(runtime: Runtime, row: CalendarAccount, tokens: DelegatedTokens) -> None:
    """The new pair replaces the old at once (Microsoft rotates the refresh token)."""
    ring = runtime.keyring
    row.secret_sealed = ring.seal(tokens.refresh_token, context=secret_context(row.id))
    row.access_sealed = ring.seal(tokens.access_token, context=access_context(row.id))
    row.key_id, row.access_expires_at = ring.active, tokens.expires_at


def _open(runtime: Runtime, row: CalendarAccount, kind: str) -> str | None:
    sealed = row.access_sealed if kind == "access" else row.secret_sealed
    if not sealed:
        return None
    context = access_context(row.id) if kind == "access" else secret_context(row.id)
    try:
        return runtime.keyring.open(sealed, context=context)
    except SecretError:
        log.error("calendar.microsoft_token_unreadable", account=str(row.id), kind=kind)
        return None


def _require_usable(row: CalendarAccount | None) -> None:
    """A reconnect-needed account waits for its owner; a stopped one still has its tokens
    while ``calendar_stop`` removes hiresync's events from Outlook."""
    if row is None or not row.secret_sealed:
        raise AuthRevoked(
            "hiresync no longer holds a Microsoft sign-in for this calendar.", provider=MICROSOFT
        )
    if row.status == "reconnect_needed":
        raise AuthRevoked(
            row.last_error or f"Sign in with Microsoft again for {row.address}.",
            provider=MICROSOFT,
        )


def token_getter(runtime: Runtime, account_id: uuid.UUID) -> TokenGetter:
    """What a Graph client calls for the person's bearer token (``oauth_states``)."""

    async def stored() -> tuple[str | None, datetime | None]:
        async with runtime.db.sessions() as session:
            row = await session.get(CalendarAccount, account_id)
        _require_usable(row)
        assert row is not None
        return _open(runtime, row, "access"), row.access_expires_at

    async def refreshed(force: bool, rejected: str | None) -> tuple[str, datetime]:
        return await refresh(runtime, account_id, force=force, rejected=rejected)

    return oauth_states.held_token_getter(stored, refreshed)


async def refresh(
    runtime: Runtime, account_id: uuid.UUID, *, force: bool, rejected: str | None = None
) -> tuple[str, datetime]:
    """A fresh access token, refreshing at most once however many workers ask at once: the
    row is locked, and a token stored by whoever held the lock before is used as is."""
    try:
        auth = delegated_auth(runtime)
    except NotConfigured as exc:
        raise BadRequest(exc.message, provider=MICROSOFT) from exc
    try:
        async with runtime.db.transaction() as session:
            row = await session.get(
                CalendarAccount, account_id, with_for_update=True, populate_existing=True
            )
            _require_usable(row)
            assert row is not None
            current = _open(runtime, row, "access")
            someone_refreshed = rejected is not None and current != rejected
            usable = current and oauth_states.fresh(row.access_expires_at)
            if usable and (not force or someone_refreshed):
                return current, row.access_expires_at  # type: ignore[return-value]
            refresh_token = _open(runtime, row, "refresh")
            if refresh_token is None:
                raise AuthRevoked(
                    f"The stored sign-in for {row.address} is unreadable.", provider=MICROSOFT
                )
            tokens = await auth.refresh(refresh_token, row.external_tenant_id)
            _store_tokens(runtime, row, tokens)
            log.info("calendar.microsoft_token_refreshed", account=str(account_id))
            return tokens.access_token, tokens.expires_at
    finally:
        auth.close()
