"""The MSAL http client: https authority over a plain-http sandbox, untouched in production."""

from __future__ import annotations

import httpx

from hiresync.providers.microsoft.msal_http import MsalHttpClient, https_form


def recording() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler), seen


def test_https_form_only_changes_the_scheme() -> None:
    assert https_form("http://127.0.0.1:8123/base") == "https://127.0.0.1:8123/base"


def test_a_sandbox_login_url_is_reached_over_http_with_a_forwarded_proto() -> None:
    client = MsalHttpClient("http://127.0.0.1:8123")
    assert client.authority_base == "https://127.0.0.1:8123"
    url, headers = client.map_url("https://127.0.0.1:8123/t/oauth2/v2.0/token")
    assert url == "http://127.0.0.1:8123/t/oauth2/v2.0/token"
    assert headers == {"X-Forwarded-Proto": "https"}


def test_urls_outside_the_login_service_are_left_alone() -> None:
    client = MsalHttpClient("http://127.0.0.1:8123")
    assert client.map_url("https://127.0.0.1:8124/x") == ("https://127.0.0.1:8124/x", {})
    assert client.map_url("https://login.microsoftonline.com/x") == (
        "https://login.microsoftonline.com/x",
        {},
    )


def test_production_login_is_plain_https_with_msal_instance_discovery_kept() -> None:
    client = MsalHttpClient("https://login.microsoftonline.com")
    assert client.map_url("https://login.microsoftonline.com/t/oauth2/v2.0/token")[1] == {}
    assert client.instance_discovery is None
    assert MsalHttpClient("http://127.0.0.1:8123").instance_discovery is False


def test_post_form_encodes_dict_data_and_drops_none_headers() -> None:
    transport, seen = recording()
    client = MsalHttpClient("http://127.0.0.1:8123", transport=transport)
    response = client.post(
        "https://127.0.0.1:8123/t/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": "a b"},
        headers={"client-request-id": None, "Accept": "application/json"},
    )
    assert response.status_code == 200 and response.text
    request = seen[0]
    assert str(request.url) == "http://127.0.0.1:8123/t/oauth2/v2.0/token"
    assert request.content == b"grant_type=client_credentials&scope=a+b"
    assert "client-request-id" not in request.headers
    assert request.headers["X-Forwarded-Proto"] == "https"


def test_get_keeps_a_query_already_in_the_url() -> None:
    transport, seen = recording()
    client = MsalHttpClient("http://127.0.0.1:8123", transport=transport)
    client.get("https://127.0.0.1:8123/t/v2.0/.well-known/openid-configuration?x=1")
    assert seen[0].url.params["x"] == "1"
