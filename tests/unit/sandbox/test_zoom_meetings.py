"""Meeting rules of the Zoom sandbox without HTTP: validation, changes, listing, plan limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hiresync.sandbox.zoom import PRO_ACCOUNT_ID, ZoomSandbox
from hiresync.sandbox.zoom.meetings import (
    MeetingInputError,
    apply_changes,
    create_meeting,
    page_offset,
    page_token,
    select_meetings,
)

FAY = "fay.lopez@fabrikam-talent.test"
NOW = datetime(2031, 3, 11, 15, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> ZoomSandbox:
    box = ZoomSandbox.seeded()
    box.clock = lambda: NOW.timestamp()
    return box


def test_defaults_come_from_the_host(sandbox: ZoomSandbox) -> None:
    meeting = create_meeting(
        sandbox, sandbox.user(FAY), {"type": 2, "start_time": "2031-03-12T10:00:00"}
    )
    assert meeting.timezone == "America/Chicago" and meeting.start_time == datetime(
        2031, 3, 12, 15, tzinfo=UTC
    )
    assert (meeting.duration, meeting.topic, meeting.type) == (60, "Zoom meeting", 2)
    assert len(str(meeting.id)) == 11 and meeting.id in sandbox.meetings


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"duration": -5}, ("duration",)),
        ({"duration": "30"}, ("duration",)),
        ({"type": 5}, ("type",)),
        ({"timezone": "Nowhere/City"}, ("timezone",)),
        (
            {"topic": "t" * 201, "settings": {"waiting_room": "yes"}},
            ("topic", "settings.waiting_room"),
        ),
        ({"settings": {"audio": "pigeon"}}, ("settings.audio",)),
        ({"settings": []}, ("settings",)),
        ({"start_time": "tomorrow"}, ("start_time",)),
        ({"schedule_for": "paul.pro@prorecruiting.test"}, ("schedule_for",)),
        ({"type": 8, "recurrence": {"type": 1}}, ("type",)),
    ],
)
def test_invalid_bodies_name_the_fields_and_store_nothing(
    sandbox: ZoomSandbox, body: dict[str, object], fields: tuple[str, ...]
) -> None:
    with pytest.raises(MeetingInputError) as caught:
        create_meeting(
            sandbox, sandbox.user(FAY), {"type": 2, "start_time": "2031-03-12T10:00:00Z"} | body
        )
    assert caught.value.code == 300 and caught.value.fields == fields
    assert sandbox.meetings == {}


def test_changes_report_only_what_changed_and_a_bad_patch_changes_nothing(
    sandbox: ZoomSandbox,
) -> None:
    meeting = create_meeting(
        sandbox, sandbox.user(FAY), {"start_time": "2031-03-12T10:00:00Z", "duration": 30}
    )
    old, new = apply_changes(
        sandbox,
        meeting,
        {"duration": 45, "topic": "Zoom meeting", "settings": {"mute_upon_entry": True}},
    )
    assert old == {"duration": 30, "settings": {"mute_upon_entry": False}}
    assert new == {"duration": 45, "settings": {"mute_upon_entry": True}}
    with pytest.raises(MeetingInputError):
        apply_changes(sandbox, meeting, {"duration": 60, "password": "too long passcode"})
    assert meeting.duration == 45


def test_a_new_passcode_changes_the_join_link_token(sandbox: ZoomSandbox) -> None:
    meeting = create_meeting(sandbox, sandbox.user(FAY), {"start_time": "2031-03-12T10:00:00Z"})
    before = meeting.encrypted_password
    apply_changes(sandbox, meeting, {"password": "new-1"})
    assert meeting.password == "new-1" and meeting.encrypted_password != before


def test_listing_kinds_split_past_upcoming_and_live(sandbox: ZoomSandbox) -> None:
    host = sandbox.user(FAY)
    past = create_meeting(sandbox, host, {"start_time": "2031-03-10T10:00:00Z", "duration": 30})
    future = create_meeting(sandbox, host, {"start_time": "2031-03-12T10:00:00Z"})
    instant = create_meeting(sandbox, host, {"type": 2})
    assert instant.type == 1 and instant.start_time == NOW
    assert {m.id for m in select_meetings(sandbox, host, "scheduled")} == {past.id, future.id}
    assert {m.id for m in select_meetings(sandbox, host, "previous_meetings")} == {past.id}
    sandbox.start_meeting_in_zoom(future.id)
    assert [m.id for m in select_meetings(sandbox, host, "live")] == [future.id]


def test_page_tokens_round_trip_and_reject_foreign_ones() -> None:
    assert page_offset(page_token(60)) == 60
    with pytest.raises(ValueError):
        page_offset("bm90LWEtdG9rZW4")


def test_plan_limits_follow_plan_user_type_and_configuration(sandbox: ZoomSandbox) -> None:
    pro = next(u for u in sandbox.users.values() if u.account_id == PRO_ACCOUNT_ID)
    assert sandbox.plan_limits(pro)["concurrent_meetings"] == 1
    sandbox.limits.pro_concurrent_meetings = 2  # ⚠ some sources say 2
    assert sandbox.plan_limits(pro)["concurrent_meetings"] == 2
    business = sandbox.plan_limits(FAY)
    assert (business["plan"], business["concurrent_meetings"]) == ("business", 2)
    assert business["meeting_time_limit_minutes"] is None
    assert sandbox.plan_limits("priya.sharma@contoso.com")["meeting_time_limit_minutes"] == 40


def test_write_quota_is_per_user_and_per_utc_day(sandbox: ZoomSandbox) -> None:
    sandbox.limits.meeting_writes_per_day = 2
    fay, lena = sandbox.user(FAY), sandbox.user("lena.berg@fabrikam-talent.test")
    assert [sandbox.take_meeting_write(fay) for _ in range(3)] == [1, 0, None]
    assert sandbox.take_meeting_write(lena) == 1
    sandbox.clock = lambda: (NOW + timedelta(hours=9)).timestamp()  # 00:00 UTC next day
    assert sandbox.take_meeting_write(fay) == 1
