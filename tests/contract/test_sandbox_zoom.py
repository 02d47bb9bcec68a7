"""The Zoom sandbox behaves like Zoom on the wire (PROVIDERS.md "Zoom", specs/zoom-*.json).

Every REST answer is validated against the 2023 Meeting API spec (strictly: only the extras in
``zoom_spec.DOCUMENTED_EXTRAS`` are allowed), ``app_deauthorized`` against the Marketplace spec,
and webhook signatures with the documented algorithm, recomputed here independently.
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
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from hiresync.sandbox.zoom import (
    CONTOSO_ACCOUNT_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_WEBHOOK_SECRET,
    FREE_ACCOUNT_ID,
    PRO_ACCOUNT_ID,
    Faults,
    Limits,
    ZoomSandbox,
    create_app,
)
from tests.contract.zoom_spec import (
    DOCUMENTED_EXTRAS,
    SpecViolation,
    validate_query,
    validate_response,
    validate_webhook,
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


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with serve_in_thread(
        Starlette(routes=[Route("/zoom", hook.endpoint, methods=["POST"])])
    ) as url:
        yield hook, f"{url}/zoom"


@pytest.fixture(scope="module")
def sandbox() -> ZoomSandbox:
    return ZoomSandbox.seeded()


@pytest.fixture(scope="module")
def base(sandbox: ZoomSandbox) -> Iterator[str]:
    with serve_in_thread(create_app(sandbox)) as url:
        yield url


@pytest.fixture
def http(sandbox: ZoomSandbox, base: str) -> Iterator[httpx.Client]:
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


@pytest.fixture
def hook(http: httpx.Client, sandbox: ZoomSandbox, receiver: tuple[Receiver, str]) -> Receiver:
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


# -- OAuth -----------------------------------------------------------------------------------------


def test_authorize_shows_accounts_then_redirects_back_with_code_and_state(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    _, challenge = pkce()
    page = http.get("/oauth/authorize", params=authorize_params(challenge))
    assert page.status_code == 200 and "data-zoom-page='authorize'" in page.text
    assert PAT in page.text and ALEX in page.text and "pre-approval required" in page.text
    query = query_of(sign_in(http, sandbox, FAY, challenge))
    assert query["state"] == "st-123" and len(query["code"]) >= 20


def test_declining_redirects_with_access_denied_and_the_state(http: httpx.Client) -> None:
    _, challenge = pkce()
    response = http.post(
        "/oauth/authorize", data=authorize_params(challenge) | {"action": "cancel"}
    )
    assert query_of(response) == {"error": "access_denied", "state": "st-123"}


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"client_id": "nope"}, "Invalid client_id: nope (4,702)"),
        (
            {"redirect_uri": "https://evil.example/cb"},
            "Invalid redirect: https://evil.example/cb (4,709)",
        ),
    ],
)
def test_app_problems_show_an_error_page_and_never_redirect(
    http: httpx.Client, change: dict[str, str], shown: str
) -> None:
    _, challenge = pkce()
    response = http.get("/oauth/authorize", params=authorize_params(challenge) | change)
    assert response.status_code == 400 and "location" not in response.headers
    assert shown in response.text


def test_code_exchange_returns_bearer_tokens_for_an_hour_and_the_api_url(
    http: httpx.Client, sandbox: ZoomSandbox, base: str
) -> None:
    body = tokens_for(http, sandbox, FAY)
    assert set(body) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "api_url",
    }
    assert body["token_type"] == "bearer" and body["expires_in"] == 3599
    assert body["scope"] == "meeting:read meeting:write user:read" and body["api_url"] == base


def test_codes_are_single_use_and_expire_after_five_minutes(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    verifier, challenge = pkce()
    code = query_of(sign_in(http, sandbox, FAY, challenge))["code"]
    assert exchange(http, code, verifier).status_code == 200
    again = exchange(http, code, verifier)
    assert again.status_code == 400 and again.json() == {
        "reason": "Invalid authorization code",
        "error": "invalid_grant",
    }
    verifier, challenge = pkce()
    late = query_of(sign_in(http, sandbox, FAY, challenge))["code"]
    sandbox.clock = lambda: time.time() + 301
    assert exchange(http, late, verifier).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("verifier", "redirect", "answer"),
    [
        ("wrong-verifier", REDIRECT, {"reason": "Invalid code_verifier", "error": "invalid_grant"}),
        (
            None,
            "http://localhost:8000/other",
            {"reason": "Redirect URI mismatch.", "error": "invalid_request"},
        ),
    ],
)
def test_code_is_bound_to_pkce_and_redirect_uri(
    http: httpx.Client,
    sandbox: ZoomSandbox,
    verifier: str | None,
    redirect: str,
    answer: dict[str, str],
) -> None:
    good, challenge = pkce()
    code = query_of(sign_in(http, sandbox, FAY, challenge))["code"]
    response = exchange(http, code, verifier or good, redirect)
    assert response.status_code == 400 and response.json() == answer


def test_token_endpoint_needs_the_client_secret_and_a_known_grant_type(http: httpx.Client) -> None:
    wrong = http.post(
        "/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(DEMO_CLIENT_ID, "bad"),
    )
    assert wrong.status_code == 400
    assert wrong.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }
    odd = http.post("/oauth/token", params={"grant_type": "password"}, auth=BASIC_AUTH)
    assert odd.json() == {"reason": "unsupported grant type", "error": "unsupported_grant_type"}


def test_every_refresh_rotates_and_a_used_refresh_token_is_dead(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    first = tokens_for(http, sandbox, FAY)
    second = refresh(http, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = refresh(http, first["refresh_token"])
    assert reused.status_code == 400 and reused.json() == {
        "reason": "Invalid Token!",
        "error": "invalid_grant",
    }
    third = refresh(http, second.json()["refresh_token"])
    assert third.status_code == 200
    me = http.get(
        "/v2/users/me", headers={"Authorization": f"Bearer {third.json()['access_token']}"}
    )
    assert me.status_code == 200


def test_refresh_grace_window_is_configurable(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    first = tokens_for(http, sandbox, FAY)
    sandbox.limits.refresh_grace_seconds = 30
    assert refresh(http, first["refresh_token"]).status_code == 200
    assert refresh(http, first["refresh_token"]).status_code == 200  # a racing worker still wins
    sandbox.clock = lambda: time.time() + 31
    assert refresh(http, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_expired_and_unknown_access_tokens_get_code_124(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    sandbox.clock = lambda: time.time() + 3600
    expired = http.get("/v2/users/me", headers=auth)
    assert expired.status_code == 401 and expired.json() == {
        "code": 124,
        "message": "Access token is expired.",
    }
    validate_response("GET", "/users/me", 401, expired.json())
    unknown = http.get("/v2/users/me", headers={"Authorization": "Bearer nope"})
    assert unknown.json() == {"code": 124, "message": "Invalid access token."}


def test_revoke_ends_the_authorization_and_notifies_app_deauthorized(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    tokens = tokens_for(http, sandbox, FAY)
    response = http.post("/oauth/revoke", params={"token": tokens["access_token"]}, auth=BASIC_AUTH)
    assert response.status_code == 200 and response.json() == {"status": "success"}
    me = http.get("/v2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json() == {"code": 124, "message": "Invalid access token."}
    assert refresh(http, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    sandbox.deliver_webhooks()
    ((headers, raw),) = [
        (h, b) for h, b in hook.received if json.loads(b)["event"] == "app_deauthorized"
    ]
    assert_signed(headers, raw)
    body = json.loads(raw)
    validate_webhook(body)
    fay = sandbox.user(FAY)
    assert body["payload"]["user_id"] == fay.id and body["payload"]["account_id"] == fay.account_id
    assert body["payload"]["client_id"] == DEMO_CLIENT_ID


def test_marketplace_spec_rejects_an_undocumented_field() -> None:
    good = {
        "event": "app_deauthorized",
        "payload": {
            "user_id": "u",
            "account_id": "a",
            "client_id": "c",
            "deauthorization_time": "2026-03-11T15:00:00.000Z",
            "signature": "s",
            "event_ts": 1,
        },
    }
    validate_webhook(good)
    with pytest.raises(SpecViolation, match="not defined by the spec"):
        validate_webhook(good | {"event_ts": 1})


def test_spec_helper_rejects_what_zoom_does_not_document() -> None:
    created = {"id": 85746065432, "uuid": "x==", "topic": "t", "settings": {"waiting_room": True}}
    validate_response("POST", "/users/me/meetings", 201, created)
    with pytest.raises(SpecViolation, match="invented: not defined"):
        validate_response("POST", "/users/me/meetings", 201, created | {"invented": 1})
    with pytest.raises(SpecViolation, match=r"settings\.nope: not defined"):
        validate_response("POST", "/users/me/meetings", 201, created | {"settings": {"nope": 1}})
    with pytest.raises(SpecViolation, match="not documented for 404"):
        validate_response("GET", "/meetings/1", 404, {"code": 9999, "message": "m"})
    with pytest.raises(SpecViolation, match="status 418"):
        validate_response("GET", "/meetings/1", 418, {"code": 418, "message": "teapot"})


# -- pre-approval ----------------------------------------------------------------------------------


def test_member_sees_pre_approval_page_until_an_admin_approves(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    verifier, challenge = pkce()
    blocked = sign_in(http, sandbox, PAT, challenge)
    assert blocked.status_code == 200 and "data-zoom-page='preapproval-required'" in blocked.text
    assert (
        "This app needs pre-approval from your admin" in blocked.text
        and "Request Pre-approval" in blocked.text
    )
    requested = sign_in(http, sandbox, PAT, challenge, action="request_preapproval")
    assert (
        "data-zoom-page='preapproval-requested'" in requested.text
        and "Pre-approval Requested" in requested.text
    )
    pending = http.get("/_control/preapproval-requests").json()
    assert [(r["email"], r["approved_at"]) for r in pending] == [(PAT, None)]
    sandbox.pre_approve(CONTOSO_ACCOUNT_ID, DEMO_CLIENT_ID)
    code = query_of(sign_in(http, sandbox, PAT, challenge))["code"]
    assert exchange(http, code, verifier).status_code == 200
    assert http.get("/_control/preapproval-requests").json()[0]["approved_at"] is not None


def test_account_owner_can_add_the_app_without_pre_approval(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    _, challenge = pkce()
    assert "code" in query_of(sign_in(http, sandbox, IRIS, challenge))


def test_overview_page_lets_the_admin_pre_approve(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    sandbox.request_preapproval(PAT, DEMO_CLIENT_ID)
    create(http, bearer(http, sandbox, FAY), topic="Overview check")
    home = http.get("/")
    assert home.status_code == 200 and "Pre-approval requests" in home.text and PAT in home.text
    assert "Overview check" in home.text and "40 min" in home.text  # Basic users' cap
    approved = http.post(
        "/preapprovals", data={"account_id": CONTOSO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID}
    )
    assert approved.status_code == 303 and approved.headers["location"] == f"{http.base_url}/"
    assert DEMO_CLIENT_ID in sandbox.account(CONTOSO_ACCOUNT_ID).preapproved


# -- users -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "user_type", "concurrent"), [(ALEX, 1, "None"), (PAUL, 2, "None"), (FAY, 2, "Basic")]
)
def test_user_and_settings_tell_the_plan_and_match_the_spec(
    http: httpx.Client, sandbox: ZoomSandbox, email: str, user_type: int, concurrent: str
) -> None:
    auth = bearer(http, sandbox, email)
    me = http.get("/v2/users/me", headers=auth)
    validate_response("GET", "/users/me", 200, me.json())
    user = sandbox.user(email)
    assert me.json()["id"] == user.id and me.json()["account_id"] == user.account_id
    assert (me.json()["email"], me.json()["type"], me.json()["timezone"]) == (
        email,
        user_type,
        user.timezone,
    )
    assert me.headers["x-ratelimit-category"] == "Light"
    settings = http.get(f"/v2/users/{user.id}/settings", headers=auth)
    validate_response("GET", f"/users/{user.id}/settings", 200, settings.json())
    assert settings.json()["feature"]["concurrent_meeting"] == concurrent


def test_a_user_token_cannot_read_another_user(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    response = http.get(f"/v2/users/{PAUL}", headers=bearer(http, sandbox, FAY))
    assert response.status_code == 404 and response.json() == {
        "code": 1001,
        "message": f"User does not exist: {PAUL}.",
    }
    validate_response("GET", f"/users/{PAUL}", 404, response.json())


def test_token_without_meeting_scopes_is_refused_with_4711(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    sandbox.register_app("readOnlyApp", "s3cret", [REDIRECT], scopes=("user:read",))
    try:
        verifier, challenge = pkce()
        code = query_of(sign_in(http, sandbox, FAY, challenge, client_id="readOnlyApp"))["code"]
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=("readOnlyApp", "s3cret"),
        ).json()
        response = create(http, {"Authorization": f"Bearer {token['access_token']}"})
    finally:
        del sandbox.apps["readOnlyApp"]
    assert response.status_code == 400 and response.json()["code"] == 4711
    validate_response("POST", "/users/me/meetings", 400, response.json())


# -- meetings --------------------------------------------------------------------------------------


def test_create_answers_201_per_spec_with_only_documented_extras(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    response = create(
        http,
        bearer(http, sandbox, FAY),
        password="Int-9*x",
        agenda="Loop",
        settings={"join_before_host": True, "jbh_time": 5},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    validate_response("POST", "/users/me/meetings", 201, body)
    extras = set(body) & set(DOCUMENTED_EXTRAS[("POST", "/users/{userId}/meetings", 201)])
    assert extras == {"uuid", "host_id", "status", "encrypted_password"}
    assert isinstance(body["id"], int) and body["id"] >= 10**10 and body["host_email"] == FAY
    assert body["password"] == "Int-9*x" and f"pwd={body['encrypted_password']}" in body["join_url"]
    assert body["settings"]["join_before_host"] is True and body["settings"]["jbh_time"] == 5
    assert (
        response.headers["x-ratelimit-limit"] == "100"
        and response.headers["x-ratelimit-category"] == "Medium"
    )
    assert http.get(body["join_url"]).status_code == 200
    assert http.get(body["start_url"]).status_code == 200


def test_local_start_time_is_read_in_the_given_timezone(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    body = create(
        http, bearer(http, sandbox, FAY), start_time="2031-03-20T10:00:00", timezone="Europe/Berlin"
    ).json()
    assert (body["start_time"], body["timezone"]) == ("2031-03-20T09:00:00Z", "Europe/Berlin")


def test_a_scheduled_meeting_without_start_time_becomes_instant_with_a_passcode(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    response = http.post(
        "/v2/users/me/meetings",
        json={"topic": "Now", "type": 2},
        headers=bearer(http, sandbox, FAY),
    )
    assert response.status_code == 201 and response.json()["type"] == 1
    assert len(response.json()["password"]) == 6


@pytest.mark.parametrize("password", ["elevenchars", "has space", "semi;colon", "ünïcode"])
def test_passcodes_beyond_zooms_rules_fail_with_code_300(
    http: httpx.Client, sandbox: ZoomSandbox, password: str
) -> None:
    response = create(http, bearer(http, sandbox, FAY), password=password)
    assert response.status_code == 400 and response.json()["code"] == 300
    assert response.json()["message"].startswith(
        "Password may only contain the following characters"
    )
    validate_response("POST", "/users/me/meetings", 400, response.json())


def test_invalid_fields_fail_validation_naming_each_field(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    response = create(http, auth, agenda="x" * 2001, settings={"jbh_time": 7, "future": 1})
    assert response.status_code == 400
    assert response.json() == {
        "code": 300,
        "message": "Validation Failed.",
        "errors": [
            {"field": "agenda", "message": "Invalid field."},
            {"field": "settings.jbh_time", "message": "Invalid field."},
        ],
    }
    validate_response("POST", "/users/me/meetings", 400, response.json())
    assert create(http, auth, agenda="x" * 2000, settings={"future": 1}).status_code == 201


def test_waiting_room_turns_join_before_host_off(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    body = create(
        http, bearer(http, sandbox, FAY), settings={"join_before_host": True, "waiting_room": True}
    ).json()
    assert (
        body["settings"]["waiting_room"] is True and body["settings"]["join_before_host"] is False
    )


def test_get_patch_delete_lifecycle_and_zooms_404(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    got = http.get(f"/v2/meetings/{meeting_id}", headers=auth)
    validate_response("GET", f"/meetings/{meeting_id}", 200, got.json())
    patched = http.patch(
        f"/v2/meetings/{meeting_id}",
        json={"topic": "Moved", "start_time": "2031-01-02T15:00:00Z", "duration": 30},
        headers=auth,
    )
    assert patched.status_code == 204 and patched.content == b""
    after = http.get(f"/v2/meetings/{meeting_id}", headers=auth).json()
    assert (after["topic"], after["start_time"], after["duration"]) == (
        "Moved",
        "2031-01-02T15:00:00Z",
        30,
    )
    assert http.delete(f"/v2/meetings/{meeting_id}", headers=auth).status_code == 204
    gone = http.get(f"/v2/meetings/{meeting_id}", headers=auth)
    assert gone.status_code == 404 and gone.json() == {
        "code": 3001,
        "message": f"Meeting does not exist: {meeting_id}.",
    }
    validate_response("GET", f"/meetings/{meeting_id}", 404, gone.json())
    validate_response(
        "DELETE",
        f"/meetings/{meeting_id}",
        404,
        http.delete(f"/v2/meetings/{meeting_id}", headers=auth).json(),
    )


def test_another_hosts_meeting_is_out_of_reach(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    meeting_id = create(http, bearer(http, sandbox, FAY)).json()["id"]
    response = http.patch(
        f"/v2/meetings/{meeting_id}", json={"topic": "x"}, headers=bearer(http, sandbox, PAUL)
    )
    assert response.status_code == 400 and response.json()["code"] == 3000
    validate_response("PATCH", f"/meetings/{meeting_id}", 400, response.json())


def test_listing_pages_with_next_page_token(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    auth = bearer(http, sandbox, "lena.berg@fabrikam-talent.test")
    made = {create(http, auth, topic=f"Loop {i}").json()["id"] for i in range(3)}
    params = {"type": "upcoming", "page_size": "2"}
    validate_query("GET", "/users/me/meetings", params)
    first = http.get("/v2/users/me/meetings", params=params, headers=auth).json()
    validate_response("GET", "/users/me/meetings", 200, first)
    assert first["total_records"] == 3 and len(first["meetings"]) == 2 and first["next_page_token"]
    second = http.get(
        "/v2/users/me/meetings",
        params=params | {"next_page_token": first["next_page_token"]},
        headers=auth,
    ).json()
    assert (
        second["next_page_token"] == ""
        and {m["id"] for m in first["meetings"] + second["meetings"]} == made
    )


def test_plan_limits_are_data_a_client_can_read(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    long_one = create(http, bearer(http, sandbox, ALEX), duration=90)
    assert (
        long_one.status_code == 201 and long_one.json()["duration"] == 90
    )  # scheduled, cut at 40 live
    assert sandbox.plan_limits(ALEX)["meeting_time_limit_minutes"] == 40
    assert sandbox.plan_limits("priya.sharma@contoso.com")["meeting_time_limit_minutes"] == 40
    assert sandbox.plan_limits(PAUL)["meeting_time_limit_minutes"] is None
    accounts = {a["id"]: a for a in http.get("/_control/accounts").json()}
    assert accounts[PRO_ACCOUNT_ID]["users"][0]["concurrent_meetings"] == 1
    assert accounts[FREE_ACCOUNT_ID]["plan"] == "free"
    assert accounts[FREE_ACCOUNT_ID]["users"][0]["meeting_time_limit_minutes"] == 40


def test_a_pro_host_runs_one_meeting_at_a_time_and_a_business_host_two(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    pro, biz = bearer(http, sandbox, PAUL), bearer(http, sandbox, FAY)
    first, second = (create(http, pro).json()["id"] for _ in range(2))
    assert http.post(f"/_control/meetings/{first}/start").json()["status"] == "started"
    assert http.post(f"/_control/meetings/{second}/start").status_code == 409
    busy = http.delete(f"/v2/meetings/{first}", headers=pro)
    assert busy.status_code == 400 and busy.json()["code"] == 3002
    http.post(f"/_control/meetings/{first}/end")
    a, b = (create(http, biz).json()["id"] for _ in range(2))
    assert all(http.post(f"/_control/meetings/{m}/start").status_code == 200 for m in (a, b))
    for m in (a, b):
        sandbox.end_meeting_in_zoom(m)


# -- limits ----------------------------------------------------------------------------------------


def test_meeting_writes_are_capped_per_host_per_utc_day(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    assert Limits().meeting_writes_per_day == 100
    sandbox.limits.meeting_writes_per_day = 3
    auth = bearer(http, sandbox, "omar.haddad@fabrikam-talent.test")
    first = create(http, auth)
    assert first.headers["x-ratelimit-remaining"] == "2"
    patched = http.patch(f"/v2/meetings/{first.json()['id']}", json={"topic": "t"}, headers=auth)
    assert patched.headers["x-ratelimit-remaining"] == "1"
    assert create(http, auth).status_code == 201
    assert (
        http.delete(f"/v2/meetings/{first.json()['id']}", headers=auth).status_code == 204
    )  # not counted
    refused = create(http, auth)
    assert refused.status_code == 429
    assert refused.json() == {
        "code": 429,
        "message": "You have exceeded the daily rate limit (3) of Meeting Create/Update API requests permitted for this particular user. You may resume these requests at GMT 00:00:00.",
    }
    midnight = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    assert (refused.headers["x-ratelimit-type"], refused.headers["retry-after"]) == (
        "Daily-limit",
        midnight,
    )
    validate_response("POST", "/users/me/meetings", 429, refused.json())
    sandbox.limits.daily_limit_status = 300
    old_style = create(http, auth)
    assert old_style.status_code == 300 and old_style.json()["code"] == 300
    validate_response("POST", "/users/me/meetings", 300, old_style.json())
    sandbox.clock = lambda: time.time() + 86400
    assert (
        create(http, bearer(http, sandbox, "omar.haddad@fabrikam-talent.test")).status_code == 201
    )


def test_per_second_limits_follow_the_plan_and_the_category(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, ALEX)  # free plan: Light 4/s, Medium 2/s
    now = time.time()
    sandbox.clock = lambda: now
    answers = [http.get("/v2/users/me", headers=auth) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "6000"  # the free plan's daily Light cap
    throttled = answers[-1]
    assert throttled.json() == {
        "code": 429,
        "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
    }
    assert (throttled.headers["x-ratelimit-category"], throttled.headers["x-ratelimit-type"]) == (
        "Light",
        "QPS",
    )
    assert "retry-after" not in throttled.headers
    assert (
        http.get(f"/v2/users/{sandbox.user(ALEX).id}/settings", headers=auth).status_code == 200
    )  # Medium
    sandbox.clock = lambda: now + 1.01
    assert http.get("/v2/users/me", headers=auth).status_code == 200


# -- webhooks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "passed"), [("correct", True), ("wrong", False), ("slow", False)])
def test_endpoint_validation_checks_the_hmac_answer_within_the_timeout(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver, mode: str, passed: bool
) -> None:
    hook.validation = mode
    sandbox.limits.webhook_timeout = 1.0
    result = http.post(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks/validate").json()
    assert result["passed"] is passed
    headers, raw = hook.received[-1]
    challenge = json.loads(raw)
    assert challenge["event"] == "endpoint.url_validation" and challenge["payload"]["plainToken"]
    assert isinstance(challenge["event_ts"], int)
    assert_signed(headers, raw)
    assert http.get(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks").json()["validated"] is passed


def test_a_change_made_in_zoom_sends_signed_meeting_updated(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    meeting_id = create(http, bearer(http, sandbox, FAY)).json()["id"]
    sandbox.limits.api_changes_emit_events = False
    sandbox.update_meeting_in_zoom(
        meeting_id, start_time=datetime(2031, 5, 1, 12, tzinfo=UTC), duration=60
    )
    sandbox.deliver_webhooks()
    assert [json.loads(b)["event"] for _, b in hook.received] == [
        "endpoint.url_validation",
        "meeting.updated",
    ]
    headers, raw = hook.received[-1]
    assert_signed(headers, raw)
    payload = json.loads(raw)["payload"]
    fay = sandbox.user(FAY)
    assert (payload["account_id"], payload["operator"], payload["operator_id"]) == (
        fay.account_id,
        FAY,
        fay.id,
    )
    assert (
        payload["object"]["id"] == meeting_id
        and payload["object"]["start_time"] == "2031-05-01T12:00:00Z"
    )
    assert payload["object"]["duration"] == 60 and payload["old_object"]["duration"] == 45
    assert set(payload["object"]) == {"id", "uuid", "start_time", "duration"}


def test_control_api_changes_a_meeting_as_the_host_would_in_zoom(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    changed = http.patch(
        f"/_control/meetings/{meeting_id}", json={"topic": "Panel", "duration": 90}
    )
    assert changed.status_code == 200
    after = http.get(f"/v2/meetings/{meeting_id}", headers=auth).json()
    assert (after["topic"], after["duration"]) == ("Panel", 90)
    assert http.patch(f"/_control/meetings/{meeting_id}", json={"duration": -1}).status_code == 400
    assert http.patch("/_control/meetings/1", json={"topic": "x"}).status_code == 404


def test_a_meeting_deleted_in_zoom_is_gone_and_notified(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    http.delete(f"/_control/meetings/{meeting_id}")
    assert http.get(f"/v2/meetings/{meeting_id}", headers=auth).json()["code"] == 3001
    sandbox.deliver_webhooks()
    (deleted,) = hook.events("meeting.deleted")
    assert (
        deleted["payload"]["object"]["id"] == meeting_id
        and deleted["payload"]["object"]["host_id"] == sandbox.user(FAY).id
    )


def test_changes_through_the_api_are_notified_too(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    auth = bearer(http, sandbox, FAY)
    meeting_id = create(http, auth).json()["id"]
    http.patch(f"/v2/meetings/{meeting_id}", json={"topic": "Renamed"}, headers=auth)
    sandbox.deliver_webhooks()
    (updated,) = hook.events("meeting.updated")
    assert updated["payload"]["object"] == {
        "id": meeting_id,
        "uuid": updated["payload"]["object"]["uuid"],
        "topic": "Renamed",
    }


def test_retries_only_server_errors_and_records_every_attempt(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    hook.statuses[:] = [500, 503, 200, 404]
    assert sandbox.deauthorize(FAY) is None  # nothing authorized: nothing to notify
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks(force=True)
    (retried,) = sandbox.deliveries(event="app_deauthorized")
    assert retried.status == "delivered" and [a.status for a in retried.attempts] == [500, 503, 200]
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks(force=True)
    client_error = sandbox.deliveries(event="app_deauthorized")[-1]
    assert client_error.status == "failed" and [a.status for a in client_error.attempts] == [404]
    listed = http.get("/_control/webhooks/deliveries", params={"event": "app_deauthorized"}).json()
    assert [d["status"] for d in listed] == ["delivered", "failed"]


def test_timeouts_are_retried_until_attempts_run_out(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    url = sandbox.apps[DEMO_CLIENT_ID].webhook.endpoint_url  # type: ignore[union-attr]
    subscription = {"endpoint_url": url, "events": ["app_deauthorized"]}
    put = http.put(f"/_control/apps/{DEMO_CLIENT_ID}/webhooks", json=subscription)
    assert put.json() == subscription | {"validated": None}
    assert sandbox.validate_endpoint().passed  # before answers get slow
    hook.delay, sandbox.limits.webhook_timeout = 0.6, 0.3
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks()
    (delivery,) = sandbox.deliveries(event="app_deauthorized")
    assert delivery.status == "retrying" and delivery.attempts[0].error.startswith("ReadTimeOut")
    sandbox.deliver_webhooks(force=True)
    assert delivery.status == "failed" and len(delivery.attempts) == 4


def test_an_endpoint_that_fails_validation_gets_no_events(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    hook.validation = "wrong"
    tokens_for(http, sandbox, FAY)
    sandbox.deauthorize(FAY)
    sandbox.deliver_webhooks()
    assert [e["event"] for e in hook.events()] == ["endpoint.url_validation"]
    assert sandbox.deliveries(event="app_deauthorized")[0].status == "blocked"


def test_background_delivery_needs_no_trigger(
    http: httpx.Client, sandbox: ZoomSandbox, hook: Receiver
) -> None:
    sandbox.limits.webhook_delivery = "background"
    tokens_for(http, sandbox, FAY)
    http.post(f"/_control/users/{FAY}/deauthorize", json={})
    deadline = time.monotonic() + 5
    while not hook.events("app_deauthorized") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(hook.events("app_deauthorized")) == 1


# -- faults and control ---------------------------------------------------------------------------


def test_fail_next_fails_exactly_n_calls_with_zoom_error_bodies(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    put = http.put(
        f"/_control/accounts/{sandbox.user(FAY).account_id}/faults",
        json={"fail_next": 2, "fail_status": 503, "retry_after": 3},
    )
    assert put.json()["fail_next"] == 2
    first, second, third = (http.get("/v2/users/me", headers=auth) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["code"] == 503 and first.headers["retry-after"] == "3"
    validate_response("GET", "/users/me", 503, first.json())
    assert (
        http.put(f"/_control/accounts/{CONTOSO_ACCOUNT_ID}/faults", json={"nope": 1}).status_code
        == 400
    )


def test_throttle_rate_answers_like_a_per_second_limit(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    auth = bearer(http, sandbox, FAY)
    sandbox.set_faults(sandbox.user(FAY).account_id, throttle_rate=1.0)
    response = http.get("/v2/users/me", headers=auth)
    assert response.status_code == 429 and response.headers["x-ratelimit-type"] == "QPS"


@pytest.mark.parametrize("status", [0, 504])
def test_a_committed_create_can_lose_its_answer(
    http: httpx.Client, sandbox: ZoomSandbox, status: int
) -> None:
    auth = bearer(http, sandbox, "lena.berg@fabrikam-talent.test")
    sandbox.set_faults(
        sandbox.user(FAY).account_id, drop_response_after_commit_next=1, drop_response_status=status
    )
    topic = f"Lost answer {status}"
    if status == 0:
        with pytest.raises(httpx.RemoteProtocolError):
            create(http, auth, topic=topic)
    else:
        assert create(http, auth, topic=topic).status_code == 504
    committed = [
        m for m in sandbox.meetings_of("lena.berg@fabrikam-talent.test") if m.topic == topic
    ]
    assert len(committed) == 1  # applied although the client never saw the 201
    assert create(http, auth).status_code == 201  # only the next one


def test_latency_is_added_to_rest_calls(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    auth = bearer(http, sandbox, FAY)
    sandbox.set_faults(sandbox.user(FAY).account_id, latency_ms=250)
    started = time.perf_counter()
    assert http.get("/v2/users/me", headers=auth).status_code == 200
    assert time.perf_counter() - started >= 0.25


def test_limits_stats_and_mounting_under_a_prefix(http: httpx.Client, sandbox: ZoomSandbox) -> None:
    assert (
        http.put("/_control/limits", json={"meeting_writes_per_day": 7}).json()[
            "meeting_writes_per_day"
        ]
        == 7
    )
    assert http.put("/_control/limits", json={"bogus": 1}).status_code == 400
    bearer(http, sandbox, FAY)
    assert http.get("/_control/stats").json()["oauth"]["issued"] == 1
    parent = Starlette(routes=[Mount("/sandbox/zoom", app=create_app(sandbox))])
    with serve_in_thread(parent) as url, httpx.Client(base_url=url) as client:
        verifier, challenge = pkce()
        code = query_of(
            client.post(
                "/sandbox/zoom/oauth/authorize",
                data=authorize_params(challenge) | {"user": sandbox.user(FAY).id},
            )
        )["code"]
        body = client.post(
            "/sandbox/zoom/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=BASIC_AUTH,
        ).json()
        assert body["api_url"] == f"{url}/sandbox/zoom"
        meeting = client.post(
            "/sandbox/zoom/v2/users/me/meetings",
            json={"topic": "x", "type": 2, "start_time": "2031-01-01T10:00:00Z"},
            headers={"Authorization": f"Bearer {body['access_token']}"},
        ).json()
        assert meeting["join_url"].startswith(f"{url}/sandbox/zoom/j/")
