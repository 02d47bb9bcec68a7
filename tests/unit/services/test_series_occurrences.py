"""A series kept in a person's copy, read for availability and the Calendar page: its
occurrences are where the person's calendar shows them, exceptions and EXDATEs included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hiresync.providers.ical_objects import StoredEvent, to_ics
from hiresync.services.copied_busy import occurrences

NEW_YORK = ZoneInfo("America/New_York")
WINDOW = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 21, tzinfo=UTC))


def series(dtstart: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:s@x\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART{dtstart}\r\nDURATION:PT1H\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Weekly\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_a_floating_series_is_read_in_the_persons_zone_across_dst() -> None:
    """09:00 with no zone, for someone in New York: 14:00 UTC before the change on 8 March,
    13:00 UTC after, as the person's own calendar app shows it (not 09:00 UTC)."""
    found = occurrences(series(":20260302T090000"), *WINDOW, NEW_YORK)
    assert [o.start.astimezone(NEW_YORK).hour for o in found] == [9, 9, 9]
    assert [o.start.hour for o in found] == [14, 13, 13]
    assert all((o.end - o.start).seconds == 3600 and not o.free for o in found)


def test_a_zoned_series_keeps_its_own_zone_and_skips_cancelled_and_excluded_ones() -> None:
    text = series(
        ";TZID=Europe/London:20260302T090000", "EXDATE;TZID=Europe/London:20260309T090000\r\n"
    )
    found = occurrences(text, *WINDOW, NEW_YORK)
    assert [o.start for o in found] == [
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        datetime(2026, 3, 16, 9, tzinfo=UTC),
    ]
    free = occurrences(series(":20260302T090000Z", "TRANSP:TRANSPARENT\r\n"), *WINDOW, UTC)
    assert [o.free for o in free] == [True, True, True]
    assert occurrences("not iCalendar", *WINDOW, UTC) == [], "unreadable: nothing, no crash"


def test_an_event_hiresync_writes_reads_back_at_the_same_instant() -> None:
    start = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)  # the night of the change
    text = to_ics(
        StoredEvent("e@x", 0, "Late", start, start.replace(hour=4), "America/New_York")
    ).replace("SUMMARY:Late", "SUMMARY:Late\r\nRRULE:FREQ=DAILY;COUNT=1")
    (one,) = occurrences(text, *WINDOW, UTC)
    assert one.start == start.astimezone(UTC) and one.end == start.replace(hour=4).astimezone(UTC)
