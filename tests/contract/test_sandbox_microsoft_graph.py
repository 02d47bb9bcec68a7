"""Graph v1.0 on the sandbox matches the specs and the documented behaviour (PROVIDERS.md).

Every response body is validated with :mod:`tests.contract.graph_spec`; the assertions
then check what a recruiter's availability grid depends on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hiresync.sandbox.microsoft import MicrosoftSandbox
from tests.contract.conftest import MS_NOW, client_credentials, replace_limits
from tests.contract.graph_spec import validate_request_body, validate_response

USERS = "/graph/v1.0/users"
MONDAY = (MS_NOW - timedelta(days=MS_NOW.weekday())).replace(hour=0)


def graph(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Call Graph and validate the body against the specs whatever the status."""
    response = http.request(method, path, **kwargs)
    validate_response(method, path, response.status_code, response.json())
    return response


def schedule_body(
    schedules: list[str], start: datetime, end: datetime, interval: int = 30, zone: str = "UTC"
) -> dict[str, Any]:
    body = {
        "schedules": schedules,
        "startTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone},
        "endTime": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone},
        "availabilityViewInterval": interval,
    }
    validate_request_body("POST", "/users/{user-id}/calendar/getSchedule", body)
    return body


def get_schedule(http: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return graph(
        http,
        "POST",
        f"{USERS}/it.admin@contoso.com/calendar/getSchedule",
        json=body,
        headers=headers,
    )


# -- users ---------------------------------------------------------------------------------------


def test_paging_users_collects_all_250_people_exactly_once(ms_graph: httpx.Client) -> None:
    url: str | None = f"{USERS}?$select=mail,userPrincipalName,proxyAddresses"
    seen: list[str] = []
    pages = 0
    while url:
        body = graph(ms_graph, "GET", url).json()
        assert len(body["value"]) <= 100
        seen += [u["userPrincipalName"] for u in body["value"]]
        url, pages = body.get("@odata.nextLink"), pages + 1
    assert len(seen) == len(set(seen)) == 250
    assert pages == 3


def test_selected_properties_only_and_proxy_addresses_like_exchange(ms_graph: httpx.Client) -> None:
    body = graph(
        ms_graph,
        "GET",
        f"{USERS}?$top=999&$select=mail,userPrincipalName,proxyAddresses,accountEnabled",
    ).json()
    users = body["value"]
    assert "@odata.nextLink" not in body and len(users) == 250
    assert all(
        set(u) == {"mail", "userPrincipalName", "proxyAddresses", "accountEnabled"} for u in users
    )
    assert all(u["proxyAddresses"][0] == "SMTP:" + u["mail"] for u in users)
    assert any(p.startswith("smtp:") for u in users for p in u["proxyAddresses"])
    assert any(u["userPrincipalName"] != u["mail"] for u in users)
    assert sum(not u["accountEnabled"] for u in users) == 4


@pytest.mark.parametrize("top", ["0", "1000", "ten"])
def test_top_outside_1_to_999_is_rejected(ms_graph: httpx.Client, top: str) -> None:
    response = graph(ms_graph, "GET", f"{USERS}?$top={top}")
    assert response.status_code == 400
    assert "Must be between 1 and 999" in response.json()["error"]["message"]


def test_get_user_by_upn_works_but_not_by_mail_when_they_differ(ms_graph: httpx.Client) -> None:
    found = graph(ms_graph, "GET", f"{USERS}/mlee@contoso.onmicrosoft.com").json()
    assert found["mail"] == "morgan.lee@contoso.com"
    missing = graph(ms_graph, "GET", f"{USERS}/morgan.lee@contoso.com")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


# -- getSchedule -----------------------------------------------------------------------------------


def test_get_schedule_returns_views_items_and_working_hours(ms_graph: httpx.Client) -> None:
    start = MONDAY + timedelta(hours=12)
    body = get_schedule(
        ms_graph,
        schedule_body(
            ["pat.recruiter@contoso.com", "priya.sharma@contoso.com"],
            start,
            start + timedelta(days=5),
        ),
    ).json()
    assert [s["scheduleId"] for s in body["value"]] == [
        "pat.recruiter@contoso.com",
        "priya.sharma@contoso.com",
    ]
    for info in body["value"]:
        assert len(info["availabilityView"]) == 5 * 48
        assert set(info["availabilityView"]) <= set("01234")
        assert info["scheduleItems"], "seeded calendars are never empty for a working week"
        assert all(i["start"]["timeZone"] == "UTC" for i in info["scheduleItems"])
    assert body["value"][1]["workingHours"]["timeZone"]["name"] == "India Standard Time"


def test_unknown_mailbox_gets_its_own_error_while_others_succeed(ms_graph: httpx.Client) -> None:
    body = get_schedule(
        ms_graph,
        schedule_body(
            ["ghost@contoso.com", "sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=1)
        ),
    )
    ghost, sam = body.json()["value"]
    assert ghost["error"]["responseCode"] and "ghost@contoso.com" in ghost["error"]["message"]
    assert "availabilityView" not in ghost
    assert "error" not in sam and len(sam["availabilityView"]) == 48


def test_parameter_names_match_case_insensitively(ms_graph: httpx.Client) -> None:
    camel = schedule_body(["dana.scott@contoso.com"], MONDAY, MONDAY + timedelta(days=2))
    pascal = {k[0].upper() + k[1:]: v for k, v in camel.items()}
    validate_request_body("POST", "/users/{user-id}/calendar/getSchedule", pascal)
    assert (
        get_schedule(ms_graph, camel).json()["value"]
        == get_schedule(ms_graph, pascal).json()["value"]
    )


def test_aliases_and_upns_resolve_to_the_mailbox_and_echo_the_asked_address(
    ms_graph: httpx.Client,
) -> None:
    body = get_schedule(
        ms_graph,
        schedule_body(
            ["dscott@contoso.onmicrosoft.com", "DANA.SCOTT@contoso.com"],
            MONDAY,
            MONDAY + timedelta(days=1),
        ),
    ).json()["value"]
    assert [s["scheduleId"] for s in body] == [
        "dscott@contoso.onmicrosoft.com",
        "DANA.SCOTT@contoso.com",
    ]
    assert body[0]["availabilityView"] == body[1]["availabilityView"]


def test_known_busy_time_and_private_items(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    mail = f"fresh.{time.time_ns()}@contoso.com"
    ms_graph.post(
        "/_control/tenants/contoso.com/users",
        json={"displayName": "Fresh Person", "mail": mail, "timeZone": "Europe/London"},
    )
    day = MONDAY + timedelta(days=8)
    ms_sandbox.add_event(
        "contoso.com",
        mail,
        subject="Interview",
        start=day + timedelta(hours=9),
        end=day + timedelta(hours=10),
        location="Room 1",
    )
    ms_sandbox.add_event(
        "contoso.com",
        mail,
        subject="Dentist",
        start=day + timedelta(hours=13),
        end=day + timedelta(hours=13, minutes=30),
        sensitivity="private",
        show_as="oof",
    )
    info = get_schedule(
        ms_graph, schedule_body([mail], day, day + timedelta(days=1), interval=60)
    ).json()["value"][0]
    assert info["availabilityView"] == "0" * 9 + "2" + "000" + "3" + "0" * 10
    public, private = info["scheduleItems"]
    assert public["subject"] == "Interview" and public["location"] == "Room 1"
    assert private["isPrivate"] is True and "subject" not in private and "location" not in private


def test_prefer_outlook_timezone_converts_item_times(ms_graph: httpx.Client) -> None:
    body = schedule_body(["pat.recruiter@contoso.com"], MONDAY, MONDAY + timedelta(days=3))
    utc = get_schedule(ms_graph, body).json()["value"][0]["scheduleItems"][0]
    local = get_schedule(ms_graph, body, Prefer='outlook.timezone="Pacific Standard Time"')
    item = local.json()["value"][0]["scheduleItems"][0]
    assert item["start"]["timeZone"] == "Pacific Standard Time"
    as_utc = datetime.fromisoformat(utc["start"]["dateTime"][:19]).replace(tzinfo=UTC)
    from zoneinfo import ZoneInfo

    expected = as_utc.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%dT%H:%M:%S")
    assert item["start"]["dateTime"].startswith(expected)


def test_more_than_100_schedules_is_rejected(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    many = [f"p{n}@contoso.com" for n in range(101)]
    response = get_schedule(ms_graph, schedule_body(many, MONDAY, MONDAY + timedelta(days=1)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorMailboxDataArrayTooBig"
    assert (
        get_schedule(
            ms_graph, schedule_body(many[:100], MONDAY, MONDAY + timedelta(days=1))
        ).status_code
        == 200
    )
    replace_limits(ms_sandbox, max_schedules=20)  # older docs said 20
    assert (
        get_schedule(
            ms_graph, schedule_body(many[:21], MONDAY, MONDAY + timedelta(days=1))
        ).status_code
        == 400
    )


def test_window_longer_than_62_days_is_rejected(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ok = get_schedule(
        ms_graph, schedule_body(["sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=62))
    )
    too_long = get_schedule(
        ms_graph, schedule_body(["sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=63))
    )
    assert ok.status_code == 200
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "ErrorTimeIntervalTooBig"
    replace_limits(ms_sandbox, max_schedule_days=42)  # some docs say 42
    assert (
        get_schedule(
            ms_graph,
            schedule_body(["sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=43)),
        ).status_code
        == 400
    )


@pytest.mark.parametrize("interval", [4, 1441])
def test_availability_view_interval_must_be_5_to_1440(
    ms_graph: httpx.Client, interval: int
) -> None:
    body = schedule_body(["sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=1))
    body["availabilityViewInterval"] = interval
    assert get_schedule(ms_graph, body).status_code == 400


# -- calendarView ---------------------------------------------------------------------------------


def view(
    http: httpx.Client, user: str, start: datetime, end: datetime, **headers: str
) -> list[dict[str, Any]]:
    """All pages of a calendar view, each validated."""
    url: str | None = (
        f"{USERS}/{user}/calendarView?startDateTime={start:%Y-%m-%dT%H:%M:%SZ}"
        f"&endDateTime={end:%Y-%m-%dT%H:%M:%SZ}"
    )
    events: list[dict[str, Any]] = []
    while url:
        body = graph(http, "GET", url, headers=headers).json()
        events += body["value"]
        url = body.get("@odata.nextLink")
    return events


def test_calendar_view_expands_series_and_drops_cancelled_occurrences(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    user = next(
        u
        for u in ms_sandbox.tenant("contoso.com").users.values()
        if any(
            e.recurrence
            and any(v is None for v in e.exceptions.values())
            and any(v for v in e.exceptions.values())
            for e in u.events
        )
    )
    series = next(e for e in user.events if e.recurrence and None in e.exceptions.values())
    start, end = MS_NOW - timedelta(weeks=6), MS_NOW + timedelta(weeks=8)
    events = [
        e
        for e in view(ms_graph, user.id, start, end, Prefer="odata.maxpagesize=50")
        if e["seriesMasterId"] == series.id
    ]
    assert {e["type"] for e in events} == {"occurrence", "exception"}
    cancelled = {d for d, o in series.exceptions.items() if o is None}
    local_days = {
        datetime.fromisoformat(e["originalStart"][:19])
        .replace(tzinfo=UTC)
        .astimezone(series.start.tzinfo)
        .date()
        for e in events
    }
    assert not cancelled & local_days
    assert len({e["id"] for e in events}) == len(events)


def test_calendar_view_pages_follow_next_links(ms_graph: httpx.Client) -> None:
    start, end = MONDAY, MONDAY + timedelta(weeks=2)
    default = graph(
        ms_graph,
        "GET",
        f"{USERS}/pat.recruiter@contoso.com/calendarView?"
        f"startDateTime={start:%Y-%m-%dT%H:%M:%SZ}&endDateTime="
        f"{end:%Y-%m-%dT%H:%M:%SZ}",
    ).json()
    assert len(default["value"]) == 10 and "@odata.nextLink" in default
    small = view(ms_graph, "pat.recruiter@contoso.com", start, end, Prefer="odata.maxpagesize=3")
    big = view(ms_graph, "pat.recruiter@contoso.com", start, end, Prefer="odata.maxpagesize=500")
    assert [e["id"] for e in small] == [e["id"] for e in big]
    assert all(e["end"]["dateTime"] > f"{start:%Y-%m-%dT%H:%M:%S}" for e in big)


def test_calendar_view_requires_its_time_window(ms_graph: httpx.Client) -> None:
    response = graph(ms_graph, "GET", f"{USERS}/pat.recruiter@contoso.com/calendarView")
    assert response.status_code == 400
    assert "StartDateTime and EndDateTime" in response.json()["error"]["message"]


# -- authentication and authorization ---------------------------------------------------------------


def test_missing_token_is_401_with_a_bearer_challenge(ms_http: httpx.Client) -> None:
    response = graph(ms_http, "GET", USERS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_expired_token_is_401(ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox) -> None:
    ms_sandbox.clock = lambda: time.time() + 3600
    response = graph(ms_graph, "GET", USERS)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_token_expires_mid_paging_when_lifetime_is_short(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    replace_limits(ms_sandbox, token_lifetime=2)
    token = client_credentials(ms_http).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    first = graph(ms_http, "GET", f"{USERS}?$top=50", headers=headers).json()
    time.sleep(2.1)
    assert graph(ms_http, "GET", first["@odata.nextLink"], headers=headers).status_code == 401


def test_revoked_consent_makes_existing_tokens_forbidden(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.revoke_consent("contoso.com")
    users = graph(ms_graph, "GET", USERS)
    schedule = get_schedule(
        ms_graph, schedule_body(["sam.manager@contoso.com"], MONDAY, MONDAY + timedelta(days=1))
    )
    assert users.status_code == schedule.status_code == 403
    assert users.json()["error"]["code"] == "Authorization_RequestDenied"
    assert schedule.json()["error"]["code"] == "ErrorAccessDenied"


def test_me_needs_a_delegated_token(ms_graph: httpx.Client) -> None:
    response = ms_graph.get("/graph/v1.0/me")
    assert response.status_code == 400
    assert "/me request is only valid with delegated authentication flow" in response.text


def test_tokens_issued_after_the_clock_moves_are_accepted(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    """Tests shift ``sandbox.clock`` to expire tokens; fresh tokens must then still work."""
    ms_sandbox.clock = lambda: time.time() + 7200
    token = client_credentials(ms_http).json()["access_token"]
    response = graph(
        ms_http, "GET", f"{USERS}?$top=1", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
