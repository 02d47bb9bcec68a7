"""The HTTP client MSAL uses: httpx, plus a TLS-terminating-proxy shim for plain-http sandboxes.

Why this exists. MSAL only accepts ``https://`` authorities (``canonicalize`` rejects
anything else), and it follows the ``token_endpoint`` that the tenant's OpenID
configuration names. Production talks to ``https://login.microsoftonline.com`` and
needs nothing special, but ``hiresync demo`` and the test suite run the Microsoft
sandbox on plain ``http://127.0.0.1:PORT``.

So when the configured login URL is ``http://…`` we do what a TLS-terminating
reverse proxy would do: MSAL is handed the ``https://`` form of that URL as its
authority, and every request MSAL makes under that https prefix is sent to the
configured http URL with ``X-Forwarded-Proto: https``. The sandbox (served by
uvicorn with proxy headers honoured) builds the URLs in its OpenID configuration
from that header, so MSAL only ever sees https endpoints, and its own validation
stays on. No test switch lives in MSAL's path: the same code runs in production,
where the mapping is simply empty.

The client also replaces ``requests`` (MSAL's default) with httpx, the one HTTP
library of the project, so timeouts and transports are configured the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS


def https_form(url: str) -> str:
    """``url`` with its scheme set to https (``http://h:p/x`` → ``https://h:p/x``)."""
    parts = urlsplit(url)
    return urlunsplit(("https", parts.netloc, parts.path, parts.query, parts.fragment))


class MsalHttpClient:
    """MSAL's ``HttpClient`` interface (``get``/``post`` → response) over ``httpx.Client``.

    ``httpx.Response`` already has what MSAL reads: ``status_code``, ``text``,
    ``headers`` and ``raise_for_status()``.
    """

    def __init__(
        self,
        login_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.authority_base = https_form(self.login_url)
        self._proxied = urlsplit(self.login_url).scheme == "http"
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), transport=transport)

    @property
    def instance_discovery(self) -> bool | None:
        """What to pass MSAL as ``instance_discovery``.

        Instance discovery asks login.microsoftonline.com whether an authority host
        is Microsoft's; for any other configured host (a sandbox, a proxy) it would
        fail, so it is turned off there and left at MSAL's default otherwise.
        """
        host = urlsplit(self.authority_base).hostname or ""
        return None if host in WELL_KNOWN_AUTHORITY_HOSTS else False

    def map_url(self, url: str) -> tuple[str, dict[str, str]]:
        """The URL to really request, and the headers the proxy adds."""
        base = self.authority_base
        if self._proxied and (url == base or url.startswith(base + "/")):
            return self.login_url + url[len(self.authority_base) :], {"X-Forwarded-Proto": "https"}
        return url, {}

    def post(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        real_url, extra = self.map_url(url)
        body: dict[str, Any] = {}
        if isinstance(data, str | bytes):
            body["content"] = data
        elif data is not None:
            body["data"] = dict(data)
        return self._http.post(
            real_url,
            params=_clean(params) or None,
            headers={**_clean(headers), **extra},
            timeout=kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT),
            **body,
        )

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        real_url, extra = self.map_url(url)
        return self._http.get(
            real_url,
            params=_clean(params) or None,
            headers={**_clean(headers), **extra},
            timeout=kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT),
        )

    def close(self) -> None:
        self._http.close()


def _clean(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Drop None values (MSAL sends e.g. a None correlation id; httpx rejects them)."""
    return {k: str(v) for k, v in (values or {}).items() if v is not None}
