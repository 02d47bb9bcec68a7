"""``CompanyCalendar`` for Microsoft 365: admin consent, cloud check, app-only tokens, and
the directory and free/busy adapters, for any number of tenants in one process.

One Graph client per tenant lives as long as the process, so the per-mailbox
concurrency limit (4 in flight, see PROVIDERS.md) is enforced across every request that
touches that tenant, not just within one. The token callable is swapped in on each use
because the caller owns where tokens are stored (encrypted, in the database).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx

from hiresync.config import Settings
from hiresync.providers.base import ConsentOutcome, ConsentStatus, IssuedToken, TokenGetter

from . import identity
from .adapter import MicrosoftDirectory, MicrosoftFreeBusy
from .client import GraphClient
from .events import MicrosoftEvents

_STATUS = {
    identity.ConsentOutcome.GRANTED: ConsentStatus.GRANTED,
    identity.ConsentOutcome.NOT_ADMIN: ConsentStatus.NOT_ADMIN,
    identity.ConsentOutcome.DECLINED: ConsentStatus.DECLINED,
    identity.ConsentOutcome.ERROR: ConsentStatus.FAILED,
}


class MicrosoftCompanyCalendar:
    provider = "microsoft"

    def __init__(
        self,
        settings: Settings,
        *,
        graph_transport: httpx.AsyncBaseTransport | None = None,
        login_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._graph_transport = graph_transport
        self._login_transport = login_transport
        self._tokens: dict[str, identity.AppTokenProvider] = {}
        self._clients: dict[str, GraphClient] = {}
        self._getters: dict[str, TokenGetter] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MicrosoftCompanyCalendar:
        return cls(settings)

    def admin_consent_url(self, redirect_uri: str, state: str) -> str:
        return identity.admin_consent_url(
            self._settings.microsoft_login_url,
            client_id=self._settings.microsoft_client_id,
            redirect_uri=redirect_uri,
            state=state,
        )

    def read_consent_callback(self, params: Mapping[str, str]) -> ConsentOutcome:
        result = identity.parse_consent_callback(params)
        return ConsentOutcome(
            status=_STATUS[result.outcome],
            tenant_id=result.tenant_id,
            error_code=result.error_code,
            message=result.description,
        )

    async def check_cloud(self, tenant_id: str) -> str:
        cloud = await identity.check_tenant_cloud(self._settings.microsoft_login_url, tenant_id)
        return cloud.value

    def _token_provider(self, tenant_id: str) -> identity.AppTokenProvider:
        provider = self._tokens.get(tenant_id)
        if provider is None:
            provider = identity.AppTokenProvider(
                login_url=self._settings.microsoft_login_url,
                tenant_id=tenant_id,
                client_id=self._settings.microsoft_client_id,
                client_secret=self._settings.microsoft_client_secret,
                timeout=self._settings.microsoft_timeout_seconds,
                transport=self._login_transport,
            )
            self._tokens[tenant_id] = provider
        return provider

    async def app_token(self, tenant_id: str, *, force_refresh: bool) -> IssuedToken:
        provider = self._token_provider(tenant_id)
        token = await provider(force_refresh)
        expires_at = provider.expires_at or datetime.now(UTC) + timedelta(minutes=55)
        return IssuedToken(token, expires_at)

    def _client(self, tenant_id: str, get_token: TokenGetter) -> GraphClient:
        self._getters[tenant_id] = get_token
        client = self._clients.get(tenant_id)
        if client is None:

            async def current_token(force_refresh: bool = False) -> str:
                return await self._getters[tenant_id](force_refresh)

            client = GraphClient(
                graph_url=self._settings.microsoft_graph_url,
                get_token=current_token,
                timeout=self._settings.microsoft_timeout_seconds,
                max_concurrency=self._settings.microsoft_max_concurrency,
                transport=self._graph_transport,
            )
            self._clients[tenant_id] = client
        return client

    def directory(self, tenant_id: str, get_token: TokenGetter) -> MicrosoftDirectory:
        return MicrosoftDirectory(self._client(tenant_id, get_token))

    def free_busy(
        self, tenant_id: str, get_token: TokenGetter, anchors: Mapping[str, str] | None = None
    ) -> MicrosoftFreeBusy:
        return MicrosoftFreeBusy(self._client(tenant_id, get_token), anchors=anchors)

    def events(self, tenant_id: str, get_token: TokenGetter) -> MicrosoftEvents:
        return MicrosoftEvents(self._client(tenant_id, get_token))

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        tokens, self._tokens = list(self._tokens.values()), {}
        for provider in tokens:
            provider.close()
