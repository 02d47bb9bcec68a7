"""Zoom's rules for what we send and how we read its answers, pinned without a server:
passcodes, GMT start times across DST, durations, the key line in the agenda, plan limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

import pytest

from hiresync.providers.base import MeetingRequest
from hiresync.providers.zoom.parse import (
    AGENDA_MAX,
    PasscodeRule,
    agenda_with_key,
    clip,
    create_body,
    duration_minutes,
    keys_in,
    make_passcode,
    may_hide_key,
    meeting_details,
    meeting_host,
    parse_zoom_time,
    passcode_problems,
    passcode_rule,
    update_body,
    user_tokens,
    zoom_time,
)

BERLIN = ZoneInfo("Europe/Berlin")
ZOOM_PASSCODE = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")


def request(**changes: object) -> MeetingRequest:
    start = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    values: dict[str, object] = {
        "key": "iv-42",
        "topic": "Interview: Jordan Lee",
        "start": start,
        "end": start + timedelta(minutes=45),
        "time_zone": "Europe/Berlin",
        "agenda": "System design round.",
    }
    return MeetingRequest(**(values | changes))  # type: ignore[arg-type]


# -- passcodes --------------------------------------------------------------------------------


def test_generated_passcodes_satisfy_zoom_and_the_strictest_policy() -> None:
    strict = PasscodeRule(
        length=10, letter=True, number=True, special=True, upper_and_lower=True, consecutive=4
    )
    rng = Random(7)
    codes = [make_passcode(rng=rng) for _ in range(300)]
    assert len(set(codes)) == 300
    for code in codes:
        assert code is not None and ZOOM_PASSCODE.match(code) and len(code) == 10
        assert passcode_problems(code, strict) == []


def test_a_numeric_only_policy_gets_digits() -> None:
    rule = PasscodeRule(length=8, number=True, numeric_only=True, consecutive=5)
    code = make_passcode(rule, Random(3))
    assert code is not None and code.isdigit() and len(code) == 10
    assert passcode_problems(code, rule) == []


@pytest.mark.parametrize(
    "rule",
    [PasscodeRule(length=11), PasscodeRule(numeric_only=True, special=True)],
    ids=["longer-than-zoom-allows", "contradictory"],
)
def test_a_policy_no_ten_characters_can_meet_lets_zoom_generate_its_own(
    rule: PasscodeRule,
) -> None:
    assert make_passcode(rule) is None


@pytest.mark.parametrize(
    ("code", "rule", "problem"),
    [
        ("elevenchars", PasscodeRule(), "at most 10"),
        ("has space", PasscodeRule(), "at most 10"),
        ("semi;colon", PasscodeRule(), "at most 10"),
        ("abc", PasscodeRule(length=6), "at least 6"),
        ("Ab3@x1234", PasscodeRule(consecutive=4), "consecutive"),
        ("Ab3@xdcba", PasscodeRule(consecutive=4), "consecutive"),
        ("Ab3@xzzzz", PasscodeRule(consecutive=4), "consecutive"),
        ("abc12345", PasscodeRule(numeric_only=True), "digits only"),
        ("abcdefgh", PasscodeRule(upper_and_lower=True), "upper and lower"),
    ],
)
def test_passcode_problems_name_the_broken_rule(
    code: str, rule: PasscodeRule, problem: str
) -> None:
    assert any(problem in p for p in passcode_problems(code, rule))


def test_the_policy_is_read_from_the_user_settings() -> None:
    settings = {
        "schedule_meeting": {
            "meeting_password_requirement": {
                "length": 8,
                "have_letter": True,
                "have_special_character": True,
                "consecutive_characters_length": 6,
            }
        }
    }
    assert passcode_rule(settings) == PasscodeRule(  # type: ignore[arg-type]
        length=8, letter=True, special=True, consecutive=6
    )
    assert passcode_rule(None) == PasscodeRule() == passcode_rule({})


# -- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN), "2026-03-27T08:00:00Z"),  # CET, UTC+1
        (datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN), "2026-03-30T07:00:00Z"),  # CEST, UTC+2
        (datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN), "2026-10-26T08:00:00Z"),  # back to CET
        (
            datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
            "2026-11-01T06:30:00Z",  # the second 01:30 of the night clocks go back
        ),
    ],
)
def test_start_time_is_gmt_whatever_the_interview_zone_and_dst(
    local: datetime, expected: str
) -> None:
    body = create_body(request(start=local, end=local + timedelta(hours=1)), "Ab3@x7Kp9Q")
    assert body["start_time"] == expected
    assert body["timezone"] == "Europe/Berlin"  # Zoom shows the interview's own wall clock


def test_naive_times_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        zoom_time(datetime(2026, 3, 30, 9))
    with pytest.raises(ValueError, match="time zone"):
        create_body(request(time_zone="Mars/Olympus"), None)


@pytest.mark.parametrize(
    ("length", "minutes"),
    [
        (timedelta(minutes=45), 45),
        (timedelta(minutes=45, seconds=1), 46),
        (timedelta(seconds=30), 1),
        (timedelta(hours=2, minutes=29, seconds=59), 150),
    ],
)
def test_duration_rounds_up_to_whole_minutes(length: timedelta, minutes: int) -> None:
    start = datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert duration_minutes(start, start + length) == minutes


def test_a_meeting_that_does_not_end_after_it_starts_is_refused() -> None:
    start = datetime(2026, 3, 30, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="end after"):
        duration_minutes(start, start)


def test_zoom_times_are_read_as_aware_utc() -> None:
    assert parse_zoom_time("2031-01-02T15:00:00Z") == datetime(2031, 1, 2, 15, tzinfo=UTC)
    assert parse_zoom_time("2031-01-02T16:00:00+01:00") == datetime(2031, 1, 2, 15, tzinfo=UTC)
    assert parse_zoom_time("") is None and parse_zoom_time("soon") is None


# -- topic and agenda -------------------------------------------------------------------------


def test_the_key_is_the_last_line_of_the_agenda() -> None:
    assert agenda_with_key("Bring a laptop.\n", "iv-42") == "Bring a laptop.\n\nhiresync:iv-42"
    assert agenda_with_key("  ", "iv-42") == "hiresync:iv-42"


def test_a_2000_character_agenda_is_shortened_so_the_key_survives() -> None:
    agenda = agenda_with_key("x" * AGENDA_MAX, "interview-0123456789")
    assert len(agenda) == AGENDA_MAX
    assert agenda.splitlines()[-1] == "hiresync:interview-0123456789"
    assert agenda.splitlines()[0].endswith("…")


def test_agenda_length_is_counted_as_zoom_counts_it() -> None:
    agenda = agenda_with_key("🙂" * 1500, "iv-42")  # each emoji is two UTF-16 units
    assert len(agenda.encode("utf-16-le")) // 2 <= AGENDA_MAX
    assert keys_in(agenda) == {"iv-42"}


def test_a_key_is_found_even_when_the_host_added_notes_below_it() -> None:
    edited = agenda_with_key("Loop", "iv-42") + "\nHost note: use the big room"
    assert keys_in(edited) == {"iv-42"}
    assert keys_in(None) == set() and keys_in("hiresync is great") == set()


@pytest.mark.parametrize("key", ["", "has space", "two\nlines", "k" * 121])
def test_keys_we_could_not_write_back_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="meeting key"):
        agenda_with_key("Loop", key)


def test_only_a_listed_agenda_long_enough_to_have_been_cut_may_hide_the_key() -> None:
    assert may_hide_key("x" * 250) and not may_hide_key("short") and not may_hide_key(None)


def test_topic_is_clipped_to_200_and_defaults_to_interview() -> None:
    body = create_body(request(topic="T" * 250), None)
    assert len(body["topic"]) == 200 and body["topic"].endswith("…")
    assert create_body(request(topic="  "), None)["topic"] == "Interview"
    assert clip("short", 200) == "short"


# -- bodies -----------------------------------------------------------------------------------


def test_the_create_body_makes_a_link_that_works_without_the_host() -> None:
    body = create_body(request(), "Ab3@x7Kp9Q")
    assert (body["type"], body["duration"], body["password"]) == (2, 45, "Ab3@x7Kp9Q")
    assert body["settings"] == {
        "join_before_host": True,
        "jbh_time": 0,
        "waiting_room": False,
        "meeting_authentication": False,
        "approval_type": 2,
        "mute_upon_entry": True,
    }
    assert "password" not in create_body(request(), None)


def test_the_update_body_leaves_passcode_and_settings_alone() -> None:
    body = update_body(request(end=datetime(2026, 3, 30, 10, 30, tzinfo=BERLIN)))
    assert set(body) == {"topic", "type", "start_time", "duration", "timezone", "agenda"}
    assert body["duration"] == 90 and body["agenda"].endswith("hiresync:iv-42")


# -- answers ----------------------------------------------------------------------------------


def test_a_meeting_answer_gives_what_the_invitation_needs() -> None:
    details = meeting_details(
        {
            "id": 85746065432,
            "join_url": "https://zoom.us/j/85746065432?pwd=abc.1",
            "password": "Ab3@x7Kp9Q",
            "host_email": "fay@example.com",
            "start_time": "2026-03-30T07:00:00Z",
            "duration": 45,
        }
    )
    assert details.meeting_id == "85746065432" and details.passcode == "Ab3@x7Kp9Q"
    assert details.start == datetime(2026, 3, 30, 7, tzinfo=UTC) and details.duration_minutes == 45


USER = {"id": "u1", "account_id": "a1", "email": "host@example.com", "first_name": "Fay"}


@pytest.mark.parametrize(
    ("user_type", "concurrent", "expected"),
    [
        (1, None, (False, 40, 1)),  # Basic: 40 minutes, one at a time
        (2, "None", (True, None, 1)),  # licensed on Pro
        (2, "Basic", (True, None, 2)),  # licensed on Business and up
        (2, "Plus", (True, None, None)),  # add-on whose number the API does not give
        (2, "absent", (True, None, 1)),  # no settings: assume the stricter Pro limit
    ],
)
def test_plan_limits_come_from_user_type_and_concurrent_meeting(
    user_type: int, concurrent: str | None, expected: tuple[object, ...]
) -> None:
    settings = (
        None if concurrent in (None, "absent") else {"feature": {"concurrent_meeting": concurrent}}
    )
    host = meeting_host({**USER, "type": user_type}, settings)  # type: ignore[arg-type, typeddict-item]
    assert (host.licensed, host.max_minutes, host.concurrent_meetings) == expected
    assert host.display_name == "Fay" and host.email == "host@example.com"


def test_tokens_expire_when_zoom_says() -> None:
    now = datetime(2026, 3, 30, 9, tzinfo=UTC)
    tokens = user_tokens(
        {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 3599},
        now,
    )
    assert tokens.expires_at == now + timedelta(seconds=3599) and tokens.refresh_token == "r"
