"""POST /v1/availability and /v1/availability/explain over live (sandbox) calendars
(seed 000: "you will be able to see everyone's availability as you schedule interviews").

A panel of three interviewers in New York, London and São Paulo is added to the
sandbox's Contoso with empty calendars and known working hours, so every expected slot
can be worked out by hand below."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for

NY, LDN, SP = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("America/Sao_Paulo")


def next_monday() -> datetime:
    """A Monday at least a week ahead, 00:00 UTC: always bookable, never "in the past"."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday() + 7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


@pytest.fixture(scope="module")
def panel(stack: Any, make_org_module: Any) -> Any:
    """Ann (New York), Ben (London), Caz (São Paulo), all 09:00-17:00 local, Mon-Fri,
    and Dee, on the hiring team but with no mailbox."""
    tag = secrets.token_hex(3)
    people = {}
    for name, zone in (("ann", NY), ("ben", LDN), ("caz", SP)):
        mail = f"{name}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{name.title()} {tag}",
            mail=mail,
            time_zone=zone.key,
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
        people[name] = mail
    people["dee"] = f"dee.{tag}@gmail.example"
    org = make_org_module([(n.title(), m) for n, m in people.items()])
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = wait_for(lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 3)
    assert matched, job_report(stack.database_uri)
    org.people = people
    org.monday = next_monday()
    return org


def at(zone: ZoneInfo, day: datetime, hour: int, minute: int = 0) -> datetime:
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return local.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def members(panel: Any, *names: str) -> list[dict[str, str]]:
    return [{"email": panel.people[n]} for n in names]


