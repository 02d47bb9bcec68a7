"""``MeetingAccounts`` for Zoom: the object the runtime holds for the whole process.

It owns the one httpx client every Zoom call goes through (OAuth at ``zoom_oauth_url``, REST
at ``zoom_api_url``/v2), so connections are pooled across users, and hands out a
:class:`~.adapter.ZoomMeetings` per use, bound to the caller's token callable: the caller owns
where tokens live (encrypted, in the database) and how a refresh is stored.
"""

from __future__ import annotations

import httpx

from hiresync.config import Settings
from hiresync.providers.base import TokenGetter, UserTokens

from .adapter import ZoomMeetings
from .client import RetryPolicy, ZoomClient
from .oauth import ZoomOAuth


class ZoomAccounts:
    """Zoom's per-user OAuth (authorization code + PKCE) and its meeting API."""

    provider = "zoom"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        oauth_url: str,
        api_url: str,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._retry = retry
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport)
        self._oauth = ZoomOAuth(
            self._http, oauth_url=oauth_url, client_id=client_id, client_secret=client_secret
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> ZoomAccounts:
        return cls(
            client_id=settings.zoom_client_id,
            client_secret=settings.zoom_client_secret,
            oauth_url=settings.zoom_oauth_url,
            api_url=settings.zoom_api_url,
            timeout=settings.zoom_timeout_seconds,
            transport=transport,
            retry=retry,
        )

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        return self._oauth.authorization_url(redirect_uri, state, code_verifier)

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> UserTokens:
        return await self._oauth.exchange_code(code, redirect_uri, code_verifier)

    async def refresh(self, refresh_token: str) -> UserTokens:
        return await self._oauth.refresh(refresh_token)

    async def revoke(self, access_token: str) -> None:
        await self._oauth.revoke(access_token)

    def meetings(self, get_token: TokenGetter) -> ZoomMeetings:
        client = ZoomClient(
            self._http, api_url=self.api_url, get_token=get_token, retry=self._retry
        )
        return ZoomMeetings(client)

    async def aclose(self) -> None:
        await self._http.aclose()
