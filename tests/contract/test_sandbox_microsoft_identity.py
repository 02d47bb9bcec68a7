"""The sandbox's identity platform behaves like Entra ID on the wire (PROVIDERS.md, identity).

Token errors must carry ``error``, an ``error_description`` starting with the AADSTS code,
``error_codes``, ``timestamp``, ``trace_id`` and ``correlation_id``; consent decisions come back
as redirects; app misconfiguration shows an error page and never redirects.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from hiresync.sandbox.microsoft import (
    CONTOSO_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    FABRIKAM_GOV_ID,
    NORTHWIND_APP_ID,
    MicrosoftSandbox,
)
from tests.contract.conftest import client_credentials
from tests.servers import serve_in_thread

REDIRECT = "http://localhost:8000/oauth/microsoft/callback"
TOKEN_ERROR_KEYS = {
    "error",
    "error_description",
    "error_codes",
    "timestamp",
    "trace_id",
    "correlation_id",
}


def assert_token_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    """The identity platform's token-error JSON, as MSAL parses it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body.keys() >= TOKEN_ERROR_KEYS
    assert body["error"] == error
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["error_codes"] == [code]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


# -- discovery -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["contoso.com", CONTOSO_ID, "CONTOSO.onmicrosoft.com"])
def test_openid_configuration_resolves_domain_or_guid_and_honours_forwarded_headers(
    ms_http: httpx.Client, tenant: str
) -> None:
    response = ms_http.get(
        f"/{tenant}/v2.0/.well-known/openid-configuration",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hiresync.example"},
    )
    doc = response.json()
    assert response.status_code == 200
    assert doc["token_endpoint"] == f"https://hiresync.example/{CONTOSO_ID}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"].startswith("https://hiresync.example/")
    assert doc["issuer"] == f"https://hiresync.example/{CONTOSO_ID}/v2.0"
    assert doc["tenant_region_scope"] == "NA"
    assert doc["cloud_instance_name"] == "microsoftonline.com"


def test_gcc_high_tenant_reports_its_us_government_cloud(ms_http: httpx.Client) -> None:
    doc = ms_http.get("/fabrikam.gov/v2.0/.well-known/openid-configuration").json()
    assert doc["tenant_region_scope"] == "USGov"
    assert doc["tenant_region_sub_scope"] == "DODCON"
    assert doc["cloud_instance_name"] == "microsoftonline.us"
    assert doc["msgraph_host"] == "graph.microsoft.us"


def test_unknown_tenant_discovery_fails_with_aadsts90002(ms_http: httpx.Client) -> None:
    response = ms_http.get("/nosuch.example/v2.0/.well-known/openid-configuration")
    assert_token_error(response, 400, "invalid_tenant", 90002)


def test_app_mounted_under_a_prefix_emits_prefixed_urls(ms_sandbox: MicrosoftSandbox) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from hiresync.sandbox.microsoft import create_app

    parent = Starlette(routes=[Mount("/sandbox/microsoft", app=create_app(ms_sandbox))])
    with serve_in_thread(parent) as base:
        doc = httpx.get(
            f"{base}/sandbox/microsoft/contoso.com/v2.0/.well-known/openid-configuration"
        ).json()
        home = httpx.get(f"{base}/sandbox/microsoft/")
    assert doc["token_endpoint"] == f"{base}/sandbox/microsoft/{CONTOSO_ID}/oauth2/v2.0/token"
    assert f"{base}/sandbox/microsoft/graph" in home.text


# -- client credentials ----------------------------------------------------------------------------


def test_client_credentials_returns_a_bearer_token_with_the_consented_roles(
    ms_http: httpx.Client,
) -> None:
    response = client_credentials(ms_http)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["tid"] == CONTOSO_ID and claims["appid"] == DEMO_CLIENT_ID
    assert set(claims["roles"]) == {"Calendars.ReadWrite", "User.Read.All"}


