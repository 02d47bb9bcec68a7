"""POST /v1/availability with a Zoom host (issue #5, "plan limits, before they bite"): the
host's Zoom account is a capacity of the engine, so times when a Pro host already runs a
live Zoom interview are not offered; a Basic host's 40-minute limit is a warning; an
unknown or unconnected host is refused with a way out; /explain names the meeting that
fills the account.

The team is ``test_zoom_interviews``'s (its fixture, made anew for this module): Paul
(Pro), Bea (Basic) and Nina (no Zoom) schedule; Nina's calendar is the panel, since she
is in none of the interviews made here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_zoom_interviews import (
    wait_synced,
    zoom_body,
    zteam,  # noqa: F401  (module fixture)
)

LDN = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def team(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("zteam")


def weekday(offset: int) -> datetime:
    """A weekday ``offset`` weekdays after a Monday five weeks ahead, 00:00 London time."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday() + 35)
    day = monday + timedelta(days=offset % 5 + 7 * (offset // 5))
    return datetime(day.year, day.month, day.day, tzinfo=LDN)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def zoom_interview(team: Any, host: str, start: datetime, end: datetime) -> dict[str, Any]:
    body = zoom_body(team, host, start=iso(start), end=iso(end), confirm=True)
    made = team.api.post("/v1/interviews", json=body)
    assert made.status_code == 201, made.text
    return wait_synced(team, made.json()["id"], 1)


def question(team: Any, day: datetime, minutes: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "participants": [{"members": [{"email": team.people["nina"]}]}],
        "required_duration": {"minutes": minutes},
        "query_periods": [{"start": iso(at(day, 9)), "end": iso(at(day, 13))}],
        "start_interval": {"minutes": 30},
        "buffer": {"before": {"minutes": 0}, "after": {"minutes": 0}},
        "time_zone": "Europe/London",
        **extra,
    }


def starts(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [s["start"][11:16] for s in answer.json()["available_slots"]]


def test_a_pro_host_is_not_offered_while_hosting_a_live_zoom_interview(team: Any) -> None:
    day = weekday(0)
    zoom_interview(team, "paul", at(day, 10), at(day, 11))
    plain = starts(team.api.post("/v1/availability", json=question(team, day)))
    assert {"10:00", "10:30"} <= set(plain), "Nina herself is free then"
    host = {"email": team.people["paul"]}
    answer = team.api.post("/v1/availability", json=question(team, day, zoom_host=host))
    assert starts(answer) == [s for s in plain if s not in ("10:00", "10:30")]
    got = answer.json()
    assert got["zoom_host"]["plan"] == "Pro" and got["zoom_host"]["concurrent_meetings"] == 1
    assert got["warnings"] == []

    periods = team.api.post(
        "/v1/availability",
        json=question(team, day, zoom_host=host, response_format="periods"),
    )
    assert periods.status_code == 200, periods.text
    spans = [(p["start"][11:16], p["end"][11:16]) for p in periods.json()["available_periods"]]
    assert ("10:00" not in {a for a, _ in spans}) and all(
        b <= "10:00" or a >= "11:00" for a, b in spans
    ), spans

    explained = team.api.post(
        "/v1/availability/explain",
        json={
            "participants": [{"email": team.people["nina"]}],
            "start": iso(at(day, 10, 30)),
            "required_duration": {"minutes": 30},
            "zoom_host": host,
        },
    )
    assert explained.status_code == 200, explained.text
    zoom = explained.json()["zoom_host"]
    assert zoom["available"] is False
    (reason,) = zoom["reasons"]
    hosted = f"{at(day, 10).astimezone(UTC):%H:%M}–{at(day, 11).astimezone(UTC):%H:%M}"
    assert reason["reason"] == "capacity"
    assert reason["message"] == (
        f"Zoom: {team.people['paul']} already hosts 1 meeting at {hosted} UTC "
        "(Pro plan: one at a time)."
    )
    assert explained.json()["people"][0]["available"] is True, "Nina is free; the host is not"


def test_another_hosts_interview_does_not_count(team: Any) -> None:
    day = weekday(1)
    zoom_interview(team, "paul", at(day, 10), at(day, 11))
    plain = starts(team.api.post("/v1/availability", json=question(team, day)))
    olga = {"email": team.people["olga"]}
    assert starts(team.api.post("/v1/availability", json=question(team, day, zoom_host=olga))) == (
        plain
    )


def test_a_basic_host_keeps_the_slots_with_a_warning_of_the_40_minute_cap(team: Any) -> None:
    day = weekday(2)
    plain = starts(team.api.post("/v1/availability", json=question(team, day, minutes=60)))
    bea = {"email": team.people["bea"]}
    answer = team.api.post("/v1/availability", json=question(team, day, 60, zoom_host=bea))
    assert starts(answer) == plain and plain
    got = answer.json()
    assert got["zoom_host"]["plan"] == "Basic" and got["zoom_host"]["max_minutes"] == 40
    (warning,) = got["warnings"]
    assert "Basic" in warning and "end at 40 minutes" in warning
    short = team.api.post("/v1/availability", json=question(team, day, 40, zoom_host=bea))
    assert short.status_code == 200 and short.json()["warnings"] == []


def test_an_unknown_host_is_refused(team: Any) -> None:
    body = question(team, weekday(3), zoom_host={"email": "nobody@nowhere.example"})
    answer = team.api.post("/v1/availability", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert "not on this organization's hiring team" in error["message"]
    assert error.get("field") in (None, "zoom_host")


def test_a_host_without_zoom_is_told_how_to_connect(team: Any) -> None:
    body = question(team, weekday(3), zoom_host={"email": team.people["nina"]})
    for path in ("/v1/availability", "/v1/availability/explain"):
        if path.endswith("explain"):
            body = {
                "participants": [{"email": team.people["nina"]}],
                "start": iso(at(weekday(3), 10)),
                "required_duration": {"minutes": 30},
                "zoom_host": {"email": team.people["nina"]},
            }
        answer = team.api.post(path, json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "zoom_not_connected"
        assert "has not connected Zoom" in error["message"]
        assert "Settings › Connected applications" in error["hint"]
