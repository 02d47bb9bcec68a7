"""Admin consent, tenant clouds and app-only tokens (MSAL over a faked login service)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hiresync.providers.errors import (
    AuthRevoked,
    NotFound,
    ProviderUnavailable,
    UnsupportedCloud,
)
from hiresync.providers.microsoft.identity import (
    AppTokenProvider,
    Cloud,
    ConsentOutcome,
    admin_consent_url,
    check_tenant_cloud,
    classify_cloud,
    parse_consent_callback,
    token_error,
)

LOGIN = "http://127.0.0.1:9999"
TENANT = "11111111-2222-3333-4444-555555555555"

# -- admin consent -------------------------------------------------------------------------


def test_consent_url_for_an_unknown_tenant_uses_organizations() -> None:
    url = admin_consent_url(
        "https://login.microsoftonline.com",
        client_id="app",
        redirect_uri="https://hire.example/cb?x=1",
        state="s1",
    )
    parts = urlsplit(url)
    assert parts.path == "/organizations/adminconsent"
    assert parse_qs(parts.query) == {
        "client_id": ["app"],
        "redirect_uri": ["https://hire.example/cb?x=1"],
        "state": ["s1"],
    }


def test_consent_url_for_a_known_tenant_targets_it() -> None:
    url = admin_consent_url(LOGIN, client_id="app", redirect_uri="r", state="s", tenant=TENANT)
    assert url.startswith(f"{LOGIN}/{TENANT}/adminconsent?")


def test_a_granted_consent_yields_the_tenant() -> None:
    result = parse_consent_callback({"admin_consent": "True", "tenant": TENANT, "state": "s"})
    assert result.granted and result.tenant_id == TENANT and result.state == "s"


def test_an_error_wins_even_when_admin_consent_true_is_also_present() -> None:
    result = parse_consent_callback(
        {
            "admin_consent": "True",
            "tenant": TENANT,
            "state": "s",
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent to access the app.",
        }
    )
    assert not result.granted
    assert result.outcome is ConsentOutcome.DECLINED and result.error_code == "AADSTS65004"


def test_a_non_admin_is_told_apart_from_a_refusal() -> None:
    result = parse_consent_callback(
        {
            "error": "access_denied",
            "state": "s",
            "error_description": "AADSTS90094: The grant requires admin permission.",
        }
    )
    assert result.outcome is ConsentOutcome.NOT_ADMIN


def test_other_consent_errors_keep_their_aadsts_code() -> None:
    result = parse_consent_callback(
        {
            "error": "access_denied",
            "state": "s",
            "error_description": "AADSTS50105: The signed in user is not assigned to a role.",
        }
    )
    assert result.outcome is ConsentOutcome.ERROR and result.error_code == "AADSTS50105"


def test_a_callback_with_neither_grant_nor_error_is_not_a_grant() -> None:
    assert parse_consent_callback({"state": "s"}).outcome is ConsentOutcome.ERROR
    assert not parse_consent_callback({"admin_consent": "False", "tenant": TENANT}).granted


# -- clouds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "cloud"),
    [
        (
            {"tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com"},
            Cloud.WORLDWIDE,
        ),
        (
            {
                "tenant_region_scope": "NA",
                "tenant_region_sub_scope": "GCC",
                "cloud_instance_name": "microsoftonline.com",
            },
            Cloud.WORLDWIDE,
        ),
        (
            {
                "tenant_region_scope": "USGov",
                "tenant_region_sub_scope": "DODCON",
                "cloud_instance_name": "microsoftonline.us",
            },
            Cloud.US_GOV_GCC_HIGH,
        ),
        (
            {
                "tenant_region_scope": "USGov",
                "tenant_region_sub_scope": "DOD",
                "cloud_instance_name": "microsoftonline.us",
            },
            Cloud.US_GOV_DOD,
        ),
        (
            {"tenant_region_scope": "AS", "cloud_instance_name": "partner.microsoftonline.cn"},
            Cloud.CHINA,
        ),
    ],
)
def test_a_tenants_cloud_is_read_from_its_openid_configuration(
    config: dict[str, str], cloud: Cloud
) -> None:
    assert classify_cloud(config) is cloud


def openid_transport(config: dict[str, str], status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/{TENANT}/v2.0/.well-known/openid-configuration"
        return httpx.Response(status, json=config)

    return httpx.MockTransport(handler)


async def test_a_gcc_high_tenant_is_refused_naming_its_cloud() -> None:
    transport = openid_transport(
        {
            "tenant_region_scope": "USGov",
            "tenant_region_sub_scope": "DODCON",
            "cloud_instance_name": "microsoftonline.us",
        }
    )
    with pytest.raises(UnsupportedCloud, match="GCC High") as caught:
        await check_tenant_cloud(LOGIN, TENANT, transport=transport)
    assert caught.value.cloud == "us_gov_gcc_high"


async def test_a_gcc_moderate_tenant_is_accepted() -> None:
    transport = openid_transport(
        {
            "tenant_region_scope": "NA",
            "tenant_region_sub_scope": "GCC",
            "cloud_instance_name": "microsoftonline.com",
        }
    )
    assert await check_tenant_cloud(LOGIN, TENANT, transport=transport) is Cloud.WORLDWIDE


async def test_an_unknown_tenant_is_not_found() -> None:
    with pytest.raises(NotFound):
        await check_tenant_cloud(LOGIN, TENANT, transport=openid_transport({}, status=400))


# -- token errors --------------------------------------------------------------------------


def test_an_expired_secret_tells_the_operator_to_rotate_it() -> None:
    error = token_error(
        {
            "error": "invalid_client",
            "error_codes": [7000222],
            "error_description": "AADSTS7000222: The provided client secret keys "
            "for app 'x' are expired.",
        }
    )
    assert isinstance(error, AuthRevoked) and error.code == "AADSTS7000222"
    assert "new secret" in error.message and "expired" in error.message


@pytest.mark.parametrize("code", [700016, 7000229, 65001])
def test_a_missing_consent_tells_the_admin_to_connect_again(code: int) -> None:
    error = token_error(
        {
            "error": "unauthorized_client",
            "error_codes": [code],
            "error_description": f"AADSTS{code}: something",
        }
    )
    assert isinstance(error, AuthRevoked) and "admin consent" in error.message


def test_codes_are_found_in_the_description_when_error_codes_is_absent() -> None:
    error = token_error(
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
        }
    )
    assert isinstance(error, AuthRevoked) and error.code == "AADSTS7000215"


def test_a_transient_login_failure_is_unavailable_not_revoked() -> None:
    error = token_error({"error": "temporarily_unavailable", "error_description": "busy"})
    assert isinstance(error, ProviderUnavailable)


# -- tokens through MSAL -------------------------------------------------------------------


class LoginService:
    """A login service that, like the sandbox, builds its endpoints from X-Forwarded-Proto."""

    def __init__(self, token_error: dict[str, object] | None = None) -> None:
        self.token_requests: list[httpx.Request] = []
        self.token_error = token_error
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        scheme = request.headers.get("X-Forwarded-Proto", request.url.scheme)
        base = f"{scheme}://{request.url.netloc.decode()}/{TENANT}"
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": f"{base}/v2.0",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                },
            )
        assert request.url.path == f"/{TENANT}/oauth2/v2.0/token"
        self.token_requests.append(request)
        if self.token_error:
            return httpx.Response(401, json=self.token_error)
        number = len(self.token_requests)
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": f"at-{number}",
            },
        )


def provider(service: LoginService) -> AppTokenProvider:
    return AppTokenProvider(
        login_url=LOGIN,
        tenant_id=TENANT,
        client_id="app-id",
        client_secret="s3cret",
        transport=httpx.MockTransport(service),
    )


async def test_app_tokens_are_fetched_once_and_reused_until_a_refresh_is_forced() -> None:
    service = LoginService()
    tokens = provider(service)
    assert await tokens(False) == "at-1"
    assert await tokens(False) == "at-1"
    assert len(service.token_requests) == 1
    form = parse_qs(service.token_requests[0].content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    assert form["client_id"] == ["app-id"] and form["client_secret"] == ["s3cret"]
    assert tokens.expires_at is not None
    assert 3500 < (tokens.expires_at - datetime.now(UTC)).total_seconds() <= 3599
    assert await tokens(True) == "at-2"
    tokens.close()


async def test_msal_reaches_a_plain_http_login_service_as_if_behind_tls() -> None:
    service = LoginService()
    tokens = provider(service)
    await tokens(False)
    assert all(r.url.scheme == "http" for r in service.seen)
    assert all(r.headers["X-Forwarded-Proto"] == "https" for r in service.seen)
    tokens.close()


async def test_a_revoked_app_surfaces_as_auth_revoked_with_advice() -> None:
    service = LoginService(
        {
            "error": "unauthorized_client",
            "error_codes": [700016],
            "error_description": "AADSTS700016: Application not found.",
        }
    )
    tokens = provider(service)
    with pytest.raises(AuthRevoked, match="admin consent"):
        await tokens(False)
    tokens.close()


async def test_an_unreachable_login_service_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    tokens = AppTokenProvider(
        login_url=LOGIN,
        tenant_id=TENANT,
        client_id="a",
        client_secret="b",
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ProviderUnavailable):
        await tokens(False)
    tokens.close()


def test_a_government_tenant_refused_by_the_worldwide_endpoint_is_an_unsupported_cloud() -> None:
    error = token_error(
        {
            "error": "invalid_request",
            "error_codes": [900439],
            "error_description": "AADSTS900439: USGClientNotSupportedOnPublicEndpoint",
        }
    )
    assert isinstance(error, UnsupportedCloud) and "US Government" in error.message
