"""Build ready-to-use Microsoft adapters for a tenant from ``Settings``.

Services ask ``MicrosoftTenants`` for a tenant's connection; it keeps one token
provider (and so one MSAL token cache) and one Graph client per tenant for the life
of the process, and ``aclose()`` closes every HTTP client it opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from hiresync.config import Settings

from .adapter import MicrosoftDirectory, MicrosoftFreeBusy
from .client import GraphClient, RetryPolicy
from .identity import AppTokenProvider


@dataclass(slots=True)
class MicrosoftConnection:
    """Everything needed to talk to one tenant's Microsoft 365."""

    tenant_id: str
    tokens: AppTokenProvider
    client: GraphClient
    directory: MicrosoftDirectory
    freebusy: MicrosoftFreeBusy

    async def aclose(self) -> None:
        await self.client.aclose()
        self.tokens.close()


def connect_tenant(
    settings: Settings,
    tenant_id: str,
    *,
    retry: RetryPolicy | None = None,
    graph_transport: httpx.AsyncBaseTransport | None = None,
    login_transport: httpx.BaseTransport | None = None,
) -> MicrosoftConnection:
    """A ``MicrosoftConnection`` for ``tenant_id`` using the app registration in ``settings``.

    Nothing goes on the wire until the first call; a broken connection shows up as
    ``AuthRevoked`` from that call.
    """
    tokens = AppTokenProvider(
        login_url=settings.microsoft_login_url,
        tenant_id=tenant_id,
        client_id=settings.microsoft_client_id,
        client_secret=settings.microsoft_client_secret,
        timeout=settings.microsoft_timeout_seconds,
        transport=login_transport,
    )
    client = GraphClient(
        graph_url=settings.microsoft_graph_url,
        get_token=tokens,
        timeout=settings.microsoft_timeout_seconds,
        max_concurrency=settings.microsoft_max_concurrency,
        retry=retry,
        transport=graph_transport,
    )
    return MicrosoftConnection(
        tenant_id=tenant_id,
        tokens=tokens,
        client=client,
        directory=MicrosoftDirectory(client),
        freebusy=MicrosoftFreeBusy(client),
    )


class MicrosoftTenants:
    """One ``MicrosoftConnection`` per tenant, created on first use and closed together."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connections: dict[str, MicrosoftConnection] = {}

    def get(self, tenant_id: str) -> MicrosoftConnection:
        connection = self._connections.get(tenant_id)
        if connection is None:
            connection = connect_tenant(self._settings, tenant_id)
            self._connections[tenant_id] = connection
        return connection

    async def forget(self, tenant_id: str) -> None:
        """Close and drop a tenant's connection (after disconnect, or a new secret)."""
        connection = self._connections.pop(tenant_id, None)
        if connection is not None:
            await connection.aclose()

    async def aclose(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            await connection.aclose()
