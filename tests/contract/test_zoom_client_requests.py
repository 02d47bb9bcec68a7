"""Every request our Zoom client sends, checked against the Zoom spec, and our OAuth against
Zoom's rules (state + PKCE S256, Basic client auth, single-use codes, refresh rotation, revoke).

The client talks to the live sandbox (so paging, token renewals and refusals are real); a
recording transport keeps each request on the way out, and ``zoom_spec`` validates its path,
query and body. A client that drifts from the real API fails here even if the sandbox would
have tolerated it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from hiresync.providers.base import MeetingRequest
from hiresync.providers.errors import AuthRevoked, BadRequest
from hiresync.providers.zoom import ZoomAccounts
from hiresync.providers.zoom.client import RetryPolicy
from hiresync.providers.zoom.oauth import new_code_verifier, new_state
from hiresync.sandbox.zoom import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZoomSandbox
from tests.contract.zoom_fixtures import (  # noqa: F401 (fixtures: found by pytest by name)
    FAY,
    REDIRECT,
    TokenBox,
    base_fixture,
    connect,
    http_fixture,
    sandbox_fixture,
    sign_in_at,
    zoom_settings,
)
from tests.contract.zoom_spec import validate_query, validate_request_body


class RecordingTransport(httpx.AsyncBaseTransport):
    """Keeps every request our client sends, then sends it for real."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def rest(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/v2/" in r.url.path]

    def oauth(self, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(f"/oauth/{endpoint}")]


def interview(key: str | None = None, days: int = 3) -> MeetingRequest:
    """A 45-minute interview at 10:00 New York time, ``days`` from now."""
    day = (datetime.now(UTC) + timedelta(days=days)).date()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("America/New_York"))
    return MeetingRequest(
        key=key or f"iv-{uuid.uuid4().hex[:12]}",
        topic="Interview: Jordan Lee",
        start=start,
        end=start + timedelta(minutes=45),
        time_zone="America/New_York",
        agenda="Bring a laptop.",
    )


