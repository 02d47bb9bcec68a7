"""Microsoft identity platform: admin consent, tenant cloud checks and app-only tokens.

Connecting a company is one admin-consent round trip (``admin_consent_url`` →
Microsoft → ``parse_consent_callback``), then a check that the tenant lives in a
cloud this deployment can reach (``check_tenant_cloud``), then app-only tokens for
Graph from ``AppTokenProvider`` (client credentials via MSAL, no refresh token:
MSAL simply asks again when the cached token nears expiry).

MSAL is synchronous, so token requests run in a worker thread; its failures are
mapped here into ``AuthRevoked`` (with what the admin must do), or
``ProviderUnavailable`` for transport trouble.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from urllib.parse import quote, urlencode

import anyio
import httpx
import msal
import structlog

from hiresync.providers.errors import (
    AuthRevoked,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    UnsupportedCloud,
)

from .msal_http import MsalHttpClient
from .wire import OpenIdConfiguration, TokenResult

log = structlog.get_logger(__name__)

PROVIDER = "microsoft"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_AADSTS = re.compile(r"AADSTS(\d+)")

# -- admin consent ---------------------------------------------------------------------------


def admin_consent_url(
    login_url: str, *, client_id: str, redirect_uri: str, state: str, tenant: str | None = None
) -> str:
    """Where to send an admin to grant hiresync's application permissions for the whole company.

    Without a known tenant, ``organizations`` lets any work account's admin sign in.
    """
    path = quote(tenant or "organizations", safe="")
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{login_url.rstrip('/')}/{path}/adminconsent?{query}"


class ConsentOutcome(StrEnum):
    GRANTED = "granted"
    NOT_ADMIN = "not_admin"
    DECLINED = "declined"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ConsentResult:
    """What the consent redirect said; ``state`` must still be checked by the caller."""

    outcome: ConsentOutcome
    state: str | None
    tenant_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    description: str | None = None

    @property
    def granted(self) -> bool:
        return self.outcome is ConsentOutcome.GRANTED


NOT_ADMIN_CODES = frozenset({"AADSTS90094", "AADSTS90093"})
DECLINED_CODES = frozenset({"AADSTS65004"})


def aadsts_code(text: str | None) -> str | None:
    """The first ``AADSTSnnnn`` code in an error description."""
    match = _AADSTS.search(text or "")
    return f"AADSTS{match.group(1)}" if match else None


def parse_consent_callback(query: Mapping[str, str]) -> ConsentResult:
    """Classify the admin-consent redirect.

    ``error`` is checked first: an error redirect has been seen to carry
    ``admin_consent=True`` as well, and must never count as a grant.
    """
    state = query.get("state")
    error = query.get("error")
    if error:
        description = query.get("error_description")
        code = aadsts_code(description)
        if code in NOT_ADMIN_CODES:
            outcome = ConsentOutcome.NOT_ADMIN
        elif code in DECLINED_CODES or (code is None and error == "access_denied"):
            outcome = ConsentOutcome.DECLINED
        else:
            outcome = ConsentOutcome.ERROR
        return ConsentResult(outcome, state, query.get("tenant"), error, code, description)
    if (query.get("admin_consent") or "").lower() != "true" or not query.get("tenant"):
        return ConsentResult(
            ConsentOutcome.ERROR,
            state,
            query.get("tenant"),
            "invalid_callback",
            description="the consent redirect carried neither a grant nor an error",
        )
    return ConsentResult(ConsentOutcome.GRANTED, state, query["tenant"])


# -- tenant cloud ----------------------------------------------------------------------------


class Cloud(StrEnum):
    WORLDWIDE = "worldwide"  # includes GCC (moderate), which uses the worldwide endpoints
    US_GOV_GCC_HIGH = "us_gov_gcc_high"
    US_GOV_DOD = "us_gov_dod"
    CHINA = "china"


CLOUD_NAMES = {
    Cloud.WORLDWIDE: "Microsoft 365 worldwide",
    Cloud.US_GOV_GCC_HIGH: "Microsoft 365 US Government GCC High",
    Cloud.US_GOV_DOD: "Microsoft 365 US Government DoD",
    Cloud.CHINA: "Microsoft 365 operated by 21Vianet (China)",
}


def classify_cloud(config: Mapping[str, Any]) -> Cloud:
    """The cloud a tenant lives in, from its OpenID configuration.

    ``cloud_instance_name`` is ``microsoftonline.com`` (worldwide),
    ``microsoftonline.us`` (US Government) or ``partner.microsoftonline.cn`` (China).
    US Government tenants also say ``tenant_region_scope: USGov``, with sub-scope
    ``DOD`` for DoD and ``DODCON`` for GCC High. GCC (moderate) tenants say sub-scope
    ``GCC`` but live in the worldwide cloud.
    """
    instance = str(config.get("cloud_instance_name") or "").lower()
    region = str(config.get("tenant_region_scope") or "").lower()
    sub_scope = str(config.get("tenant_region_sub_scope") or "").upper()
    if instance.endswith(".cn") or "chinacloud" in instance:
        return Cloud.CHINA
    if instance.endswith(".us") or region == "usgov":
        return Cloud.US_GOV_DOD if sub_scope == "DOD" else Cloud.US_GOV_GCC_HIGH
    return Cloud.WORLDWIDE


async def fetch_openid_configuration(
    login_url: str,
    tenant: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_seconds: float = 30.0,
) -> OpenIdConfiguration:
    """``GET {login}/{tenant}/v2.0/.well-known/openid-configuration``; unknown tenant → NotFound."""
    url = f"{login_url.rstrip('/')}/{quote(tenant, safe='')}/v2.0/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, transport=transport) as http:
            response = await http.get(url)
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"login service unreachable: {exc!r}", provider=PROVIDER) from exc
    if 400 <= response.status_code < 500:
        raise NotFound(f"tenant {tenant!r} not found", provider=PROVIDER)
    if response.is_error:
        raise ProviderUnavailable(
            f"login service answered {response.status_code}", provider=PROVIDER
        )
    return cast(OpenIdConfiguration, response.json())


async def check_tenant_cloud(
    login_url: str,
    tenant: str,
    *,
    supported: Sequence[Cloud] = (Cloud.WORLDWIDE,),
    transport: httpx.AsyncBaseTransport | None = None,
) -> Cloud:
    """The tenant's cloud, or ``UnsupportedCloud`` naming it when this deployment cannot reach it.

    Tokens never cross clouds, so a GCC High or China tenant cannot be served by an
    app registered in the worldwide cloud: better to say so at connect time.
    """
    cloud = classify_cloud(await fetch_openid_configuration(login_url, tenant, transport=transport))
    if cloud not in supported:
        raise UnsupportedCloud(
            f"This organization uses {CLOUD_NAMES[cloud]}, which this hiresync deployment "
            "does not support; it can only connect tenants in "
            + ", ".join(CLOUD_NAMES[c] for c in supported)
            + ".",
            cloud=cloud.value,
            provider=PROVIDER,
        )
    return cloud


# -- app-only tokens -------------------------------------------------------------------------

_RECONSENT = (
    "hiresync is no longer authorized in this Microsoft 365 tenant: a Global Administrator "
    "must connect Microsoft 365 again (admin consent)."
)
_ROTATE_CREDENTIAL = (
    "The client secret of the hiresync app registration is invalid or has expired: create a "
    "new secret in Microsoft Entra ID and set HIRESYNC_MICROSOFT_CLIENT_SECRET."
)
TOKEN_ERROR_ADVICE: dict[int, str] = {
    7000215: _ROTATE_CREDENTIAL,  # invalid client secret
    7000222: _ROTATE_CREDENTIAL,  # client secret expired
    700016: _RECONSENT,  # application not found in the tenant
    7000229: _RECONSENT,  # no service principal for the app in the tenant
    65001: _RECONSENT,  # consent not granted
    500011: _RECONSENT,  # resource principal not found in the tenant
    7000112: "The hiresync application is disabled in this tenant: an administrator must "
    "enable it under Enterprise applications in Microsoft Entra ID.",
    90002: "This Microsoft 365 tenant no longer exists: connect the organization again.",
}
# A national-cloud tenant asking the worldwide endpoint (USGClientNotSupportedOnPublicEndpoint).
WRONG_CLOUD_CODES = frozenset({900439})
AUTH_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope"})
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def token_error(result: Mapping[str, Any]) -> ProviderError:
    """Translate an MSAL error result into the shared hierarchy, with advice for the admin."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or error)
    codes = [int(c) for c in result.get("error_codes") or () if str(c).isdigit()]
    if not codes and (code := aadsts_code(description)):
        codes = [int(code.removeprefix("AADSTS"))]
    for code in codes:
        if code in WRONG_CLOUD_CODES:
            return UnsupportedCloud(
                "This organization lives in a Microsoft national cloud (US Government) that "
                f"this hiresync deployment does not support. ({description.splitlines()[0]})",
                cloud=Cloud.US_GOV_GCC_HIGH.value,
                provider=PROVIDER,
                code=f"AADSTS{code}",
            )
        if code in TOKEN_ERROR_ADVICE:
            return AuthRevoked(
                f"{TOKEN_ERROR_ADVICE[code]} ({description.splitlines()[0]})",
                provider=PROVIDER,
                code=f"AADSTS{code}",
            )
    label = f"AADSTS{codes[0]}" if codes else error
    if error in TRANSIENT_ERRORS:
        return ProviderUnavailable(description, provider=PROVIDER, code=label)
    if error in AUTH_ERRORS:
        return AuthRevoked(
            f"{_RECONSENT} ({description.splitlines()[0]})", provider=PROVIDER, code=label
        )
    return ProviderError(description, provider=PROVIDER, code=label)


