"""Fixtures for the Microsoft sandbox contract tests (all prefixed ``ms_``).

The seeded sandbox is built once per module (seeding 250 calendars takes ~0.6 s) and served
on a real loopback port; ``ms_http`` restores faults, limits, clock, consent and statistics
after each test so tests stay independent.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from hiresync.sandbox.microsoft import DEMO_CLIENT_ID, Faults, Limits, MicrosoftSandbox, create_app
from tests.servers import serve_in_thread

# A fixed "now" keeps seeded calendars (and therefore assertions) identical on every run.
MS_NOW = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def ms_sandbox() -> MicrosoftSandbox:
    sandbox = MicrosoftSandbox.seeded(now=MS_NOW)
    sandbox.grant_admin_consent("contoso.com", DEMO_CLIENT_ID)
    return sandbox


@pytest.fixture(scope="module")
def ms_base_url(ms_sandbox: MicrosoftSandbox) -> Iterator[str]:
    with serve_in_thread(create_app(ms_sandbox)) as url:
        yield url


def _restore(sandbox: MicrosoftSandbox) -> None:
    sandbox.limits = Limits()
    sandbox.clock = time.time
    sandbox.stats.reset()
    for tenant in sandbox.tenants.values():
        tenant.faults = Faults()
    sandbox.grant_admin_consent("contoso.com", DEMO_CLIENT_ID)


@pytest.fixture
def ms_http(ms_sandbox: MicrosoftSandbox, ms_base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the live sandbox; state is restored when the test ends."""
    with httpx.Client(base_url=ms_base_url, timeout=15) as client:
        yield client
    _restore(ms_sandbox)


def client_credentials(
    http: httpx.Client,
    tenant: str = "contoso.com",
    client_id: str = DEMO_CLIENT_ID,
    secret: str | None = None,
    scope: str = GRAPH_SCOPE,
) -> httpx.Response:
    """POST a client_credentials token request the way MSAL does."""
    from hiresync.sandbox.microsoft import DEMO_CLIENT_SECRET

    return http.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret or DEMO_CLIENT_SECRET,
            "scope": scope,
        },
    )


@pytest.fixture
def ms_token(ms_http: httpx.Client) -> str:
    """A fresh app-only Graph token for Contoso."""
    response = client_credentials(ms_http)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def ms_graph(ms_http: httpx.Client, ms_token: str) -> httpx.Client:
    """``ms_http`` with the bearer token set, for Graph calls (``/graph/v1.0/...``)."""
    ms_http.headers["Authorization"] = f"Bearer {ms_token}"
    return ms_http


def replace_limits(sandbox: MicrosoftSandbox, **changes: object) -> None:
    sandbox.limits = dataclasses.replace(sandbox.limits, **changes)