@pytest.fixture
async def recorded(
    sandbox: ZoomSandbox, base: str
) -> AsyncIterator[tuple[ZoomAccounts, RecordingTransport]]:
    transport = RecordingTransport()
    accounts = ZoomAccounts.from_settings(
        zoom_settings(sandbox, base), transport, retry=RetryPolicy(base_delay=0.01, max_delay=0.1)
    )
    yield accounts, transport
    await accounts.aclose()


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def basic_credentials(request: httpx.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    return client_id, secret


# -- REST -------------------------------------------------------------------------------------


async def test_every_rest_request_matches_the_spec(
    recorded: tuple[ZoomAccounts, RecordingTransport],
    http: httpx.Client,
    sandbox: ZoomSandbox,
) -> None:
    accounts, transport = recorded
    sandbox.limits.list_max_page_size = 2  # so ``find`` follows next_page_token
    provider = accounts.meetings(await connect(accounts, http, sandbox, FAY))
    await provider.host()
    requests = [interview() for _ in range(3)]
    made = [await provider.create(r) for r in requests]
    assert (await provider.find(requests[0].key)).meeting_id == made[0].meeting_id  # type: ignore[union-attr]
    assert await provider.find("never-used") is None
    await provider.update(made[1].meeting_id, interview(requests[1].key, days=5))
    await provider.get(made[1].meeting_id)
    await provider.delete(made[2].meeting_id)

    sent = transport.rest()
    pages = [r for r in sent if r.method == "GET" and r.url.path.endswith("/meetings")]
    assert any("next_page_token" in r.url.params for r in pages)
    assert {(r.method, r.url.path.rsplit("/v2", 1)[1].split("/")[1]) for r in sent} >= {
        ("GET", "users"),
        ("POST", "users"),
        ("GET", "meetings"),
        ("PATCH", "meetings"),
        ("DELETE", "meetings"),
    }
    for request in sent:
        path = request.url.path
        validate_query(request.method, path, dict(request.url.params))
        body = json.loads(request.content) if request.content else None
        validate_request_body(request.method, path, body)
        assert request.headers["authorization"].startswith("Bearer ")


async def test_the_create_body_is_what_an_interview_needs(
    recorded: tuple[ZoomAccounts, RecordingTransport],
    http: httpx.Client,
    sandbox: ZoomSandbox,
) -> None:
    accounts, transport = recorded
    provider = accounts.meetings(await connect(accounts, http, sandbox, FAY))
    request = interview()
    await provider.create(request)
    (post,) = [r for r in transport.rest() if r.method == "POST"]
    body = json.loads(post.content)
    assert body["type"] == 2 and body["timezone"] == "America/New_York"
    assert body["start_time"] == request.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["duration"] == 45
    assert body["agenda"].splitlines()[-1] == f"hiresync:{request.key}"
    assert len(body["password"]) == 10
    assert (
        body["settings"]["join_before_host"] is True and body["settings"]["waiting_room"] is False
    )


# -- OAuth ------------------------------------------------------------------------------------


async def test_authorization_url_carries_state_and_an_s256_challenge(
    recorded: tuple[ZoomAccounts, RecordingTransport], http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    accounts, _ = recorded
    verifier, state = new_code_verifier(), new_state()
    url = accounts.authorization_url(REDIRECT, state, verifier)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert query == {
        "response_type": "code",
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": state,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    assert 43 <= len(verifier) <= 128
    assert sign_in_at(http, sandbox, url, FAY)["state"] == state


async def test_the_code_exchange_uses_basic_auth_and_a_code_works_once(
    recorded: tuple[ZoomAccounts, RecordingTransport], http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    accounts, transport = recorded
    verifier, state = new_code_verifier(), new_state()
    code = sign_in_at(http, sandbox, accounts.authorization_url(REDIRECT, state, verifier), FAY)[
        "code"
    ]
    tokens = await accounts.exchange_code(code, REDIRECT, verifier)
    assert tokens.access_token and tokens.refresh_token and tokens.scope
    (sent,) = transport.oauth("token")
    assert basic_credentials(sent) == (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert form_of(sent) == {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    with pytest.raises(BadRequest, match="Connect Zoom"):
        await accounts.exchange_code(code, REDIRECT, verifier)


async def test_a_code_is_bound_to_its_verifier(
    recorded: tuple[ZoomAccounts, RecordingTransport], http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    accounts, _ = recorded
    verifier = new_code_verifier()
    url = accounts.authorization_url(REDIRECT, new_state(), verifier)
    code = sign_in_at(http, sandbox, url, FAY)["code"]
    with pytest.raises(BadRequest):
        await accounts.exchange_code(code, REDIRECT, new_code_verifier())


async def test_refresh_returns_the_rotated_token_and_the_old_one_is_dead(
    recorded: tuple[ZoomAccounts, RecordingTransport], http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    accounts, transport = recorded
    box = await connect(accounts, http, sandbox, FAY)
    first = box.tokens
    second = await accounts.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert form_of(transport.oauth("token")[-1]) == {
        "grant_type": "refresh_token",
        "refresh_token": first.refresh_token,
    }
    with pytest.raises(AuthRevoked, match="Reconnect Zoom"):
        await accounts.refresh(first.refresh_token)
    third = await accounts.refresh(second.refresh_token)  # the stored (new) one keeps working
    host = await accounts.meetings(TokenBox(accounts, third)).host()
    assert host.email == FAY


async def test_revoke_ends_the_connection_and_revoking_again_is_fine(
    recorded: tuple[ZoomAccounts, RecordingTransport], http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    accounts, transport = recorded
    box = await connect(accounts, http, sandbox, FAY)
    await accounts.revoke(box.tokens.access_token)
    (sent,) = transport.oauth("revoke")
    assert sent.url.params["token"] == box.tokens.access_token
    assert basic_credentials(sent) == (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert sandbox.active_grant(sandbox.user(FAY).id, DEMO_CLIENT_ID) is None
    with pytest.raises(AuthRevoked):
        await accounts.refresh(box.tokens.refresh_token)
    await accounts.revoke(box.tokens.access_token)  # already gone counts as revoked


async def test_a_wrong_app_secret_is_an_admin_problem_not_a_revoked_connection(
    http: httpx.Client, sandbox: ZoomSandbox, base: str
) -> None:
    good = ZoomAccounts.from_settings(zoom_settings(sandbox, base))
    wrong = ZoomAccounts.from_settings(zoom_settings(sandbox, base, secret="not-the-secret"))
    try:
        box = await connect(good, http, sandbox, FAY)
        with pytest.raises(BadRequest, match="administrator") as caught:
            await wrong.refresh(box.tokens.refresh_token)
        assert not isinstance(caught.value, AuthRevoked)
        assert (await good.refresh(box.tokens.refresh_token)).access_token  # grant intact
    finally:
        await good.aclose()
        await wrong.aclose()
