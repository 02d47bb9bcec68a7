"""Microsoft identity platform, delegated: a person signs in with their own work account
(authorization code + PKCE), and hiresync keeps a refresh token to reach their calendar.

MSAL does the OAuth parts, as for app-only tokens (``identity``): ``initiate_auth_code_flow``
makes the authorization URL with ``state``, a PKCE S256 challenge and an OpenID ``nonce``;
``acquire_token_by_auth_code_flow`` redeems the code with the verifier and checks the nonce
of the ID token; ``acquire_token_by_refresh_token`` refreshes. The flow is a plain dict the
caller keeps (sealed) with its ``state`` until the callback.

Each operation builds its own ``ConfidentialClientApplication`` with an empty token cache
that is thrown away after it: MSAL's cache is per application object and would otherwise
gather every person's tokens in one process, while hiresync keeps them where it can lock and
rotate them (the database). What MSAL may share — tenant discovery answers — lives in one
``http_cache`` per process (MSAL documents that it holds no tokens).

Microsoft's rules this module follows (learn.microsoft.com, "Microsoft identity platform and
OAuth 2.0 authorization code flow", "Refresh tokens in the Microsoft identity platform"):

* Scopes are the least hiresync needs: ``Calendars.ReadWrite`` (the person's calendar and
  its change notifications), ``User.Read`` (``/me``: who signed in), ``email``; MSAL always
  adds ``openid profile offline_access`` (``offline_access`` is what yields a refresh token).
* Every refresh returns a new refresh token; Microsoft does *not* revoke the old one, but
  asks clients to replace it at once. ``refresh`` returns the new pair for the caller to
  store in the same transaction.
* A refresh refused with ``invalid_grant`` or ``interaction_required`` (revoked sessions
  AADSTS50173, inactivity AADSTS700082, consent removed AADSTS65001, MFA or Conditional
  Access AADSTS50076/50079/53003, user disabled AADSTS50057 …) cannot be fixed without the
  person: ``AuthRevoked``. Codes live about ten minutes and are single use: ``invalid_grant``
  on the exchange is a ``BadRequest`` telling the person to sign in again.
* ``invalid_client``/``unauthorized_client`` are hiresync's own app registration's fault:
  a ``BadRequest`` for an administrator, never a reason to drop a person's connection.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

import anyio
import httpx
import msal

from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    ProviderError,
    ProviderUnavailable,
)

from .identity import PROVIDER, aadsts_code
from .msal_http import MsalHttpClient

SCOPES = ("Calendars.ReadWrite", "User.Read", "email")  # + openid profile offline_access
SIGN_IN_AUTHORITY = "organizations"  # work and school accounts of any tenant
ME_SELECT = "id,displayName,mail,userPrincipalName"
_HTTP_CACHE: dict[Any, Any] = {}  # MSAL's discovery answers, shared by the process
# The answer comes back in the query (``response_mode=query``), not as a cross-site form
# POST: the callback needs the browser's session cookie (SameSite=Lax) to check that the
# state belongs to the user and browser that started, and a cross-site POST arrives without
# it. The code in the URL is single use, lives minutes and is useless without the PKCE
# verifier and client secret, which RFC 9700 §4.3.1's concern (codes leaking from URLs)
# is about. MSAL warns on every call otherwise.
warnings.filterwarnings(
    "ignore", message=r"response_mode='form_post' is recommended", category=UserWarning
)
_GONE_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required"})
_APP_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_TRANSIENT = frozenset({"temporarily_unavailable", "server_error"})
SIGN_IN_AGAIN = "Sign in with Microsoft again on Settings › My calendar."


@dataclass(frozen=True, slots=True)
class DelegatedTokens:
    """A person's tokens and who they are (``tenant_id``/``object_id`` from the ID token)."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    tenant_id: str
    object_id: str
    username: str = ""