def test_client_secret_may_be_sent_with_http_basic(ms_http: httpx.Client) -> None:
    response = ms_http.post(
        "/contoso.com/oauth2/v2.0/token",
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("kwargs", "status", "error", "code"),
    [
        ({"secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, 400, "unauthorized_client", 700016),
        ({"scope": "https://graph.microsoft.com/Calendars.Read"}, 400, "invalid_scope", 1002012),
        ({"tenant": "common"}, 400, "invalid_request", 9001023),
        ({"tenant": "nosuch.example"}, 400, "invalid_request", 90002),
    ],
)
def test_bad_client_credentials_requests_get_entra_errors(
    ms_http: httpx.Client, kwargs: dict[str, str], status: int, error: str, code: int
) -> None:
    assert_token_error(client_credentials(ms_http, **kwargs), status, error, code)


def test_expired_client_secret_in_northwind_is_refused_with_aadsts7000222(
    ms_http: httpx.Client,
) -> None:
    assert_token_error(
        client_credentials(ms_http, tenant="northwind.com"), 401, "invalid_client", 7000222
    )
    assert_token_error(
        client_credentials(
            ms_http,
            tenant="northwind.com",
            client_id=NORTHWIND_APP_ID,
            secret="northwind-connector-secret",
        ),
        401,
        "invalid_client",
        7000222,
    )


def test_worldwide_app_cannot_get_a_token_for_a_gcc_high_tenant(ms_http: httpx.Client) -> None:
    response = client_credentials(ms_http, tenant=FABRIKAM_GOV_ID)
    assert_token_error(response, 400, "invalid_request", 900439)
    assert "login.microsoftonline.us" in response.json()["error_description"]


def test_revoked_consent_stops_token_issuance(ms_http: httpx.Client) -> None:
    assert ms_http.post("/_control/tenants/contoso.com/revoke-consent", json={}).status_code == 200
    assert_token_error(client_credentials(ms_http), 401, "invalid_client", 7000229)


def test_msal_acquires_an_app_token_from_the_sandbox(ms_base_url: str) -> None:
    """Our production client is MSAL: it must accept the sandbox's discovery and token JSON."""
    import msal

    class ForwardedHttp:
        """MSAL insists on https authorities; reach the http sandbox with X-Forwarded-Proto."""

        def __init__(self) -> None:
            self.client = httpx.Client(timeout=10, headers={"X-Forwarded-Proto": "https"})

        def _url(self, url: str) -> str:
            return url.replace("https://", "http://", 1)

        def get(self, url: str, **kwargs: object) -> httpx.Response:
            return self.client.get(
                self._url(url),
                params=kwargs.get("params"),  # type: ignore[arg-type]
                headers=kwargs.get("headers"),
            )  # type: ignore[arg-type]

        def post(self, url: str, **kwargs: object) -> httpx.Response:
            return self.client.post(
                self._url(url),
                data=kwargs.get("data"),  # type: ignore[arg-type]
                headers=kwargs.get("headers"),
            )  # type: ignore[arg-type]

        def close(self) -> None:
            self.client.close()

    authority = ms_base_url.replace("http://", "https://") + "/contoso.com"
    app = msal.ConfidentialClientApplication(
        DEMO_CLIENT_ID,
        client_credential=DEMO_CLIENT_SECRET,
        authority=authority,
        http_client=ForwardedHttp(),
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result


# -- admin consent -------------------------------------------------------------------------------


def test_admin_consent_page_lists_accounts_and_marks_admins(ms_http: httpx.Client) -> None:
    page = ms_http.get(
        "/organizations/adminconsent",
        params={"client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT, "state": "s1"},
    )
    assert page.status_code == 200
    assert "it.admin@contoso.com" in page.text and "pat.recruiter@contoso.com" in page.text
    assert "admin@northwind.com" in page.text  # the generic endpoint offers every tenant
    row = re.search(r"it\.admin@contoso\.com.*?</button>", page.text, re.S)
    assert "Global Administrator" in page.text and row is not None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"client_id": "11111111-2222-3333-4444-555555555555", "redirect_uri": REDIRECT}, 700016),
        ({"client_id": DEMO_CLIENT_ID, "redirect_uri": "https://evil.example/cb"}, 50011),
    ],
)
def test_misconfigured_app_gets_an_error_page_not_a_redirect(
    ms_http: httpx.Client, params: dict[str, str], code: int
) -> None:
    response = ms_http.get("/contoso.com/adminconsent", params={**params, "state": "x"})
    assert "location" not in response.headers
    assert f"AADSTS{code}" in response.text


def test_non_admin_consent_redirects_with_access_denied_aadsts90094(ms_http: httpx.Client) -> None:
    response = ms_http.post(
        "/contoso.com/adminconsent",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "state": "st-7",
            "login_hint": "pat.recruiter@contoso.com",
        },
    )
    query = query_of(response)
    assert response.headers["location"].startswith(REDIRECT + "?")
    assert query["error"] == "access_denied" and query["state"] == "st-7"
    assert query["error_description"].startswith("AADSTS90094: ")
    assert "admin_consent" not in query


