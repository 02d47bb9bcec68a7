"""The availability grid shows the right status in each half hour, in the viewer's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hiresync.domain.freebusy import BusyBlock, BusyStatus, Schedule, Weekday, WorkingHours
from hiresync.web.grid import cells_for, slot_starts

NY = ZoneInfo("America/New_York")


def test_week_has_the_same_number_of_slots_each_day_across_dst() -> None:
    # 2026-11-02 is the Monday after the US DST change (Nov 1).
    starts = slot_starts(date(2026, 10, 26), NY)
    assert len(starts) == 5 * 26
    assert starts[0] == datetime(2026, 10, 26, 7, 0, tzinfo=NY)
    assert all(s.hour >= 7 and s.hour < 20 for s in starts)


def test_busy_tentative_and_outside_hours_cells() -> None:
    hours = WorkingHours((Weekday.MONDAY,), time(9), time(17), "America/New_York")
    schedule = Schedule(
        "a@x.com",
        blocks=(
            BusyBlock(
                datetime(2026, 11, 23, 15, tzinfo=UTC),
                datetime(2026, 11, 23, 16, tzinfo=UTC),
                BusyStatus.BUSY,
                subject="1:1",
            ),
            BusyBlock(
                datetime(2026, 11, 23, 15, 30, tzinfo=UTC),
                datetime(2026, 11, 23, 17, tzinfo=UTC),
                BusyStatus.TENTATIVE,
            ),
            BusyBlock(
                datetime(2026, 11, 23, 19, tzinfo=UTC),
                datetime(2026, 11, 23, 20, tzinfo=UTC),
                BusyStatus.BUSY,
                is_private=True,
                subject="secret",
            ),
        ),
        working_hours=hours,
    )
    starts = slot_starts(date(2026, 11, 23), NY, days=1)
    cells = {
        s.strftime("%H:%M"): c for s, c in zip(starts, cells_for(schedule, starts), strict=True)
    }
    assert cells["08:30"].status == "off"  # before 9:00 New York
    assert cells["09:00"].status == "free"
    assert cells["10:00"].status == "busy" and "1:1" in cells["10:00"].title  # 15:00 UTC
    assert cells["10:30"].status == "busy"  # busy wins over tentative
    assert cells["11:00"].status == "tentative"
    assert cells["14:00"].status == "busy" and "secret" not in cells["14:00"].title
    assert "Private" in cells["14:00"].title
