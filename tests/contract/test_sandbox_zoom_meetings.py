"""The Zoom sandbox's REST ``/v2`` behaves like Zoom's: users and settings, meetings
(create, read, update, delete, list with paging), plan limits, rate limits, injected faults
and the control API. Every answer is validated against the 2023 Meeting API spec (strictly:
only the extras in ``zoom_spec.DOCUMENTED_EXTRAS`` are allowed).

Split from the former ``test_sandbox_zoom.py``; fixtures and helpers live in
``zoom_fixtures.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from hiresync.sandbox.zoom import (
    CONTOSO_ACCOUNT_ID,
    FREE_ACCOUNT_ID,
    PRO_ACCOUNT_ID,
    Limits,
    ZoomSandbox,
    create_app,
)
from tests.contract.zoom_fixtures import (  # noqa: F401 (fixtures: found by pytest by name)
    ALEX,
    BASIC_AUTH,
    FAY,
    PAUL,
    REDIRECT,
    authorize_params,
    base_fixture,
    bearer,
    create,
    http_fixture,
    pkce,
    query_of,
    sandbox_fixture,
    sign_in,
)
from tests.contract.zoom_spec import (
    DOCUMENTED_EXTRAS,
    validate_query,
    validate_response,
)
from tests.servers import serve_in_thread

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


def test_listing_cuts_agendas_at_250_characters_and_get_has_the_whole(
    http: httpx.Client, sandbox: ZoomSandbox
) -> None:
    """The spec: "The length of agenda gets truncated to 250 characters when you list all
    meetings for a user" — a key kept at an agenda's end is seen only with a GET."""
    auth = bearer(http, sandbox, FAY)
    agenda = "a" * 300 + "\nhiresync:end"
    made = create(http, auth, agenda=agenda).json()
    listed = http.get("/v2/users/me/meetings", headers=auth, params={"page_size": 300}).json()
    (item,) = [m for m in listed["meetings"] if m["id"] == made["id"]]
    assert item["agenda"] == agenda[:250]
    assert http.get(f"/v2/meetings/{made['id']}", headers=auth).json()["agenda"] == agenda


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


# -- faults and control ----------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("password", "accepted"),
    [("Ab3*xyzq", True), ("ab3*xyzq", False), ("Ab3*xy", False), ("Ab1234*x", False)],
    ids=["meets", "no-upper-case", "too-short", "run-of-four"],
)
def test_a_passcode_must_meet_the_accounts_requirement(
    http: httpx.Client, sandbox: ZoomSandbox, password: str, accepted: bool
) -> None:
    auth = bearer(http, sandbox, FAY)
    account = sandbox.user(FAY).account_id
    sandbox.set_passcode_requirement(
        account,
        length=8,
        have_number=True,
        have_special_character=True,
        have_upper_and_lower_characters=True,
        consecutive_characters_length=4,
    )
    try:
        settings = http.get("/v2/users/me/settings", headers=auth).json()
        required = settings["schedule_meeting"]["meeting_password_requirement"]
        response = create(http, auth, password=password)
        generated = create(http, auth).json()["password"]
    finally:
        sandbox.set_passcode_requirement(account)
    assert required["length"] == 8 and required["consecutive_characters_length"] == 4
    assert (response.status_code == 201) is accepted, response.text
    if not accepted:
        assert response.json()["code"] == 300
    assert len(generated) >= 8 and not generated.isalnum(), "Zoom's own passcode meets the rules"
