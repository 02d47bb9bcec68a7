"""The week grid of the availability page: people × half-hours, from free/busy answers.

Presentation only: it turns busy blocks into one status per cell in the viewer's time
zone, greying cells outside each person's working hours, so the page needs no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hiresync.domain.freebusy import BusyStatus, Schedule, WorkingHours

SLOT = timedelta(minutes=30)
DAY_START, DAY_END = time(7), time(20)
# When two blocks overlap a cell, the stronger status shows.
_STRENGTH = {
    BusyStatus.OOF: 5,
    BusyStatus.BUSY: 4,
    BusyStatus.WORKING_ELSEWHERE: 3,
    BusyStatus.TENTATIVE: 2,
    BusyStatus.UNKNOWN: 1,
    BusyStatus.FREE: 0,
}


@dataclass(frozen=True)
class Cell:
    status: str  # a BusyStatus value, or "off" outside working hours
    title: str


@dataclass(frozen=True)
class Row:
    name: str
    email: str
    cells: list[Cell]
    error: str | None = None


def slot_starts(monday: date, zone: ZoneInfo, days: int = 5) -> list[datetime]:
    starts = []
    for offset in range(days):
        day = monday + timedelta(days=offset)
        moment = datetime.combine(day, DAY_START, zone)
        end = datetime.combine(day, DAY_END, zone)
        while moment < end:
            starts.append(moment)
            moment = (moment.astimezone(ZoneInfo("UTC")) + SLOT).astimezone(zone)
    return starts


def _working(wh: WorkingHours | None, moment: datetime) -> bool:
    if wh is None:
        return True
    local = moment.astimezone(ZoneInfo(wh.time_zone))
    if local.strftime("%A").lower() not in {d.value for d in wh.days}:
        return False
    return wh.start <= local.time() < wh.end


def cells_for(schedule: Schedule, starts: list[datetime]) -> list[Cell]:
    cells = []
    for start in starts:
        end = start + SLOT
        hits = [
            b
            for b in schedule.blocks
            if b.start < end and b.end > start and b.status != BusyStatus.FREE
        ]
        if hits:
            top = max(hits, key=lambda b: _STRENGTH[b.status])
            label = "Private" if top.is_private else (top.subject or top.status.value)
            cells.append(Cell(top.status.value, f"{start:%a %H:%M} · {label}"))
        elif not _working(schedule.working_hours, start):
            cells.append(Cell("off", f"{start:%a %H:%M} · outside working hours"))
        else:
            cells.append(Cell("free", f"{start:%a %H:%M} · free"))
    return cells
