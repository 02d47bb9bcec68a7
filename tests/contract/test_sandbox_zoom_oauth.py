"""The Zoom sandbox's OAuth behaves like Zoom's (PROVIDERS.md "user OAuth"): authorize page and
redirect, codes bound to PKCE and redirect URI, Basic client auth, refresh-token rotation,
revoke with ``app_deauthorized``, and admin pre-approval.

Split from the former ``test_sandbox_zoom.py``; fixtures and helpers live in
``zoom_fixtures.py``.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from hiresync.sandbox.zoom import (
    CONTOSO_ACCOUNT_ID,
    DEMO_CLIENT_ID,
    ZoomSandbox,
)
from tests.contract.zoom_fixtures import (  # noqa: F401 (fixtures: found by pytest by name)
    ALEX,
    BASIC_AUTH,
    FAY,
    IRIS,
    PAT,
    REDIRECT,
    Receiver,
    assert_signed,
    authorize_params,
    base_fixture,
    bearer,
    create,
    exchange,
    hook_fixture,
    http_fixture,
    pkce,
    query_of,
    receiver_fixture,
    refresh,
    sandbox_fixture,
    sign_in,
    tokens_for,
)
from tests.contract.zoom_spec import (
    SpecViolation,
    validate_response,
    validate_webhook,
)

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