class AppTokenProvider:
    """App-only Graph tokens for one tenant: ``await provider(force_refresh)`` → access token.

    MSAL's token cache does the real caching; we keep the last token in memory too,
    so the common case costs no thread hop, and serialise acquisitions so that many
    concurrent requests starting together fetch one token, not one each (the client
    asks for the current token before forcing a refresh, so a burst of 401s costs one).
    """

    def __init__(
        self,
        *,
        login_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        scope: str = GRAPH_SCOPE,
    ) -> None:
        self.tenant_id = tenant_id
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._http = MsalHttpClient(login_url, timeout=timeout, transport=transport)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = anyio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.expires_at: datetime | None = None  # wall-clock expiry of the last token, in UTC

    async def __call__(self, force_refresh: bool = False) -> str:
        async with self._lock:
            now = time.monotonic()
            if self._token and not force_refresh and now < self._expires_at - 300:
                return self._token
            result = await anyio.to_thread.run_sync(self._acquire, force_refresh)
            self._token = result["access_token"]
            lifetime = float(result.get("expires_in") or 3599)
            self._expires_at = time.monotonic() + lifetime
            self.expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
            return self._token

    def close(self) -> None:
        self._http.close()

    def _acquire(self, force_refresh: bool) -> TokenResult:
        """Runs in a worker thread: MSAL builds its authority (network) and fetches a token."""
        try:
            app = self._app or self._build_app()
            if force_refresh:
                self._forget_cached_tokens(app)
            result = cast(TokenResult, app.acquire_token_for_client(scopes=[self._scope]))
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"login service unreachable: {exc!r}", provider=PROVIDER
            ) from exc
        except (httpx.HTTPStatusError, msal.exceptions.MsalServiceError) as exc:
            raise ProviderUnavailable(f"login service failed: {exc}", provider=PROVIDER) from exc
        if "access_token" not in result:
            raise token_error(result)
        return result

    def _build_app(self) -> msal.ConfidentialClientApplication:
        """MSAL discovers the tenant's endpoints on construction; an unknown tenant fails here."""
        try:
            self._app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._secret,
                authority=f"{self._http.authority_base}/{quote(self.tenant_id, safe='')}",
                http_client=self._http,
                instance_discovery=self._http.instance_discovery,
            )
        except ValueError as exc:
            if "HTTP status: 4" in str(exc):
                raise AuthRevoked(
                    TOKEN_ERROR_ADVICE[90002], provider=PROVIDER, code="AADSTS90002"
                ) from exc
            raise ProviderUnavailable(f"tenant discovery failed: {exc}", provider=PROVIDER) from exc
        return self._app

    def _forget_cached_tokens(self, app: msal.ConfidentialClientApplication) -> None:
        """``acquire_token_for_client`` refuses ``force_refresh``; emptying its cache forces one."""
        cache = app.token_cache
        for entry in list(
            cache.search(cache.CredentialType.ACCESS_TOKEN, query={"client_id": self._client_id})
        ):
            cache.remove_at(entry)
