"""Free/busy for up to 1,000 people over up to 62 days, one answer per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from hiresync.api.deps import OrgDep, RuntimeDep
from hiresync.api.v1.clock import RequestClock
from hiresync.api.v1.schemas import (
    FreeBusyIn,
    FreeBusyOut,
)
from hiresync.domain.freebusy import BusyBlock
from hiresync.services import freebusy

router = APIRouter(tags=["free/busy"])


def _shift(zone: ZoneInfo | None) -> Callable[[datetime], datetime] | None:
    """Express instants in ``zone`` (None: leave them in UTC, as they are)."""
    if zone is None:
        return None
    return lambda moment: moment.astimezone(zone)


def _blocks(
    blocks: tuple[BusyBlock, ...], shift: Callable[[datetime], datetime] | None
) -> list[dict[str, Any]]:
    """Busy blocks as ``BusyOut`` dicts; the status enum is left to orjson, and the
    common UTC answer skips the shift: 40,000 blocks go through here per large answer."""
    out = [
        {
            "start": b.start,
            "end": b.end,
            "status": b.status,
            "subject": b.subject,
            "private": b.is_private,
        }
        for b in blocks
    ]
    if shift is not None:
        for block in out:
            block["start"], block["end"] = shift(block["start"]), shift(block["end"])
    return out


def person_out(
    item: freebusy.PersonFreeBusy, shift: Callable[[datetime], datetime] | None
) -> dict[str, Any]:
    """One person of the answer, shaped as ``PersonFreeBusyOut``.

    Built as plain data and serialized by orjson one person at a time: an answer for
    1,000 people over weeks holds tens of thousands of busy blocks, and a model object
    per block would cost more than reading them from Microsoft.
    ``test_answer_matches_its_published_schema`` holds this shape to /openapi.json."""
    s, wh, user = item.schedule, item.schedule.working_hours, item.user
    return {
        "user_id": str(user.id) if user else None,
        "email": user.email if user else (item.ref.email or s.email),
        "name": user.name if user else None,
        "mailbox": item.mailbox,
        "time_zone": s.time_zone
        or (wh.time_zone if wh else None)
        or (user.time_zone if user else None),
        "working_hours": {
            "days": [d.value for d in wh.days],
            "start": wh.start.isoformat("minutes"),
            "end": wh.end.isoformat("minutes"),
            "time_zone": wh.time_zone,
        }
        if wh
        else None,
        "busy": _blocks(s.blocks, shift),
        "error": {"code": s.error.code.value, "message": s.error.message} if s.error else None,
    }


def _stream(
    head: dict[str, Any],
    people: list[freebusy.PersonFreeBusy],
    shift: Callable[[datetime], datetime] | None,
) -> Iterator[bytes]:
    """The answer as JSON, about 256 KB at a time, so its full text is never held at once."""
    buffer = bytearray(orjson.dumps(head, option=orjson.OPT_UTC_Z)[:-1] + b',"people":[')
    for index, item in enumerate(people):
        if index:
            buffer += b","
        buffer += orjson.dumps(person_out(item, shift), option=orjson.OPT_UTC_Z)
        if len(buffer) >= 256 * 1024:
            yield bytes(buffer)
            buffer.clear()
    yield bytes(buffer + b"]}")


@router.post("/free-busy", response_model=FreeBusyOut)
async def free_busy(body: FreeBusyIn, org: OrgDep, runtime: RuntimeDep) -> Response:
    """Busy blocks (busy, tentative, oof, workingElsewhere), working hours and time zone per
    person, read live from the connected calendars. A person who cannot be read gets an
    ``error`` entry; the others are still answered."""
    clock = RequestClock(body.time_zone)
    start, end = clock.read(body.start, "start"), clock.read(body.end, "end")
    people = [freebusy.PersonRef(user_id=p.user_id, email=p.email) for p in body.people]
    results = await freebusy.query(runtime, org, people, start, end)
    shift = _shift(None if clock.name == "UTC" else clock.zone)
    head = {"start": clock.write(start), "end": clock.write(end), "time_zone": clock.name}
    return StreamingResponse(_stream(head, results, shift), media_type="application/json")