def test_admin_consent_redirects_with_the_tenant_guid_and_records_the_grant(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.revoke_consent("contoso.com")
    response = ms_http.post(
        "/common/adminconsent",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "state": "abc",
            "login_hint": "mlee@contoso.onmicrosoft.com",
        },
    )
    assert query_of(response) == {"admin_consent": "True", "tenant": CONTOSO_ID, "state": "abc"}
    assert client_credentials(ms_http).status_code == 200


def test_admin_declining_consent_redirects_with_aadsts65004(ms_http: httpx.Client) -> None:
    response = ms_http.post(
        "/contoso.com/adminconsent",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "state": "z",
            "action": "cancel",
        },
    )
    query = query_of(response)
    assert query["error"] == "access_denied"
    assert query["error_description"].startswith("AADSTS65004: ")


# -- authorization code + PKCE ----------------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = "v" * 20 + "-verifier-0123456789abcdefghijklmnop"
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _code(
    http: httpx.Client,
    challenge: str | None,
    scope: str = "offline_access openid https://graph.microsoft.com/Calendars.Read",
) -> str:
    form = {
        "client_id": DEMO_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st",
        "login_hint": "pat.recruiter@contoso.com",
    }
    if challenge:
        form |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    query = query_of(http.post("/contoso.com/oauth2/v2.0/authorize", data=form))
    assert query["state"] == "st"
    return query["code"]


def _redeem(http: httpx.Client, code: str, verifier: str | None) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "code": code,
        "redirect_uri": REDIRECT,
    }
    if verifier:
        form["code_verifier"] = verifier
    return http.post("/contoso.com/oauth2/v2.0/token", data=form)


def test_authorization_code_with_pkce_yields_access_and_refresh_tokens(
    ms_http: httpx.Client,
) -> None:
    verifier, challenge = _pkce()
    body = _redeem(ms_http, _code(ms_http, challenge), verifier).json()
    assert body["token_type"] == "Bearer" and body["refresh_token"] and body["id_token"]
    assert "Calendars.Read" in body["scope"].split()
    refreshed = ms_http.post(
        "/contoso.com/oauth2/v2.0/token",
        data={
            "grant_type": "refresh_token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": body["refresh_token"],
        },
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]


def test_no_refresh_token_without_offline_access(ms_http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _code(ms_http, challenge, scope="https://graph.microsoft.com/Calendars.Read")
    assert "refresh_token" not in _redeem(ms_http, code, verifier).json()


def test_wrong_pkce_verifier_is_rejected(ms_http: httpx.Client) -> None:
    _, challenge = _pkce()
    assert_token_error(
        _redeem(ms_http, _code(ms_http, challenge), "not-the-verifier-at-all"),
        400,
        "invalid_grant",
        501481,
    )


def test_authorization_code_is_single_use(ms_http: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _code(ms_http, challenge)
    assert _redeem(ms_http, code, verifier).status_code == 200
    assert_token_error(_redeem(ms_http, code, verifier), 400, "invalid_grant", 54005)


def test_authorization_code_expires_after_ten_minutes(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    import time

    verifier, challenge = _pkce()
    code = _code(ms_http, challenge)
    ms_sandbox.clock = lambda: time.time() + 601
    assert_token_error(_redeem(ms_http, code, verifier), 400, "invalid_grant", 70008)


def test_authorize_without_pkce_redirects_with_invalid_request(ms_http: httpx.Client) -> None:
    response = ms_http.get(
        "/contoso.com/oauth2/v2.0/authorize",
        params={
            "client_id": DEMO_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "offline_access",
            "state": "q",
        },
    )
    query = query_of(response)
    assert query["error"] == "invalid_request" and query["state"] == "q"


def test_gcc_high_admin_consent_grants_nothing_usable(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    """The consent round-trip completes, but no token can follow: clouds never cross."""
    response = ms_http.post(
        "/common/adminconsent",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "state": "g",
            "login_hint": "gov.admin@fabrikam.gov",
        },
    )
    assert query_of(response)["tenant"] == FABRIKAM_GOV_ID
    assert not ms_sandbox.tenant(FABRIKAM_GOV_ID).grants
    assert_token_error(
        client_credentials(ms_http, tenant=FABRIKAM_GOV_ID), 400, "invalid_request", 900439
    )
