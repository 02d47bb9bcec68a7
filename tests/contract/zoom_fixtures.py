"""Shared fixtures and helpers for the Zoom sandbox contract tests
(``test_sandbox_zoom_oauth.py``, ``test_sandbox_zoom_meetings.py``,
``test_sandbox_zoom_webhooks.py``) and for the tests of our Zoom client.

Fixtures are declared with explicit names (``sandbox``, ``base``, ``http``, ``hook``,
``receiver``) and defined under other names, so a test module makes them available with one
import line whose names its tests never shadow::

    from tests.contract.zoom_fixtures import base_fixture, http_fixture  # noqa: F401 (fixtures)

The seeded sandbox and a webhook receiver are served on real loopback ports, once per module;
``http`` restores limits, faults, clock, approvals, webhooks and grants after every test, so
tests stay independent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hiresync.config import Settings
from hiresync.providers.base import MeetingAccounts, UserTokens
from hiresync.providers.zoom import ZoomAccounts
from hiresync.providers.zoom.oauth import new_code_verifier, new_state
from hiresync.sandbox.zoom import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_WEBHOOK_SECRET,
    Faults,
    Limits,
    ZoomSandbox,
    create_app,
)
from tests.servers import serve_in_thread

REDIRECT = "http://localhost:8000/oauth/zoom/callback"
PAT, IRIS = "pat.recruiter@contoso.com", "it.admin@contoso.com"
FAY, PAUL, ALEX = (
    "fay.lopez@fabrikam-talent.test",
    "paul.pro@prorecruiting.test",
    "alex.contractor@gmail.example",
)
BASIC_AUTH = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)


# -- a webhook endpoint like hiresync's ------------------------------------------------------------


@dataclass
class Receiver:
    """Records what Zoom POSTs; answers events with ``statuses`` (then 200), validations per
    ``validation`` ("correct", "wrong", "slow")."""

    secret: str = DEMO_WEBHOOK_SECRET
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    validation: str = "correct"
    delay: float = 0.0

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        bodies = [json.loads(body) for _, body in self.received]
        return [b for b in bodies if name is None or b["event"] == name]

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        event = json.loads(body)
        if event["event"] == "endpoint.url_validation":
            plain = event["payload"]["plainToken"]
            digest = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
            if self.validation == "slow":
                await asyncio.sleep(1.5)
            if self.validation == "wrong":
                digest = digest[::-1]
            return JSONResponse({"plainToken": plain, "encryptedToken": digest})
        await asyncio.sleep(self.delay)
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture(scope="module", name="receiver")
def receiver_fixture() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with serve_in_thread(
        Starlette(routes=[Route("/zoom", hook.endpoint, methods=["POST"])])
    ) as url:
        yield hook, f"{url}/zoom"


@pytest.fixture(scope="module", name="sandbox")
def sandbox_fixture() -> ZoomSandbox:
    return ZoomSandbox.seeded()


@pytest.fixture(scope="module", name="base")
def base_fixture(sandbox: ZoomSandbox) -> Iterator[str]:
    with serve_in_thread(create_app(sandbox)) as url:
        yield url


@pytest.fixture(name="http")
def http_fixture(sandbox: ZoomSandbox, base: str) -> Iterator[httpx.Client]:
    """A client on the live sandbox; limits, faults, clock, approvals and webhooks are restored."""
    with httpx.Client(base_url=base, timeout=15) as client:
        yield client
    sandbox.limits, sandbox.clock = Limits(), time.time
    sandbox.stats.reset()
    sandbox.reset_rate_limits()
    for account in sandbox.accounts.values():
        account.faults, account.preapproved = Faults(), set()
    sandbox.preapproval_requests.clear()
    sandbox.apps[DEMO_CLIENT_ID].webhook = None
    for grant in sandbox.grants.values():  # every test starts with no app authorized
        grant.revoked_at = grant.revoked_at or time.time()


@pytest.fixture(name="hook")
def hook_fixture(
    http: httpx.Client, sandbox: ZoomSandbox, receiver: tuple[Receiver, str]
) -> Receiver:
    """The demo app subscribed to the receiver, delivering only when a test says so."""
    endpoint, url = receiver
    endpoint.received.clear()
    endpoint.statuses.clear()
    endpoint.validation, endpoint.delay = "correct", 0.0
    sandbox.limits.webhook_delivery = "manual"
    sandbox.webhooks.deliveries.clear()
    sandbox.configure_webhooks(url, DEMO_WEBHOOK_SECRET)
    return endpoint


# -- helpers ---------------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_params(challenge: str, state: str = "st-123") -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def sign_in(
    http: httpx.Client, sandbox: ZoomSandbox, email: str, challenge: str, **extra: str
) -> httpx.Response:
    user = sandbox.user(email)
    return http.post(
        "/oauth/authorize", data=authorize_params(challenge) | {"user": user.id} | extra
    )


def exchange(
    http: httpx.Client, code: str, verifier: str, redirect: str = REDIRECT
) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=BASIC_AUTH,
    )


def tokens_for(http: httpx.Client, sandbox: ZoomSandbox, email: str) -> dict[str, Any]:
    verifier, challenge = pkce()
    code = query_of(sign_in(http, sandbox, email, challenge))["code"]
    response = exchange(http, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(http: httpx.Client, sandbox: ZoomSandbox, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens_for(http, sandbox, email)['access_token']}"}


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post(
        "/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": token},
        auth=BASIC_AUTH,
    )


def create(http: httpx.Client, auth: dict[str, str], **body: Any) -> httpx.Response:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    payload = {
        "topic": "Interview",
        "type": 2,
        "start_time": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "duration": 45,
    } | body
    return http.post("/v2/users/me/meetings", json=payload, headers=auth)


def assert_signed(headers: dict[str, str], body: bytes, secret: str = DEMO_WEBHOOK_SECRET) -> None:
    """The documented check: v0= + hex HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")."""
    timestamp = headers["x-zm-request-timestamp"]
    message = f"v0:{timestamp}:".encode() + body
    expected = "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-zm-signature"], expected)
    assert abs(int(timestamp) - time.time()) < 30
    assert headers["user-agent"] == "Zoom Marketplace/1.0a"
    assert headers["content-type"] == "application/json; charset=utf-8"