def ask(panel: Any, **body: Any) -> Any:
    answer = panel.api.post("/v1/availability", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def day_query(panel: Any, day_offset: int) -> list[dict[str, str]]:
    day = panel.monday + timedelta(days=day_offset)
    return [{"start": iso(day), "end": iso(day + timedelta(days=1))}]


def test_all_required_slots_are_the_overlap_of_everyones_working_day(panel: Any) -> None:
    # Monday: New York 09-17 is 14-22 UTC (or 13-21 in summer), London 09-17 local,
    # São Paulo 09-17 is 12-20 UTC. With no meetings, the overlap is what is offered.
    answer = ask(
        panel,
        participants=[{"members": members(panel, "ann", "ben", "caz"), "required": "all"}],
        required_duration={"minutes": 60},
        query_periods=day_query(panel, 0),
        start_interval={"minutes": 30},
    )
    day = panel.monday
    start = max(at(NY, day, 9), at(LDN, day, 9), at(SP, day, 9))
    end = min(at(NY, day, 17), at(LDN, day, 17), at(SP, day, 17))
    expected = []
    cursor = start
    while cursor + timedelta(hours=1) <= end:
        expected.append(iso(cursor))
        cursor += timedelta(minutes=30)
    got = [s["start"] for s in answer["available_slots"]]
    assert got == expected and got, "every 30-minute start inside everyone's working day"
    emails = {p["email"] for p in answer["available_slots"][0]["participants"]}
    assert emails == {panel.people[n] for n in ("ann", "ben", "caz")}
    assert {p["working_hours_from"] for p in answer["people"]} == {"calendar"}


def test_a_meeting_and_its_buffer_remove_exactly_the_slots_they_touch(
    panel: Any, stack: Any
) -> None:
    day = panel.monday + timedelta(days=1)
    stack.sandbox.add_event(
        CONTOSO_ID,
        panel.people["ann"],
        subject="Quarterly planning",
        start=at(NY, day, 11),
        end=at(NY, day, 12),
    )
    body = {
        "participants": [{"members": members(panel, "ann")}],
        "required_duration": {"minutes": 30},
        "query_periods": day_query(panel, 1),
        "start_interval": {"minutes": 30},
    }
    plain = {s["start"] for s in ask(panel, **body)["available_slots"]}
    assert iso(at(NY, day, 10, 30)) in plain and iso(at(NY, day, 12)) in plain
    assert iso(at(NY, day, 11)) not in plain and iso(at(NY, day, 11, 30)) not in plain

    buffered = ask(panel, **body, buffer={"before": {"minutes": 15}, "after": {"minutes": 15}})
    starts = {s["start"] for s in buffered["available_slots"]}
    assert iso(at(NY, day, 10, 30)) not in starts, "ends 11:00, but the buffer reaches 11:15"
    assert iso(at(NY, day, 12)) not in starts, "starts 12:00, but the buffer reaches back"
    assert iso(at(NY, day, 10)) in starts and iso(at(NY, day, 12, 30)) in starts


def test_k_of_a_group_names_who_is_free_in_each_slot(panel: Any, stack: Any) -> None:
    day = panel.monday + timedelta(days=2)
    # Ben is out from 15:00 London time; Caz has a meeting at 12:00 São Paulo.
    stack.sandbox.add_event(
        CONTOSO_ID, panel.people["ben"], subject="Offsite", start=at(LDN, day, 15),
        end=at(LDN, day, 17), show_as="oof",
    )  # fmt: skip
    stack.sandbox.add_event(
        CONTOSO_ID, panel.people["caz"], subject="1:1", start=at(SP, day, 12),
        end=at(SP, day, 13),
    )  # fmt: skip
    answer = ask(
        panel,
        participants=[
            {"members": members(panel, "ann")},
            {"members": members(panel, "ben", "caz"), "required": 1},
        ],
        required_duration={"minutes": 60},
        query_periods=day_query(panel, 2),
    )
    slots = answer["available_slots"]
    assert slots
    for slot in slots:
        start = datetime.fromisoformat(slot["start"])
        free = {p["email"] for p in slot["participants"] if p["group"] == 1}
        assert panel.people["ann"] in {p["email"] for p in slot["participants"]}
        assert free, "at least one of Ben and Caz in every slot"
        ben_busy = at(LDN, day, 15) < start + timedelta(hours=1)
        assert (panel.people["ben"] in free) == (not ben_busy and start >= at(LDN, day, 9))
    both = [s for s in slots if len(s["participants"]) == 3]
    assert both and len(both) < len(slots), "some slots have both, some only one"


def test_what_blocks_time_follows_the_policy(panel: Any, stack: Any) -> None:
    day = panel.monday + timedelta(days=3)
    stack.sandbox.add_event(
        CONTOSO_ID, panel.people["ben"], subject="Maybe lunch", start=at(LDN, day, 12),
        end=at(LDN, day, 13), show_as="tentative",
    )  # fmt: skip
    noon = iso(at(LDN, day, 12))
    body = {
        "participants": [{"members": members(panel, "ben")}],
        "required_duration": {"minutes": 60},
        "query_periods": day_query(panel, 3),
    }
    assert noon not in {s["start"] for s in ask(panel, **body)["available_slots"]}
    relaxed = ask(panel, **body, policy={"tentative_blocks": False})
    assert noon in {s["start"] for s in relaxed["available_slots"]}
    # The organization's policy is the default for every request.
    assert panel.api.patch("/v1/availability/policy", json={"tentative_blocks": False}).is_success
    try:
        assert noon in {s["start"] for s in ask(panel, **body)["available_slots"]}
    finally:
        panel.api.patch("/v1/availability/policy", json={"tentative_blocks": True})


def test_someone_whose_calendar_cannot_be_read_is_never_shown_free(panel: Any) -> None:
    base = {
        "required_duration": {"minutes": 60},
        "query_periods": day_query(panel, 0),
    }
    strict = ask(panel, participants=[{"members": members(panel, "ann", "dee")}], **base)
    assert strict["available_slots"] == []
    dee = next(p for p in strict["people"] if p["email"] == panel.people["dee"])
    assert dee["error"]["code"] == "not_matched"
    either = ask(
        panel, participants=[{"members": members(panel, "ann", "dee"), "required": 1}], **base
    )
    assert either["available_slots"]
    assert all(
        [p["email"] for p in s["participants"]] == [panel.people["ann"]]
        for s in either["available_slots"]
    )


def test_periods_are_maximal_free_stretches(panel: Any) -> None:
    answer = ask(
        panel,
        participants=[{"members": members(panel, "ann", "ben")}],
        required_duration={"minutes": 30},
        query_periods=day_query(panel, 4),
        response_format="periods",
    )
    day = panel.monday + timedelta(days=4)
    start, end = max(at(NY, day, 9), at(LDN, day, 9)), min(at(NY, day, 17), at(LDN, day, 17))
    assert [(p["start"], p["end"]) for p in answer["available_periods"]] == [(iso(start), iso(end))]
    assert answer["available_slots"] is None


def test_answer_times_are_written_in_the_requested_zone(panel: Any) -> None:
    answer = ask(
        panel,
        participants=[{"members": members(panel, "ann")}],
        required_duration={"minutes": 60},
        query_periods=day_query(panel, 0),
        time_zone="America/New_York",
    )
    first = datetime.fromisoformat(answer["available_slots"][0]["start"])
    assert first.utcoffset() == at(NY, panel.monday, 9).astimezone(NY).utcoffset()
    assert first.astimezone(NY).time() == time(9)


def test_explain_names_the_meeting_the_hours_and_the_unreadable_calendar(
    panel: Any, stack: Any
) -> None:
    day = panel.monday + timedelta(days=1)
    stack.sandbox.add_event(
        CONTOSO_ID, panel.people["caz"], subject="Board review", start=at(SP, day, 14),
        end=at(SP, day, 15), sensitivity="private",
    )  # fmt: skip
    when = at(SP, day, 14)  # 12:00 in New York, 17:00 or 18:00 in London
    answer = panel.api.post(
        "/v1/availability/explain",
        json={
            "participants": members(panel, "ann", "ben", "caz", "dee"),
            "start": iso(when),
            "required_duration": {"minutes": 60},
        },
    )
    assert answer.status_code == 200, answer.text
    people = {p["email"]: p for p in answer.json()["people"]}
    ann, ben, caz, dee = (people[panel.people[n]] for n in ("ann", "ben", "caz", "dee"))
    assert ann["available"] and ann["reasons"] == []
    assert not ben["available"]
    assert [r["reason"] for r in ben["reasons"]] == ["outside_working_hours"]
    assert not caz["available"]
    (busy,) = caz["reasons"]
    assert busy["reason"] == "busy" and busy["subject"] is None, "private subject never shown"
    assert busy["start"] == iso(at(SP, day, 14))
    assert not dee["available"] and dee["reasons"][0]["reason"] == "calendar_unreadable"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"participants": [{"members": [{"email": "a@contoso.com"}], "required": 2}]}, "1"),
        ({"required_duration": {"minutes": 0}}, "duration"),
        ({"start_interval": {"minutes": 7}}, "5, 10, 15"),
        ({"time_zone": "Mars/Olympus"}, "Mars/Olympus"),
        (
            {"query_periods": [{"start": "2027-01-04T00:00:00Z", "end": "2027-05-04T00:00:00Z"}]},
            "12 weeks",
        ),
        (
            {
                "query_periods": [
                    {"start": "2027-01-04T00:00:00Z", "end": "2027-01-06T00:00:00Z"},
                    {"start": "2027-01-05T00:00:00Z", "end": "2027-01-07T00:00:00Z"},
                ]
            },
            "overlap",
        ),
        (
            {"query_periods": [{"start": "2027-01-06T00:00:00Z", "end": "2027-01-04T00:00:00Z"}]},
            "end",
        ),
        (
            {"query_periods": [{"start": "2027-01-04T00:00:00", "end": "2027-01-05T00:00:00"}]},
            "offset",
        ),
        ({"participants": []}, "participants"),
        (
            {
                "participants": [
                    {"members": [{"email": "a@x.example", "user_id": str(uuid.uuid4())}]}
                ]
            },
            "either user_id or email",
        ),
    ],
)
def test_bad_questions_get_a_clear_answer_and_read_no_calendar(
    panel: Any, stack: Any, change: dict[str, Any], words: str
) -> None:
    body = {
        "participants": [{"members": [{"email": panel.people["ann"]}]}],
        "required_duration": {"minutes": 60},
        "query_periods": [{"start": "2027-01-04T00:00:00Z", "end": "2027-01-05T00:00:00Z"}],
        **change,
    }
    before = stack.sandbox.stats.by_route.copy()
    answer = panel.api.post("/v1/availability", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert words.lower() in (error["message"] + error.get("hint", "")).lower(), error
    assert stack.sandbox.stats.by_route == before, "a bad question reads no calendar"


def test_policy_settings_are_checked_and_kept(panel: Any) -> None:
    policy = panel.api.get("/v1/availability/policy").json()
    assert policy["tentative_blocks"] is True and policy["working_elsewhere_blocks"] is False
    bad = panel.api.patch("/v1/availability/policy", json={"buffer_before_minutes": -5})
    assert bad.status_code == 422 and "buffer_before_minutes" in bad.text
    bad_hours = panel.api.patch(
        "/v1/availability/policy", json={"default_working_hours": {"funday": [["09:00", "17:00"]]}}
    )
    assert bad_hours.status_code == 422 and "funday" in bad_hours.json()["error"]["message"]
    assert panel.api.get("/v1/availability/policy").json() == policy, "nothing half-written"


def test_working_hours_and_caps_are_set_per_person(panel: Any) -> None:
    user = next(u for u in panel.api.get("/v1/users").json() if u["email"] == panel.people["dee"])
    hours = {"monday": [["22:00", "02:00"]], "tuesday": [["09:00", "12:00"], ["13:00", "17:00"]]}
    changed = panel.api.patch(
        f"/v1/users/{user['id']}",
        json={"working_hours": hours, "max_interviews_per_day": 2},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["working_hours"] == hours
    assert changed.json()["max_interviews_per_day"] == 2
    bad = panel.api.patch(
        f"/v1/users/{user['id']}", json={"working_hours": {"monday": [["9am", "5pm"]]}}
    )
    assert bad.status_code == 422 and "HH:MM" in bad.json()["error"]["hint"]
    cleared = panel.api.patch(f"/v1/users/{user['id']}", json={"working_hours": None})
    assert cleared.json()["working_hours"] is None
    assert cleared.json()["max_interviews_per_day"] == 2, "fields left out are kept"


def test_an_interview_loop_fits_in_the_candidates_day_with_bounded_gaps(panel: Any) -> None:
    body = {
        "sessions": [
            {
                "name": "Technical",
                "required_duration": {"minutes": 60},
                "participants": [{"members": members(panel, "ann")}],
            },
            {
                "name": "Culture",
                "required_duration": {"minutes": 45},
                "participants": [{"members": members(panel, "ben", "caz"), "required": 1}],
            },
        ],
        "query_periods": day_query(panel, 0) + day_query(panel, 4),
        "candidate_time_zone": "Europe/Berlin",
        "gap": {"min": {"minutes": 15}, "max": {"minutes": 30}},
        "max_results": 3,
    }
    answer = panel.api.post("/v1/availability/loops", json=body)
    assert answer.status_code == 200, answer.text
    loops = answer.json()["loops"]
    assert len(loops) == 3 and answer.json()["complete"]
    berlin = ZoneInfo("Europe/Berlin")
    for loop in loops:
        first, second = loop["sessions"]
        assert [first["name"], second["name"]] == ["Technical", "Culture"]
        starts = [datetime.fromisoformat(s["start"]) for s in (first, second)]
        ends = [datetime.fromisoformat(s["end"]) for s in (first, second)]
        assert ends[0] - starts[0] == timedelta(minutes=60)
        assert timedelta(minutes=15) <= starts[1] - ends[0] <= timedelta(minutes=30)
        assert {d.astimezone(berlin).date() for d in starts + ends} == {
            date.fromisoformat(loop["day"])
        }
        assert [i["email"] for i in first["interviewers"]] == [panel.people["ann"]]
        assert len(second["interviewers"]) == 1
    assert loops[0]["day"] == (panel.monday.date()).isoformat(), "the earliest day comes first"


def test_a_loop_question_that_cannot_be_answered_says_why(panel: Any, stack: Any) -> None:
    session = {
        "name": "Same",
        "required_duration": {"minutes": 30},
        "participants": [{"members": members(panel, "ann")}],
    }
    before = stack.sandbox.stats.by_route.copy()
    repeated = panel.api.post(
        "/v1/availability/loops",
        json={
            "sessions": [session, session],
            "query_periods": day_query(panel, 0),
            "candidate_time_zone": "Europe/Berlin",
        },
    )
    assert repeated.status_code == 422 and "own name" in repeated.json()["error"]["message"]
    zone = panel.api.post(
        "/v1/availability/loops",
        json={
            "sessions": [session],
            "query_periods": day_query(panel, 0),
            "candidate_time_zone": "Berlin",
        },
    )
    assert zone.status_code == 422 and zone.json()["error"]["field"] == "candidate_time_zone"
    assert stack.sandbox.stats.by_route == before


@pytest.mark.parametrize("zone", ["America", "Europe/../../etc", "x" * 300])
def test_names_that_are_not_zones_are_refused_not_crashed_on(panel: Any, zone: str) -> None:
    answer = panel.api.post(
        "/v1/availability",
        json={
            "participants": [{"members": members(panel, "ann")}],
            "required_duration": {"minutes": 30},
            "query_periods": day_query(panel, 0),
            "time_zone": zone,
        },
    )
    assert answer.status_code == 422 and "not a known time zone" in answer.text
