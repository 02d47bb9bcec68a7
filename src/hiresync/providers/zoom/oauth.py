"""Zoom's user-managed OAuth: authorization URL (state + PKCE S256), code exchange, refresh with
rotation, and revoke — with Authlib doing the OAuth parts.

Authlib builds the authorization URL (``prepare_grant_uri``), the S256 challenge
(``create_s256_code_challenge``), the code verifier (``generate_token``), the token request
bodies (``prepare_token_request``) and HTTP Basic client authentication (``ClientAuth`` with
``client_secret_basic``, which Zoom requires). Its ``AsyncOAuth2Client`` is not used: it keeps
the last token it fetched on itself, so one shared client would hold some user's token; its
error parsing reads RFC 6749's ``error_description`` where Zoom writes ``reason``; and Authlib
1.9 deprecates its httpx integration in favour of ``httpx2`` (a warning on import), which
hiresync does not use. The one httpx client of :class:`~.accounts.ZoomAccounts` carries the
requests instead, and Zoom's answers are read here.

Zoom's rules this module follows (PROVIDERS.md "user OAuth", developers.zoom.us "OAuth 2.0"):

* **Every refresh returns a new refresh token and kills the old one.** ``refresh`` returns the
  new pair; the caller stores it in the same transaction (issue 5). Reusing the old one is
  answered ``{"reason": "Invalid Token!", "error": "invalid_grant"}`` → ``AuthRevoked``.
  A refresh whose answer is lost cannot be repeated safely (Zoom has already rotated), so only
  requests that never left (connection refused) are retried.
* Codes live 5 minutes and are single use: ``invalid_grant`` on the exchange is a
  ``BadRequest`` telling the user to connect again, not a revoked connection.
* ``invalid_client`` means hiresync's own app credentials are wrong: a ``BadRequest`` for an
  administrator, never a reason to drop a user's connection.
* Revoke is ``POST /oauth/revoke?token=…`` (the token in the query string, as Zoom documents
  it) with Basic auth; a token Zoom no longer knows counts as revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import httpx
import structlog
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from hiresync.providers.base import UserTokens
from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)

from .client import PROVIDER, RECONNECT, reset_time
from .parse import user_tokens
from .wire import TokenWire

log = structlog.get_logger(__name__)

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
VERIFIER_LENGTH = 64  # RFC 7636: 43–128 characters
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_GONE = ("invalid_grant", "invalid_request", "invalid_token")


def new_code_verifier() -> str:
    """A PKCE code verifier (keep it with the ``state`` until the callback)."""
    return generate_token(VERIFIER_LENGTH)


def new_state() -> str:
    """An unguessable ``state`` for the authorization request."""
    return generate_token(32)


def _reason(response: httpx.Response) -> tuple[str, str]:
    """``(error, reason)`` of an OAuth error answer (``reason`` is Zoom's wording)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "", f"HTTP {response.status_code} {response.reason_phrase}".strip()
    error = str(body.get("error") or "")
    reason = str(body.get("reason") or body.get("error_description") or error)
    return error, reason


def oauth_error(response: httpx.Response, grant: str) -> ProviderError:
    """Zoom's token-endpoint refusal, in words a recruiter (or an admin) can act on."""
    error, reason = _reason(response)
    kw: dict[str, Any] = {"provider": PROVIDER, "code": error or None}
    status = response.status_code
    if status == 429:
        retry = reset_time(response.headers.get("Retry-After"), datetime.now(UTC))
        seconds = (retry - datetime.now(UTC)).total_seconds() if retry else 1.0
        return RateLimited(
            f"Zoom is busy signing people in ({reason}).", retry_after=max(0.0, seconds), **kw
        )
    if status >= 500:
        return ProviderUnavailable(f"Zoom's sign-in service is unavailable ({reason}).", **kw)
    if error == "invalid_client":
        return BadRequest(
            f"Zoom refused hiresync's app credentials ({reason}). An administrator must check "
            "the Zoom client ID and secret in hiresync's settings.",
            **kw,
        )
    if grant == "refresh_token" and error in ("invalid_grant", "invalid_token", ""):
        return AuthRevoked(
            f"The Zoom connection has expired or was removed in Zoom ({reason}). {RECONNECT}",
            **kw,
        )
    if grant == "authorization_code" and error == "invalid_grant":
        return BadRequest(
            f"Zoom could not complete the sign-in: the link expired or was already used "
            f"({reason}). Click “Connect Zoom” again.",
            **kw,
        )
    return BadRequest(f"Zoom refused the sign-in ({reason}).", **kw)


class ZoomOAuth:
    """The OAuth endpoints of one Zoom app (``client_id``/``client_secret``) under ``oauth_url``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        connect_retries: int = 2,
        sleep: Callable[[float], Any] = anyio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.oauth_url = oauth_url.rstrip("/")
        self.client_id = client_id
        self._http = http
        self._client_auth = ClientAuth(client_id, client_secret, "client_secret_basic")
        self._connect_retries = connect_retries
        self._sleep = sleep
        self._clock = clock

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        """``/oauth/authorize?response_type=code&client_id&redirect_uri&state&code_challenge
        &code_challenge_method=S256``."""
        if not state or not code_verifier:
            raise ValueError("state and code_verifier are required")
        return cast(
            str,
            prepare_grant_uri(
                f"{self.oauth_url}/oauth/authorize",
                client_id=self.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                state=state,
                code_challenge=create_s256_code_challenge(code_verifier),
                code_challenge_method="S256",
            ),
        )

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> UserTokens:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        return await self._token(body, "authorization_code")

    async def refresh(self, refresh_token: str) -> UserTokens:
        """New tokens, including the NEW refresh token: the one passed in is dead from now on."""
        body = prepare_token_request("refresh_token", refresh_token=refresh_token)
        return await self._token(body, "refresh_token")

    async def revoke(self, access_token: str) -> None:
        response = await self._post("/oauth/revoke", b"", params={"token": access_token})
        if response.is_success:
            return
        error, _ = _reason(response)
        if response.status_code in (400, 401) and error in _GONE:
            log.info("zoom.revoke_already_gone", error=error)
            return
        raise oauth_error(response, "revoke")

    async def _token(self, body: str, grant: str) -> UserTokens:
        response = await self._post("/oauth/token", body.encode())
        if not response.is_success:
            raise oauth_error(response, grant)
        try:
            wire = cast(TokenWire, response.json())
            return user_tokens(wire, self._clock())
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable(
                "Zoom's sign-in service sent an answer without tokens.", provider=PROVIDER
            ) from exc

    async def _post(
        self, path: str, content: bytes, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST with Basic client auth; retried only when the request never left."""
        url, headers, body = self._client_auth.prepare(
            "POST", self.oauth_url + path, dict(FORM), content
        )
        attempt = 0
        while True:
            try:
                return await self._http.post(url, content=body, params=params, headers=headers)
            except _NEVER_SENT as exc:
                if attempt >= self._connect_retries:
                    raise ProviderUnavailable(
                        f"Zoom's sign-in service is unreachable ({type(exc).__name__}).",
                        provider=PROVIDER,
                    ) from exc
                attempt += 1
                await self._sleep(0.2 * attempt)
            except httpx.TransportError as exc:
                raise ProviderUnavailable(
                    f"Zoom's sign-in answer was lost ({type(exc).__name__}).", provider=PROVIDER
                ) from exc