# -- signing in through the authorize page, as a browser would --------------------------------------


class _AuthorizeForm(HTMLParser):
    """The form of the sandbox's sign-in page: its action, hidden fields and account buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.accounts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and found.get("type") == "hidden":
            self.hidden[found["name"]] = found.get("value", "")
        elif tag == "button" and found.get("name") == "user":
            self.accounts.append(found.get("value", ""))


def sign_in_at(
    http: httpx.Client, sandbox: ZoomSandbox, authorization_url: str, email: str
) -> dict[str, str]:
    """Open ``authorization_url`` (ours), pick ``email``'s account on Zoom's sign-in page and
    follow the form; returns the query Zoom redirects back with (``code``, ``state``)."""
    page = http.get(authorization_url)
    assert page.status_code == 200 and "data-zoom-page='authorize'" in page.text, page.text
    form = _AuthorizeForm()
    form.feed(page.text)
    user_id = sandbox.user(email).id
    assert user_id in form.accounts
    return query_of(http.post(form.action, data=form.hidden | {"user": user_id}))


# -- hiresync's Zoom connection, as the service keeps it ------------------------------------------


class TokenBox:
    """A connection's tokens as the service keeps them: a forced refresh stores the rotated pair."""

    def __init__(self, accounts: MeetingAccounts, tokens: UserTokens) -> None:
        self.accounts, self.tokens, self.forced = accounts, tokens, 0

    async def __call__(self, force_refresh: bool) -> str:
        if force_refresh:
            self.forced += 1
            self.tokens = await self.accounts.refresh(self.tokens.refresh_token)
        return self.tokens.access_token


def zoom_settings(sandbox: ZoomSandbox, base: str, secret: str | None = None) -> Settings:
    """hiresync's settings pointed at the sandbox (OAuth and REST both under ``base``)."""
    return Settings(
        zoom_client_id=sandbox.demo_client_id,
        zoom_client_secret=secret or sandbox.demo_client_secret,
        zoom_oauth_url=base,
        zoom_api_url=base,
        zoom_timeout_seconds=10,
    )


async def connect(
    accounts: ZoomAccounts, http: httpx.Client, sandbox: ZoomSandbox, email: str
) -> TokenBox:
    """Connect ``email``'s Zoom the way a user does: our URL, Zoom's page, our callback."""
    verifier, state = new_code_verifier(), new_state()
    url = accounts.authorization_url(REDIRECT, state, verifier)
    answer = sign_in_at(http, sandbox, url, email)
    assert answer["state"] == state
    return TokenBox(accounts, await accounts.exchange_code(answer["code"], REDIRECT, verifier))
