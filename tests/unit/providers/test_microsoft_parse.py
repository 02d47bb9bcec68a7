"""Graph JSON → domain values: zones, private items, all-day items, errors, working hours."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from hiresync.domain.freebusy import BusyStatus, ScheduleErrorCode, Weekday
from hiresync.providers.microsoft.parse import (
    match_schedules,
    merge_schedules,
    parse_datetime,
    parse_schedule,
    parse_schedule_item,
    parse_user,
    parse_working_hours,
    to_datetime_time_zone,
)
from hiresync.providers.microsoft.wire import ScheduleInformationWire, ScheduleItemWire


def item(start: str, end: str, zone: str = "UTC", **extra: object) -> ScheduleItemWire:
    wire = {
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        "status": "busy",
    }
    wire.update(extra)
    return wire  # type: ignore[return-value]


def test_graph_seven_digit_fractions_in_utc_parse_to_aware_utc() -> None:
    moment = parse_datetime({"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "UTC"})
    assert moment == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_windows_zone_names_are_converted_with_daylight_saving() -> None:
    # 9:00 in Seattle is 17:00 UTC in winter and 16:00 UTC in summer.
    zone = "Pacific Standard Time"
    winter = parse_datetime({"dateTime": "2026-01-15T09:00:00", "timeZone": zone})
    summer = parse_datetime({"dateTime": "2026-07-15T09:00:00", "timeZone": zone})
    assert winter == datetime(2026, 1, 15, 17, tzinfo=UTC)
    assert summer == datetime(2026, 7, 15, 16, tzinfo=UTC)


def test_request_times_are_sent_as_utc_wall_clock() -> None:
    from zoneinfo import ZoneInfo

    paris = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert to_datetime_time_zone(paris) == {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"}
    with pytest.raises(ValueError, match="naive"):
        to_datetime_time_zone(datetime(2026, 3, 2))


def test_a_private_item_never_reveals_its_subject_or_location() -> None:
    block = parse_schedule_item(
        item(
            "2026-03-02T10:00:00",
            "2026-03-02T11:00:00",
            isPrivate=True,
            subject="Interview at competitor",
            location="Their office",
        )
    )
    assert block is not None
    assert block.is_private and block.subject is None and block.location is None
    assert block.status is BusyStatus.BUSY


def test_a_public_item_keeps_subject_and_location() -> None:
    block = parse_schedule_item(
        item("2026-03-02T10:00:00", "2026-03-02T11:00:00", subject="1:1", location="Room 4")
    )
    assert block is not None and (block.subject, block.location) == ("1:1", "Room 4")


def test_free_items_do_not_block_time() -> None:
    assert (
        parse_schedule_item(item("2026-03-02T10:00:00", "2026-03-02T11:00:00", status="free"))
        is None
    )


def test_an_all_day_item_in_a_windows_zone_spans_that_local_day_in_utc() -> None:
    block = parse_schedule_item(
        item(
            "2026-03-03T00:00:00.0000000",
            "2026-03-04T00:00:00.0000000",
            zone="Pacific Standard Time",
            status="oof",
        )
    )
    assert block is not None and block.status is BusyStatus.OOF
    assert block.start == datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert block.end == datetime(2026, 3, 4, 8, tzinfo=UTC)


def test_unknown_statuses_are_kept_as_unknown_rather_than_dropped() -> None:
    block = parse_schedule_item(
        item("2026-03-02T10:00:00", "2026-03-02T11:00:00", status="somethingNew")
    )
    assert block is not None and block.status is BusyStatus.UNKNOWN


def test_working_hours_with_a_windows_zone_become_iana() -> None:
    hours = parse_working_hours(
        {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "W. Europe Standard Time"},
        }
    )
    assert hours is not None
    assert hours.time_zone == "Europe/Berlin"
    assert (hours.start, hours.end) == (time(8), time(17))
    assert hours.days[0] is Weekday.MONDAY and len(hours.days) == 5


def test_a_custom_time_zone_falls_back_to_its_fixed_bias() -> None:
    hours = parse_working_hours(
        {
            "daysOfWeek": ["monday"],
            "startTime": "08:00:00",
            "endTime": "17:00:00",
            "timeZone": {
                "@odata.type": "#microsoft.graph.customTimeZone",  # type: ignore[typeddict-unknown-key]
                "name": "Customized Time Zone",
                "bias": 480,
            },
        }
    )
    assert hours is not None and hours.time_zone == "Etc/GMT+8"  # UTC-8


def test_working_hours_in_an_unknowable_zone_are_left_out() -> None:
    assert (
        parse_working_hours(
            {
                "startTime": "08:00:00",
                "endTime": "17:00:00",
                "timeZone": {"name": "Nowhere Standard Time"},
            }
        )
        is None
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ErrorMailRecipientNotFound", ScheduleErrorCode.MAILBOX_NOT_FOUND),
        ("ErrorInvalidSmtpAddress", ScheduleErrorCode.MAILBOX_NOT_FOUND),
        ("ErrorAccessDenied", ScheduleErrorCode.PROVIDER_ERROR),
    ],
)
def test_a_per_schedule_error_becomes_an_error_entry(
    code: str, expected: ScheduleErrorCode
) -> None:
    wire: ScheduleInformationWire = {
        "scheduleId": "x@contoso.test",
        "error": {"message": "nope", "responseCode": code},
    }
    schedule = parse_schedule(wire, "x@contoso.test")
    assert schedule.error is not None and schedule.error.code is expected
    assert schedule.blocks == ()


def test_a_schedule_reports_the_persons_zone_and_sorted_blocks() -> None:
    wire: ScheduleInformationWire = {
        "scheduleId": "ann@contoso.test",
        "scheduleItems": [
            item("2026-03-02T14:00:00", "2026-03-02T15:00:00"),
            item("2026-03-02T09:00:00", "2026-03-02T10:00:00"),
        ],
        "workingHours": {
            "daysOfWeek": ["monday"],
            "startTime": "09:00:00",
            "endTime": "17:00:00",
            "timeZone": {"name": "Tokyo Standard Time"},
        },
    }
    schedule = parse_schedule(wire, "Ann@Contoso.test")
    assert schedule.email == "Ann@Contoso.test"
    assert schedule.time_zone == "Asia/Tokyo"
    assert [b.start.hour for b in schedule.blocks] == [9, 14]


def test_answers_are_matched_by_address_and_a_missing_one_is_an_error() -> None:
    values: list[ScheduleInformationWire] = [
        {"scheduleId": "BO@contoso.test", "scheduleItems": []},
        {"scheduleId": "ann@contoso.test", "scheduleItems": []},
    ]
    result = match_schedules(["ann@contoso.test", "bo@contoso.test", "cy@contoso.test"], values)
    assert [s.email for s in result] == ["ann@contoso.test", "bo@contoso.test", "cy@contoso.test"]
    assert result[0].error is None and result[1].error is None
    assert result[2].error is not None
    assert result[2].error.code is ScheduleErrorCode.PROVIDER_ERROR


def test_merging_windows_keeps_an_item_across_the_boundary_once() -> None:
    spanning = item("2026-03-31T22:00:00", "2026-04-01T02:00:00")
    first = parse_schedule({"scheduleId": "a@x.test", "scheduleItems": [spanning]}, "a@x.test")
    second = parse_schedule(
        {
            "scheduleId": "a@x.test",
            "scheduleItems": [spanning, item("2026-04-02T09:00:00", "2026-04-02T10:00:00")],
        },
        "a@x.test",
    )
    merged = merge_schedules("a@x.test", [first, second])
    assert len(merged.blocks) == 2


def test_a_failed_window_fails_the_merged_schedule_rather_than_showing_false_free_time() -> None:
    ok = parse_schedule({"scheduleId": "a@x.test", "scheduleItems": []}, "a@x.test")
    failed = parse_schedule(
        {"scheduleId": "a@x.test", "error": {"responseCode": "ErrorAccessDenied"}}, "a@x.test"
    )
    assert merge_schedules("a@x.test", [ok, failed]).error is not None


def test_directory_users_keep_aliases_and_disabled_accounts_are_flagged() -> None:
    user = parse_user(
        {
            "id": "1",
            "displayName": "Ann",
            "mail": "ann@contoso.test",
            "userPrincipalName": "ann@contoso.onmicrosoft.com",
            "proxyAddresses": ["SMTP:ann@contoso.test", "smtp:a@contoso.test"],
            "accountEnabled": False,
        }
    )
    assert user.proxy_addresses == ("SMTP:ann@contoso.test", "smtp:a@contoso.test")
    assert user.account_enabled is False
    bare = parse_user({"id": "2"})
    assert bare.mail is None and bare.proxy_addresses == () and bare.account_enabled


def test_an_unresolvable_address_is_mailbox_not_found_whatever_its_code() -> None:
    schedule = parse_schedule(
        {
            "scheduleId": "x@fabrikam.test",
            "error": {
                "message": "Unable to resolve e-mail address x@fabrikam.test to an Active Directory "
                "object.",
                "responseCode": "5009",
            },
        },
        "x@fabrikam.test",
    )
    assert schedule.error is not None
    assert schedule.error.code is ScheduleErrorCode.MAILBOX_NOT_FOUND