def delegated_error(result: Mapping[str, Any], grant: str) -> ProviderError:
    """The token endpoint's refusal, in words the person (or an administrator) can act on."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or error).splitlines()[0]
    code = aadsts_code(description) or error
    kw: dict[str, Any] = {"provider": PROVIDER, "code": code}
    if error in _TRANSIENT:
        return ProviderUnavailable(f"Microsoft's sign-in service is unavailable ({code}).", **kw)
    if error in _APP_ERRORS:
        return BadRequest(
            f"Microsoft refused hiresync's app registration ({description}). An administrator "
            "must check HIRESYNC_MICROSOFT_CLIENT_ID and HIRESYNC_MICROSOFT_CLIENT_SECRET.",
            **kw,
        )
    if grant == "refresh_token" and error in _GONE_ERRORS:
        return AuthRevoked(
            f"Microsoft no longer accepts hiresync's access ({description}). {SIGN_IN_AGAIN}",
            **kw,
        )
    if grant == "authorization_code" and error == "invalid_grant":
        return BadRequest(
            f"Microsoft could not complete the sign-in: the answer expired or was already "
            f"used ({description}).",
            **kw,
        )
    return BadRequest(f"Microsoft refused the sign-in ({description}).", **kw)


class DelegatedAuth:
    """The delegated OAuth endpoints of one app registration under ``login_url``."""

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client_id, self._secret = client_id, client_secret
        self._http = MsalHttpClient(login_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    async def begin(
        self, redirect_uri: str, state: str, login_hint: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """``(authorization URL, flow)``: keep the flow (it holds the PKCE verifier and the
        nonce) until the callback, bound to ``state``."""

        def initiate() -> dict[str, Any]:
            app = self._app(SIGN_IN_AUTHORITY)
            return cast(
                dict[str, Any],
                app.initiate_auth_code_flow(
                    list(SCOPES),
                    redirect_uri=redirect_uri,
                    state=state,
                    prompt=msal.Prompt.SELECT_ACCOUNT,
                    login_hint=login_hint,
                    response_mode="query",
                ),
            )

        flow = await self._run(initiate)
        # The browser goes where the login URL really is (see msal_http: plain-http sandboxes).
        url, _ = self._http.map_url(str(flow.pop("auth_uri")))
        return url, flow

    async def redeem(self, flow: dict[str, Any], answer: Mapping[str, str]) -> DelegatedTokens:
        """Exchange the code of the redirect ``answer`` (state already checked by the caller,
        and again by MSAL, which also checks the ID token's nonce)."""

        def redeem() -> dict[str, Any]:
            app = self._app(SIGN_IN_AUTHORITY)
            try:
                return cast(
                    dict[str, Any], app.acquire_token_by_auth_code_flow(dict(flow), dict(answer))
                )
            except ValueError as exc:  # state or nonce mismatch
                raise BadRequest(
                    f"Microsoft's answer does not match this sign-in ({exc}).", provider=PROVIDER
                ) from exc

        return self._tokens(await self._run(redeem), "authorization_code")

    async def refresh(self, refresh_token: str, tenant_id: str | None) -> DelegatedTokens:
        """New tokens, including a NEW refresh token that replaces the one passed in."""

        def refresh() -> dict[str, Any]:
            app = self._app(tenant_id or SIGN_IN_AUTHORITY)
            return cast(
                dict[str, Any], app.acquire_token_by_refresh_token(refresh_token, list(SCOPES))
            )

        return self._tokens(await self._run(refresh), "refresh_token", refresh_token)

    def _app(self, tenant: str) -> msal.ConfidentialClientApplication:
        """A throw-away MSAL application on its own empty token cache (module docstring)."""
        try:
            return msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._secret,
                authority=f"{self._http.authority_base}/{quote(tenant, safe='')}",
                http_client=self._http,
                instance_discovery=self._http.instance_discovery,
                http_cache=_HTTP_CACHE,
                token_cache=msal.TokenCache(),
            )
        except ValueError as exc:
            if "HTTP status: 4" in str(exc):
                raise AuthRevoked(
                    f"Microsoft does not know the directory {tenant!r} any more. {SIGN_IN_AGAIN}",
                    provider=PROVIDER,
                    code="AADSTS90002",
                ) from exc
            raise ProviderUnavailable(
                f"Microsoft's sign-in service could not be discovered: {exc}", provider=PROVIDER
            ) from exc

    @staticmethod
    async def _run(call: Any) -> dict[str, Any]:
        """MSAL is synchronous: run it in a worker thread, transport trouble translated."""
        try:
            return cast(dict[str, Any], await anyio.to_thread.run_sync(call))
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"Microsoft's sign-in service is unreachable ({type(exc).__name__}).",
                provider=PROVIDER,
            ) from exc
        except (httpx.HTTPStatusError, msal.exceptions.MsalServiceError) as exc:
            raise ProviderUnavailable(
                f"Microsoft's sign-in service failed: {exc}", provider=PROVIDER
            ) from exc

    @staticmethod
    def _tokens(result: dict[str, Any], grant: str, previous: str = "") -> DelegatedTokens:
        if "access_token" not in result:
            raise delegated_error(result, grant)
        claims = result.get("id_token_claims") or {}
        info = _client_info(result)
        tenant = str(claims.get("tid") or info.get("utid") or "")
        object_id = str(claims.get("oid") or info.get("uid") or "")
        refresh_token = str(result.get("refresh_token") or previous)
        if not refresh_token or (grant == "authorization_code" and not (tenant and object_id)):
            raise ProviderUnavailable(
                "Microsoft's sign-in answer lacks a refresh token or the person's identity.",
                provider=PROVIDER,
            )
        lifetime = float(result.get("expires_in") or 3599)
        return DelegatedTokens(
            access_token=str(result["access_token"]),
            refresh_token=refresh_token,
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            tenant_id=tenant,
            object_id=object_id,
            username=str(claims.get("preferred_username") or ""),
        )


def _client_info(result: Mapping[str, Any]) -> dict[str, Any]:
    """MSAL's decoded ``client_info`` (``uid``/``utid``), when the answer carried one."""
    raw = result.get("client_info")
    if not isinstance(raw, str):
        return {}
    try:
        padded = raw + "=" * (-len(raw) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}
