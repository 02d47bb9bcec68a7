"""Free/busy for up to 1,000 people over up to 62 days, one answer per person."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from hiresync.api.deps import OrgDep, RuntimeDep
from hiresync.api.v1.schemas import (
    BusyOut,
    FreeBusyIn,
    FreeBusyOut,
    PersonErrorOut,
    PersonFreeBusyOut,
    WorkingHoursOut,
)
from hiresync.services import freebusy, validation
from hiresync.services.errors import InvalidInput

router = APIRouter(tags=["free/busy"])


def _in_zone(moment: datetime, zone: ZoneInfo, field: str, named: bool) -> datetime:
    if moment.tzinfo is not None:
        return moment
    if not named:
        raise InvalidInput(
            f"{field} has no UTC offset and no time_zone was given.",
            hint='Write it like 2026-11-23T09:00:00Z, or add "time_zone": "Europe/London".',
            field=field,
        )
    return moment.replace(tzinfo=zone)


def person_out(item: freebusy.PersonFreeBusy, zone: ZoneInfo) -> PersonFreeBusyOut:
    s = item.schedule
    wh = s.working_hours
    return PersonFreeBusyOut(
        user_id=item.user.id if item.user else None,
        email=item.user.email if item.user else (item.ref.email or s.email),
        name=item.user.name if item.user else None,
        mailbox=item.mailbox,
        time_zone=s.time_zone
        or (wh.time_zone if wh else None)
        or (item.user.time_zone if item.user else None),
        working_hours=WorkingHoursOut(
            days=[d.value for d in wh.days],
            start=wh.start.isoformat("minutes"),
            end=wh.end.isoformat("minutes"),
            time_zone=wh.time_zone,
        )
        if wh
        else None,
        busy=[
            BusyOut(
                start=b.start.astimezone(zone),
                end=b.end.astimezone(zone),
                status=b.status.value,
                subject=b.subject,  # type: ignore[arg-type]
                private=b.is_private,
            )
            for b in s.blocks
        ],
        error=PersonErrorOut(code=s.error.code.value, message=s.error.message) if s.error else None,  # type: ignore[arg-type]
    )


@router.post("/free-busy", response_model=FreeBusyOut)
async def free_busy(body: FreeBusyIn, org: OrgDep, runtime: RuntimeDep) -> FreeBusyOut:
    """Busy blocks (busy, tentative, oof, workingElsewhere), working hours and time zone per
    person, read live from the connected calendars. A person who cannot be read gets an
    ``error`` entry; the others are still answered."""
    name = validation.time_zone(body.time_zone) if body.time_zone else "UTC"
    zone = ZoneInfo(name)
    start = _in_zone(body.start, zone, "start", body.time_zone is not None)
    end = _in_zone(body.end, zone, "end", body.time_zone is not None)
    people = [freebusy.PersonRef(user_id=p.user_id, email=p.email) for p in body.people]
    results = await freebusy.query(runtime, org, people, start, end)
    return FreeBusyOut(
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        time_zone=name,
        people=[person_out(r, zone) for r in results],
    )
