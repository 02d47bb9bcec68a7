"""POST /v1/free-busy: everyone's availability, live, one bad person never failing the rest
(seed 000: "you will be able to see everyone's availability as you schedule interviews")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for


@pytest.fixture
async def connected(stack: Any, make_org: Any) -> Any:
    org = make_org(
        [
            ("Morgan Lee", "morgan.lee@contoso.com"),
            ("Sam Manager", "sam.manager@contoso.com"),
            ("Alex Outsider", "alex@gmail.example"),
        ]
    )
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    read = wait_for(lambda: org.api.get("/v1/directory/matches").json()["directory_size"])
    assert read, job_report(stack.database_uri)
    return org


def window(days: int = 7) -> dict[str, str]:
    monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return {"start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat()}


async def test_free_busy_per_person_with_statuses_hours_and_errors(
    connected: Any, stack: Any
) -> None:
    users = {u["email"]: u for u in connected.api.get("/v1/users").json()}
    body = {
        "people": [
            {"user_id": users["morgan.lee@contoso.com"]["id"]},
            {"email": "SAM.MANAGER@contoso.com"},
            {"email": "alex@gmail.example"},  # on the team, no mailbox
            {"email": "nobody@contoso.com"},  # in neither
            {"email": "priya.sharma@contoso.com"},  # not on the team but in the directory
        ],
        **window(28),
    }
    answer = connected.api.post("/v1/free-busy", json=body)
    assert answer.status_code == 200, answer.text
    people = answer.json()["people"]
    assert [p["email"] for p in people] == [
        "morgan.lee@contoso.com",
        "sam.manager@contoso.com",
        "alex@gmail.example",
        "nobody@contoso.com",
        "priya.sharma@contoso.com",
    ]
    morgan = people[0]
    assert morgan["error"] is None and morgan["busy"], "a seeded calendar has meetings every week"
    assert {b["status"] for b in morgan["busy"]} <= {
        "busy",
        "tentative",
        "oof",
        "workingElsewhere",
        "unknown",
    }
    seeded = stack.sandbox.find_mailbox(CONTOSO_ID, "morgan.lee@contoso.com")
    assert morgan["working_hours"]["time_zone"] == seeded.time_zone == "America/Los_Angeles"
    assert all(b["start"] < b["end"] for b in morgan["busy"])
    assert people[1]["error"] is None and people[1]["mailbox"] == "sam.manager@contoso.com"
    assert people[2]["error"]["code"] == "not_matched"
    assert people[3]["error"]["code"] == "not_matched"
    assert people[4]["error"] is None and people[4]["user_id"] is None
    private = [b for p in people for b in p["busy"] if b["private"]]
    assert all(b["subject"] is None for b in private), "private events never leak their subject"


async def test_answer_matches_its_published_schema(connected: Any, stack: Any) -> None:
    """The answer is serialized by hand for speed; it must still be what /openapi.json says."""
    from jsonschema import Draft202012Validator, FormatChecker

    document = httpx.get(f"{stack.url}/openapi.json").json()
    validator = Draft202012Validator(
        {**document, "$ref": "#/components/schemas/FreeBusyOut"}, format_checker=FormatChecker()
    )
    for zone in (None, "Asia/Kolkata"):
        body = {
            "people": [{"email": "morgan.lee@contoso.com"}, {"email": "nobody@contoso.com"}],
            **window(14),
        }
        if zone:
            body["time_zone"] = zone
        answer = connected.api.post("/v1/free-busy", json=body).json()
        assert answer["people"][0]["busy"] and answer["people"][1]["error"]
        problems = [e.message for e in validator.iter_errors(answer)]
        assert problems == []


async def test_answer_in_a_requested_time_zone(connected: Any) -> None:
    body = {
        "people": [{"email": "morgan.lee@contoso.com"}],
        "time_zone": "America/Sao_Paulo",
        "start": "2026-12-01T00:00:00",
        "end": "2026-12-08T00:00:00",
    }
    answer = connected.api.post("/v1/free-busy", json=body).json()
    assert answer["start"] == "2026-12-01T00:00:00-03:00"
    assert all(b["start"].endswith("-03:00") for b in answer["people"][0]["busy"])


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"start": "2026-12-08T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, 422, "end"),
        ({"start": "2026-12-01T00:00:00Z", "end": "2027-02-15T00:00:00Z"}, 422, "end"),
        ({"time_zone": "Mars/Olympus_Mons"}, 422, "time_zone"),
        ({"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00"}, 422, "start"),
        ({"start": "next tuesday"}, 422, "start"),
        ({"people": []}, 422, "people"),
        ({"people": [{"email": "a@b.example", "user_id": str(uuid.uuid4())}]}, 422, "people.0"),
        ({"people": [{"user_id": str(uuid.uuid4())}]}, 422, "people"),
        ({"people": [{"email": f"p{i}@x.example"} for i in range(1001)]}, 422, "people"),
    ],
)
async def test_bad_requests_say_what_is_wrong(
    connected: Any, change: dict[str, Any], status: int, field: str
) -> None:
    body = {
        "people": [{"email": "morgan.lee@contoso.com"}],
        "start": "2026-12-01T00:00:00Z",
        "end": "2026-12-08T00:00:00Z",
        **change,
    }
    answer = connected.api.post("/v1/free-busy", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and error["field"].startswith(field)


async def test_another_organizations_user_is_unknown_here(connected: Any, make_org: Any) -> None:
    other = make_org([("Someone", "sam.manager@contoso.com")])
    theirs = other.api.get("/v1/users").json()[0]["id"]
    answer = connected.api.post("/v1/free-busy", json={"people": [{"user_id": theirs}], **window()})
    assert answer.status_code == 422 and theirs in answer.json()["error"]["message"]
    assert connected.api.get(f"/v1/users/{theirs}").status_code == 404


async def test_not_connected_says_how_to_connect(make_org: Any) -> None:
    org = make_org()
    answer = org.api.post("/v1/free-busy", json={"people": [{"email": "a@b.example"}], **window()})
    assert answer.status_code == 409
    assert "Calendar sync" in answer.json()["error"]["hint"]


async def test_api_key_is_required_and_checked(stack: Any) -> None:
    import httpx

    with httpx.Client(base_url=stack.url) as anonymous:
        missing = anonymous.get("/v1/users")
        assert missing.status_code == 401 and "apikey create" in missing.json()["error"]["hint"]
        for bad in ("hs_nope_nope", "garbage", "hs_" + "a" * 12 + "_wrong"):
            answer = anonymous.get("/v1/users", headers={"Authorization": f"Bearer {bad}"})
            assert answer.status_code == 401


async def test_team_member_added_later_is_matched_at_once(connected: Any) -> None:
    added = connected.api.post(
        "/v1/users", json={"name": "Dana", "email": "DSCOTT@contoso.onmicrosoft.com"}
    )
    assert added.status_code == 201
    assert added.json()["match"] == {"mailbox": "dana.scott@contoso.com", "matched_on": "upn"}
    again = connected.api.post(
        "/v1/users", json={"name": "Dana again", "email": "dscott@contoso.onmicrosoft.com"}
    )
    assert again.status_code == 409
    bad = connected.api.post("/v1/users", json={"name": "X", "email": "not-an-address"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"


async def test_person_hired_later_is_matched_by_the_periodic_refresh(
    connected: Any, stack: Any, db: Any
) -> None:
    from hiresync.runtime import Runtime
    from hiresync.services import connections

    connected.api.post("/v1/users", json={"name": "Quinn New", "email": "quinn.new@contoso.com"})
    assert (
        connected.api.get("/v1/directory/matches").json()["unmatched_team_members"][-1]["email"]
        == "quinn.new@contoso.com"
    )
    stack.sandbox.add_user(CONTOSO_ID, display_name="Quinn New", mail="quinn.new@contoso.com")
    # The periodic task queues a refresh for copies older than the setting; make ours old.
    async with db.transaction() as session:
        from sqlalchemy import text

        await session.execute(
            text(
                "UPDATE connections SET directory_refreshed_at = now() - interval '2 days' WHERE organization_id = :o"
            ),
            {"o": connected.id},
        )
    runtime = Runtime.build(stack.settings, uri=stack.database_uri)
    await runtime.start()
    try:
        assert await connections.queue_stale_directory_refreshes(runtime) >= 1
    finally:
        await runtime.close()
    matched = wait_for(
        lambda: any(
            u["email"] == "quinn.new@contoso.com"
            for u in connected.api.get("/v1/directory/matches").json()["matched"]
        )
    )
    assert matched
