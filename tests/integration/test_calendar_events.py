"""A person's calendar events through the API, on a real Radicale with the stack's worker
running the syncs (issue #6, seed 002's rules): events made in hiresync one by one go out
once and follow their changes; imported events never go out until a mass update makes them
hiresync's own; the calendar's own meetings are shown read-only; an interview's copy in an
interviewer's own calendar follows it; bad input gets a 4xx naming what to fix, and nothing
is half-written."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from hiresync.providers.caldav import parse_item
from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import calendar_settings
from hiresync.services.team import find_by_email
from hiresync.store.db import Database
from hiresync.store.tables import CalendarItem, User
from tests.conftest import Stack
from tests.dav_servers import DavServer
from tests.integration import test_interviews_api as interviews_api
from tests.integration import test_my_calendar as my_calendar
from tests.integration.test_my_calendar import SOON, Dav, ics, person, started

radicale = my_calendar.radicale  # a Radicale of its own per test, as the settings tests

WEEK = timedelta(days=7)


async def call(api: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    return await asyncio.to_thread(api.request, method, path, **kw)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """``check()`` once it is truthy (the stack's worker runs the syncs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        await asyncio.sleep(0.2)


async def server_copy(dav: Dav, href: str, uid: str) -> Any:
    """The server's event of ``uid`` (its master component), or None."""
    async with dav.server.http() as http:
        answer = await http.get(f"{href}{uid}.ics")
    if answer.status_code == 404:
        return None
    item = parse_item(answer.text)
    return item.master or item.events[0]


async def setup(
    make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> tuple[Any, User, Dav, str]:
    dav = Dav(radicale)
    href = await dav.make("personal")
    await dav.put(href, "standup", ics("standup@x", "Standup", SOON, 15))
    org = make_org()
    user = await person(db, org)
    await started(runtime, db, user, radicale)
    return org, user, dav, href


def event(summary: str, start: datetime, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {"summary": summary, "start": start.isoformat(), "end": end.isoformat(), **extra}


async def test_an_event_made_in_hiresync_goes_out_once_and_follows_its_changes(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    org, user, dav, href = await setup(make_org, radicale, runtime, db)
    path = f"/v1/users/{user.id}/events"
    body = event("Debrief: Alex", SOON + timedelta(hours=3), time_zone="Europe/Berlin")
    body |= {"uid": "debrief-alex@ats", "location": "Room 4"}

    made = await call(org.api, "POST", path, json=body)
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["origin"] == "hiresync" and not created["read_only"]
    assert created["sync_state"] in ("pending", "synced")
    copy = await eventually(lambda: server_copy(dav, href, "debrief-alex@ats"))
    assert copy.summary == "Debrief: Alex" and copy.location == "Room 4"
    assert copy.tzid == "Europe/Berlin"
    assert not copy.attendees and copy.organizer is None, "no server-side invitations"

    again = await call(org.api, "POST", path, json=body)  # a retried call
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    clash = await call(org.api, "POST", path, json=body | {"summary": "Other"})
    assert clash.status_code == 409 and clash.json()["error"]["field"] == "uid"
    assert (await dav.names(href)).count("debrief-alex@ats") == 1

    async def synced() -> Any:
        got = (await call(org.api, "GET", f"{path}/{created['id']}")).json()
        return got if got["sync_state"] == "synced" else None

    await eventually(synced)
    later = SOON + timedelta(hours=5)
    moved = await call(
        org.api,
        "PATCH",
        f"{path}/{created['id']}",
        json={"start": later.isoformat(), "end": (later + timedelta(minutes=30)).isoformat()}
        | {"location": None},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["location"] is None

    async def moved_there() -> Any:
        found = await server_copy(dav, href, "debrief-alex@ats")
        return found if found is not None and found.start == later else None

    copy = await eventually(moved_there)
    assert not copy.location and copy.effective_end() == later + timedelta(minutes=30)

    listed = await call(
        org.api, "GET", path, params={"start": SOON.isoformat(), "end": (SOON + WEEK).isoformat()}
    )
    by_summary = {e["summary"]: e for e in listed.json()}
    assert set(by_summary) == {"Standup", "Debrief: Alex"}
    standup = by_summary["Standup"]
    assert standup["origin"] == "remote" and standup["read_only"]
    refused = await call(org.api, "PATCH", f"{path}/{standup['id']}", json={"summary": "Mine"})
    assert refused.status_code == 409 and "read-only" in refused.json()["error"]["message"]
    assert "calendar it comes from" in refused.json()["error"]["hint"]

    gone = await call(org.api, "DELETE", f"{path}/{created['id']}")
    assert gone.status_code == 204
    await eventually(lambda: _absent(dav, href, "debrief-alex@ats"))
    assert (await call(org.api, "GET", f"{path}/{created['id']}")).status_code == 404
    assert await dav.names(href) == ["standup"], "the person's own meeting stays"


async def _absent(dav: Dav, href: str, uid: str) -> bool:
    return await server_copy(dav, href, uid) is None


SERIES_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//old ats//EN\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-sync@old\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:{start}\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
    "SUMMARY:Weekly hiring sync\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:offsite@old\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;VALUE=DATE:{day}\r\nDTEND;VALUE=DATE:{next_day}\r\nSUMMARY:Offsite\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_imported_events_stay_in_hiresync_until_a_mass_update_makes_them_its_own(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    org, user, dav, href = await setup(make_org, radicale, runtime, db)
    path = f"/v1/users/{user.id}/events"
    first = SOON + timedelta(days=1)
    imported = await call(
        org.api,
        "POST",
        f"{path}/import",
        json={
            "events": [
                event("Old screening", first, uid="old-1@ats"),
                event("Old panel", first + timedelta(hours=2), uid="old-2@ats"),
            ]
        },
    )
    assert imported.status_code == 200 and imported.json() == {"added": 2, "replaced": 0}
    day = (SOON + timedelta(days=2)).date()
    text = SERIES_ICS.format(
        start=f"{day:%Y%m%d}T090000",
        day=f"{day:%Y%m%d}",
        next_day=f"{day + timedelta(days=1):%Y%m%d}",
    )
    from_file = await call(
        org.api, "POST", f"{path}/import", content=text, headers={"content-type": "text/calendar"}
    )
    assert from_file.status_code == 200 and from_file.json() == {"added": 2, "replaced": 0}

    window = {"start": SOON.isoformat(), "end": (SOON + timedelta(days=30)).isoformat()}
    listed = (await call(org.api, "GET", path, params=window)).json()
    weekly = [e for e in listed if e["summary"] == "Weekly hiring sync"]
    assert len(weekly) == 4 and all(e["origin"] == "imported" for e in weekly), listed
    assert {e["sync_state"] for e in listed if e["origin"] == "imported"} == {"local"}
    offsite = next(e for e in listed if e["summary"] == "Offsite")
    assert offsite["all_day"] and offsite["start"].startswith(day.isoformat())

    run = await call(org.api, "POST", f"/v1/users/{user.id}/calendar-sync/run")
    assert run.status_code == 202
    await asyncio.sleep(1.5)
    assert await dav.names(href) == ["standup"], "imported events never go out"

    one = next(e for e in listed if e["summary"] == "Old panel")
    updated = await call(
        org.api,
        "POST",
        f"{path}/mass-update",
        json={"event_ids": [one["id"]], "changes": {"location": "Room 7"}},
    )
    assert updated.status_code == 200 and updated.json() == {"changed": 1}
    copy = await eventually(lambda: server_copy(dav, href, "old-2@ats"))
    assert copy.summary == "Old panel" and copy.location == "Room 7"
    assert sorted(await dav.names(href)) == ["old-2@ats", "standup"], "only the updated one"
    after = (await call(org.api, "GET", f"{path}/{one['id']}")).json()
    assert after["origin"] == "hiresync"

    again = await call(
        org.api,
        "POST",
        f"{path}/import",
        json={"events": [event("Old screening (renamed)", first, uid="old-1@ats")]},
    )
    assert again.json() == {"added": 0, "replaced": 1}
    taken = await call(
        org.api, "POST", f"{path}/import", json={"events": [event("Panel", first, uid="old-2@ats")]}
    )
    assert taken.status_code == 409, "an event hiresync already owns is not imported over"


async def test_bad_input_is_refused_saying_what_to_fix_and_nothing_is_stored(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    org, user, _, _ = await setup(make_org, radicale, runtime, db)
    path = f"/v1/users/{user.id}/events"
    start = SOON + timedelta(days=1)

    async def refused(method: str, url: str, status: int, field: str, **kw: Any) -> str:
        answer = await call(org.api, method, url, **kw)
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
        assert error.get("field") == field, error
        return str(error["message"])

    await refused("POST", path, 422, "end", json=event("Backwards", start, -30))
    naive = event("Naive", start) | {"start": "2026-12-01T10:00:00"}
    assert "UTC offset" in await refused("POST", path, 422, "start", json=naive)
    await refused("POST", path, 422, "time_zone", json=event("Zone", start, time_zone="Mars/Base"))
    await refused("POST", path, 422, "colour", json=event("Extra", start, colour="red"))
    await refused(
        "POST", f"/v1/users/{uuid.uuid4()}/events", 404, "user_id", json=event("X", start)
    )
    window = {"start": start.isoformat(), "end": (start - timedelta(days=1)).isoformat()}
    await refused("GET", path, 422, "end", params=window)
    window["end"] = (start + timedelta(days=200)).isoformat()
    await refused("GET", path, 422, "end", params=window)

    bad_ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\nEND:VEVENT\r\n"
    ics_kw = {"content": bad_ics, "headers": {"content-type": "text/calendar"}}
    assert "iCalendar" in await refused("POST", f"{path}/import", 422, "body", **ics_kw)
    no_uid = {"events": [event("A", start, uid="a@x"), event("B", start)]}
    await refused("POST", f"{path}/import", 422, "events.1.uid", json=no_uid)
    backwards = {"events": [event("A", start, uid="a@x"), event("B", start, -5, uid="b@x")]}
    await refused("POST", f"{path}/import", 422, "events.1.end", json=backwards)
    await refused("POST", f"{path}/import", 422, "content-type", content="x")
    moving = {"event_ids": [str(uuid.uuid4())], "changes": {"start": start.isoformat()}}
    await refused("POST", f"{path}/mass-update", 422, "changes", json=moving)
    unknown = {"event_ids": [str(uuid.uuid4())], "changes": {"location": "Here"}}
    await refused("POST", f"{path}/mass-update", 404, "event_ids", json=unknown)
    async with db.sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .where(CalendarItem.origin != "remote")
            .where(CalendarItem.organization_id == user.organization_id)
        )
    assert stored == 0, "nothing half-imported"

    other = make_org()
    lonely = await person(db, other)
    not_synced = await call(
        other.api, "POST", f"/v1/users/{lonely.id}/events", json=event("X", start)
    )
    assert not_synced.status_code == 409 and not_synced.json()["error"]["code"] == "not_connected"
    assert "Settings › My calendar" in not_synced.json()["error"]["hint"]
    foreign = await call(
        other.api,
        "GET",
        path,
        params={"start": start.isoformat(), "end": (start + WEEK).isoformat()},
    )
    assert foreign.status_code == 404, "another organization's person is unknown here"


# -- interviews in interviewers' own calendars -------------------------------------------------

team = interviews_api.team  # an organizer and two interviewers with Outlook mailboxes


async def test_an_interview_reaches_an_interviewers_own_calendar_and_follows_it(
    stack: Stack, team: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    """Ines also synchronizes her own CalDAV calendar: the interview lands there (no
    invitations of the server's own), moves with a reschedule, is read-only in hiresync,
    and leaves with the cancellation; Outlook calendars get no second copy."""
    dav = Dav(radicale)
    href = await dav.make("personal")
    async with db.sessions() as session:
        ines = await find_by_email(session, team.id, team.people["ines"])
    assert ines is not None
    await started(runtime, db, ines, radicale)

    made = await call(
        team.api,
        "POST",
        "/v1/interviews",
        json=interviews_api.body(team)
        | {
            "title": f"Panel {uuid.uuid4().hex[:6]}",
            "confirm": True,
        },
    )
    assert made.status_code == 201, made.text
    interview = made.json()
    uid = f"{interview['id']}@hiresync"
    copy = await eventually(lambda: server_copy(dav, href, uid))
    assert copy.summary == interview["title"] and copy.location == "https://meet.example.com/abc"
    assert copy.start == datetime.fromisoformat(interview["start"])
    assert not copy.attendees and copy.organizer is None

    later = datetime.fromisoformat(interview["start"]) + timedelta(days=1, hours=2)
    moved = await call(
        team.api,
        "POST",
        f"/v1/interviews/{interview['id']}/reschedule",
        json={"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()},
    )
    assert moved.status_code == 200, moved.text

    async def moved_there() -> Any:
        found = await server_copy(dav, href, uid)
        return found if found is not None and found.start == later else None

    await eventually(moved_there)
    window = {"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()}
    shown = (await call(team.api, "GET", f"/v1/users/{ines.id}/events", params=window)).json()
    (mirrored,) = [e for e in shown if e["interview_id"] == interview["id"]]
    assert mirrored["read_only"] and mirrored["summary"] == interview["title"]
    refused = await call(
        team.api, "PATCH", f"/v1/users/{ines.id}/events/{mirrored['id']}", json={"summary": "x"}
    )
    assert refused.status_code == 409 and interview["id"] in refused.json()["error"]["hint"]
    async with db.sessions() as session:
        copies = await session.scalar(
            select(func.count()).where(CalendarItem.interview_id == uuid.UUID(interview["id"]))
        )
    assert copies == 1, "only Ines's own calendar has a copy; Outlook has the meeting request"

    cancelled = await call(team.api, "POST", f"/v1/interviews/{interview['id']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    await eventually(lambda: _absent(dav, href, uid))
    assert await dav.names(href) == [], "nothing else was written to her calendar"


async def test_an_event_made_for_an_outlook_calendar_goes_out_once_and_follows(
    stack: Stack, team: Any, runtime: Runtime, db: Database
) -> None:
    """The same for a person whose Outlook calendar is synced through the company
    connection: the event is written to the mailbox once, with its time, place and
    show-as, and follows a change and a removal."""
    async with db.transaction() as session:
        ivan = await find_by_email(session, team.id, team.people["ivan"])
        assert ivan is not None
        await calendar_settings.start_outlook(runtime, session, ivan)
    mailbox = lambda: stack.sandbox.find_mailbox(CONTOSO_ID, team.people["ivan"])  # noqa: E731
    path = f"/v1/users/{ivan.id}/events"
    start = SOON + timedelta(days=2, hours=1)
    body = event("Hiring sync", start, 30, uid="hiring-sync@ats", location="Room 2")
    made = await call(team.api, "POST", path, json=body | {"show_as": "free"})
    assert made.status_code == 201, made.text

    async def written() -> Any:
        found = [e for e in mailbox().events if e.subject.startswith("Hiring sync")]
        return found if found else None

    (copy,) = await eventually(written)
    assert copy.show_as == "free" and copy.location == "Room 2"
    assert copy.start.astimezone(UTC) == start.astimezone(UTC)

    renamed = await call(
        team.api, "PATCH", f"{path}/{made.json()['id']}", json={"summary": "Hiring sync (moved)"}
    )
    assert renamed.status_code == 200

    async def renamed_there() -> Any:
        found = [e.subject for e in mailbox().events if e.subject.startswith("Hiring sync")]
        return found == ["Hiring sync (moved)"]

    await eventually(renamed_there)
    assert (await call(team.api, "DELETE", f"{path}/{made.json()['id']}")).status_code == 204

    async def gone() -> bool:
        return not any(e.subject.startswith("Hiring sync") for e in mailbox().events)

    await eventually(gone)
