"""A person's own CalDAV calendar kept in step with hiresync's copy, on real servers:
Radicale and Xandikos, every test on both (issue #6, seeds 002/003: "Start
synchronization", changes flow both ways, nothing lost, nothing doubled, a calendar that
says how it is doing).

hiresync reaches Xandikos over HTTPS with a self-signed certificate, trusted as a
deployment would trust it: through ``Settings.caldav_ca_file``."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes, calendar_sync, freebusy, team
from hiresync.services.errors import InvalidInput
from hiresync.store.db import Database
from hiresync.store.tables import (
    CalendarAccount,
    CalendarItem,
    Notification,
    SyncedCalendar,
    User,
)
from tests.conftest import Org, Stack
from tests.dav_servers import KINDS, DavServer, running

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
STAMP = "%Y%m%dT%H%M%SZ"
NEW_YORK = ZoneInfo("America/New_York")
VTIMEZONE_NEW_YORK = (
    "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
    "DTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
    "DTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def vevent(uid: str, summary: str, start: datetime, minutes: int = 60, extra: str = "") -> str:
    """One VEVENT in UTC (``extra``: more content lines, CRLF-terminated)."""
    end = start + timedelta(minutes=minutes)
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{STAMP}}\r\n"
        f"DTSTART:{start:{STAMP}}\r\nDTEND:{end:{STAMP}}\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\n"
    )


def vcalendar(*components: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
        + "".join(components)
        + "END:VCALENDAR\r\n"
    )


def ics(uid: str, summary: str, start: datetime, minutes: int = 60, extra: str = "") -> str:
    return vcalendar(vevent(uid, summary, start, minutes, extra))


def raw_event(uid: str, lines: str) -> str:
    """A resource of one VEVENT written line by line (dates, zones: as the test needs)."""
    return vcalendar(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{STAMP}}\r\n{lines}END:VEVENT\r\n"
    )


@pytest.fixture(scope="module", params=KINDS)
def dav(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as server:
        yield server


@pytest.fixture
async def runtime(
    stack: Stack, dav: DavServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    """hiresync configured to trust the server's certificate (``caldav_ca_file``). It is set
    on the stack's settings, which its in-process worker shares: a run the worker picks up
    (a queued poll) reaches the server as the test's own runs do."""
    monkeypatch.setattr(stack.settings, "caldav_ca_file", dav.ca_file)
    rt = Runtime.build(stack.settings, uri=stack.database_uri)
    await rt.start()
    yield rt
    await rt.close()


class Calendar:
    """The person's calendar on the server, edited as their own calendar app would."""

    def __init__(self, server: DavServer, href: str) -> None:
        self.server, self.href = server, href

    async def put(self, name: str, text: str) -> None:
        async with self.server.http() as http:
            answer = await http.put(f"{self.href}{name}.ics", content=text.encode())
            assert answer.status_code in (201, 204), answer.text

    async def get(self, name: str) -> str:
        async with self.server.http() as http:
            answer = await http.get(f"{self.href}{name}.ics")
            assert answer.status_code == 200, answer.text
            return answer.text

    async def delete(self, name: str) -> None:
        async with self.server.http() as http:
            assert (await http.delete(f"{self.href}{name}.ics")).status_code in (200, 204)

    async def names(self) -> list[str]:
        async with self.server.http() as http:
            answer = await http.request("PROPFIND", self.href, headers={"Depth": "1"})
        return sorted(
            unquote(part.split("</")[0].rsplit("/", 1)[-1].removesuffix(".ics"))
            for part in answer.text.split("href>")[1::2]
            if part.split("</")[0].endswith(".ics")
        )


async def member(db: Database, org: Org) -> User:
    async with db.sessions() as session:
        found = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
        assert found is not None
        return found


async def start(runtime: Runtime, db: Database, org: Org, server: DavServer) -> SyncedCalendar:
    """The person starts synchronization with a dedicated hiring calendar, which hiresync
    creates in their account and syncs both ways (the server is shared by the module's
    tests: the calendars of earlier ones are there too; they are left out here)."""
    user = await member(db, org)
    login = calendar_remotes.CalDavLogin(
        email=f"{server.username}@example.org",
        password=server.password,
        username=server.username,
        server_url=server.url,
        dedicated_calendar="Hiring",
    )
    async with db.transaction() as session:
        _, calendars = await calendar_remotes.connect_caldav(runtime, session, user, login)
    (ours,) = [c for c in calendars if c.role == "dedicated"]
    assert ours.direction == "both"
    async with db.transaction() as session:  # no poll of the worker reads the others
        await session.execute(
            update(SyncedCalendar)
            .where(SyncedCalendar.account_id == ours.account_id, SyncedCalendar.id != ours.id)
            .values(state="disabled")
        )
    return ours


async def copy(db: Database, calendar_id: uuid.UUID) -> dict[str, CalendarItem]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
        )
        return {r.uid: r for r in rows}


async def add_local(db: Database, calendar: SyncedCalendar, uid: str, text: str) -> None:
    """An event made in hiresync (an interview) for the person's calendar: its row, with
    the text that goes out."""
    from hiresync.providers.caldav import parse_item

    item = parse_item(text)
    assert item.master is not None
    async with db.transaction() as session:
        session.add(
            CalendarItem(
                organization_id=calendar.organization_id,
                calendar_id=calendar.id,
                uid=uid,
                digest=item.digest,
                origin="hiresync",
                summary=item.master.summary,
                raw=text,
            )
        )


async def edit_local(db: Database, calendar_id: uuid.UUID, uid: str, **values: Any) -> None:
    """An edit made in hiresync: a new version and content of the row."""
    async with db.transaction() as session:
        await session.execute(
            update(CalendarItem)
            .where(CalendarItem.calendar_id == calendar_id, CalendarItem.uid == uid)
            .values(version=CalendarItem.version + 1, digest=secrets.token_hex(8), **values)
        )


async def busy(
    runtime: Runtime, db: Database, org: Org, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The person's busy blocks over a window, as availability answers them (the org has
    no company calendar: the copy answers)."""
    user = await member(db, org)
    (answer,) = await freebusy.query(
        runtime,
        org.id,  # type: ignore[arg-type]
        [freebusy.PersonRef(user_id=user.id)],
        start,
        end,
    )
    assert answer.schedule.error is None
    return sorted((b.start, b.end) for b in answer.schedule.blocks)


async def synced(runtime: Runtime, calendar_id: uuid.UUID, **kw: Any) -> calendar_sync.SyncReport:
    report = await calendar_sync.sync_calendar(runtime, calendar_id, **kw)
    assert report is not None
    return report


# -- the basics: both ways, resyncs, guards, failures ----------------------------------------


async def test_a_persons_calendar_comes_in_then_changes_flow_both_ways(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    await remote.put("standup", ics("standup@x", "Standup", SOON, 15))
    await remote.put("review", ics("review@x", "Design review", SOON + timedelta(hours=2)))
    await remote.put(
        "weekly",
        ics("weekly@x", "Weekly 1:1", SOON - timedelta(days=1), 30, "RRULE:FREQ=WEEKLY\r\n"),
    )

    first = await synced(runtime, synced_calendar.id)
    assert first.full and first.read == 3 and first.outcome == "synced"
    held = await copy(db, synced_calendar.id)
    assert set(held) == {"standup@x", "review@x", "weekly@x"}
    assert held["standup@x"].starts_at == SOON
    assert held["standup@x"].ends_at == SOON + timedelta(minutes=15)
    assert held["weekly@x"].recurring and held["weekly@x"].ends_at is None

    await remote.put("review", ics("review@x", "Design review (moved)", SOON + timedelta(hours=4)))
    await remote.delete("standup")
    await remote.put("lunch", ics("lunch@x", "Lunch", SOON + timedelta(days=1)))
    second = await synced(runtime, synced_calendar.id)
    assert not second.full, "an incremental read"
    held = await copy(db, synced_calendar.id)
    assert set(held) == {"review@x", "weekly@x", "lunch@x"}
    assert held["review@x"].summary == "Design review (moved)"
    assert held["review@x"].starts_at == SOON + timedelta(hours=4)

    # An event made in hiresync goes out to the person's calendar, once.
    text = ics("interview-1@hiresync", "Interview: Alex", SOON + timedelta(days=2))
    await add_local(db, synced_calendar, "interview-1@hiresync", text)
    await synced(runtime, synced_calendar.id)
    assert "interview-1@hiresync" in await remote.names()
    again = await synced(runtime, synced_calendar.id)
    assert again.applied == 0, "a second run has nothing to do"
    assert len(await remote.names()) == 4


async def test_an_expired_sync_token_resyncs_without_doubling(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    for n in range(3):
        await remote.put(f"e{n}", ics(f"e{n}@x", f"Event {n}", SOON + timedelta(hours=n)))
    await synced(runtime, synced_calendar.id)
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None and row.cursor
        row.cursor = row.cursor[:-4] + "dead"  # the server no longer knows this token
    await remote.put("e3", ics("e3@x", "Event 3", SOON + timedelta(hours=5)))
    report = await synced(runtime, synced_calendar.id)
    assert report.full, "a full resync"
    held = await copy(db, synced_calendar.id)
    assert sorted(held) == ["e0@x", "e1@x", "e2@x", "e3@x"], "nothing doubled"
    assert sorted(await remote.names()) == ["e0", "e1", "e2", "e3"]


async def test_a_calendar_suddenly_empty_is_not_emptied_here_without_force(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    for n in range(6):
        await remote.put(f"m{n}", ics(f"m{n}@x", f"Meeting {n}", SOON + timedelta(hours=n)))
    await synced(runtime, synced_calendar.id)
    for n in range(6):
        await remote.delete(f"m{n}")
    refused = await synced(runtime, synced_calendar.id)
    assert refused.outcome == "refused"
    assert len(await copy(db, synced_calendar.id)) == 6, "hiresync keeps everything"
    async with db.sessions() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None and row.state == "failed"
        assert "now lists 0 of the 6 events" in (row.last_error or "")
    forced = await synced(runtime, synced_calendar.id, force=True)
    assert forced.outcome == "synced"
    assert await copy(db, synced_calendar.id) == {}


async def test_a_refused_password_asks_the_person_to_reconnect(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    synced_calendar = await start(runtime, db, make_org(), dav)
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, synced_calendar.account_id)
        assert account is not None
        account.secret_sealed = runtime.keyring.seal(
            "revoked-app-password", context=calendar_remotes.secret_context(account.id)
        )
    report = await synced(runtime, synced_calendar.id)
    assert report.outcome == "reconnect_needed"
    async with db.sessions() as session:
        account = await session.get(CalendarAccount, synced_calendar.account_id)
        assert account is not None and account.status == "reconnect_needed"
        said = await session.scalars(
            select(Notification).where(Notification.user_id == account.user_id)
        )
        assert any("Reconnect your calendar" in n.title for n in said), "not a silent gap"
    assert await calendar_sync.sync_calendar(runtime, synced_calendar.id) is None, (
        "waits for reconnect"
    )


async def test_wrong_credentials_or_no_server_say_what_to_check(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    user = await member(db, make_org())
    wrong = calendar_remotes.CalDavLogin(
        email="alice@example.org", password="nope", username="alice", server_url=dav.url
    )
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="refused the user name or password") as refused:
            await calendar_remotes.connect_caldav(runtime, session, user, wrong)
    assert "app password" in (refused.value.hint or "")
    nowhere = calendar_remotes.CalDavLogin(
        email="alice@example.org", password="x", server_url="http://127.0.0.1:9/"
    )
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="No CalDAV calendar was found") as missing:
            await calendar_remotes.connect_caldav(runtime, session, user, nowhere)
    assert "server URL" in (missing.value.hint or "")
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CalendarAccount).where(CalendarAccount.user_id == user.id)
        )
        assert list(rows) == [], "nothing half-written"


async def test_availability_is_answered_from_the_copy_without_a_live_call(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    """The organization has no company calendar connected: the person's own synced calendar
    answers for them, a weekly series expanded over the window, a free event left out."""
    org = make_org()
    synced_calendar = await start(runtime, db, org, dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    await remote.put("focus", ics("focus@x", "Focus", SOON, 90))
    await remote.put(
        "gym", ics("gym@x", "Gym", SOON + timedelta(hours=3), 60, "TRANSP:TRANSPARENT\r\n")
    )
    await remote.put(
        "weekly",
        ics("weekly@x", "1:1", SOON - timedelta(days=14), 30, "RRULE:FREQ=WEEKLY;COUNT=6\r\n"),
    )
    await synced(runtime, synced_calendar.id)
    spans = await busy(runtime, db, org, SOON - timedelta(days=1), SOON + timedelta(days=8))
    assert (SOON, SOON + timedelta(minutes=90)) in spans, "the single event"
    weekly = [s for s in spans if s[1] - s[0] == timedelta(minutes=30)]
    assert [s[0] for s in weekly] == [SOON - timedelta(days=0), SOON + timedelta(days=7)], (
        "the series' instances in the window"
    )
    assert all(s[0] != SOON + timedelta(hours=3) for s in spans), "a free event is not busy"


async def test_a_big_first_sync_is_stored_whole_and_a_repaired_event_replaces_its_quarantine(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    """A first sync of more events than the batched path starts at (they go in with COPY):
    every event stored once; an unreadable one is kept in quarantine with its reason, and
    replaced by its copy once the server sends it readable."""
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    backwards = ics("bad@x", "Ends before it starts", SOON).replace(
        f"DTEND:{SOON + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
        f"DTEND:{SOON - timedelta(hours=1):%Y%m%dT%H%M%SZ}",
    )
    await remote.put("bad", backwards)
    count = 230
    async with dav.http() as http:
        for n in range(count):
            text = ics(f"n{n}@x", f"Event {n}", SOON + timedelta(hours=n))
            answer = await http.put(f"{synced_calendar.remote_id}n{n}.ics", content=text.encode())
            assert answer.status_code == 201
    first = await synced(runtime, synced_calendar.id)
    assert first.read == count and first.quarantined == 1
    held = await copy(db, synced_calendar.id)
    assert len(held) == count + 1
    assert held["bad@x"].quarantine and held["n7@x"].starts_at == SOON + timedelta(hours=7)

    await remote.put("bad", ics("bad@x", "Repaired", SOON - timedelta(hours=2)))
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None
        row.cursor = None  # the next run reads everything again (as after a lost token)
    again = await synced(runtime, synced_calendar.id)
    assert again.full
    held = await copy(db, synced_calendar.id)
    assert len(held) == count + 1, "nothing doubled"
    assert held["bad@x"].quarantine is None and held["bad@x"].summary == "Repaired"


async def test_a_calendar_without_push_is_polled_and_a_failing_server_is_backed_off(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    synced_calendar = await start(runtime, db, make_org(), dav)
    await synced(runtime, synced_calendar.id)
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None and row.next_poll_at is not None
        ahead = row.next_poll_at - datetime.now(UTC)
        assert timedelta(minutes=4) < ahead <= timedelta(minutes=5), "read again in 5 minutes"
        row.next_poll_at = datetime.now(UTC) - timedelta(seconds=1)  # due
    assert await calendar_sync.poll_due(runtime) >= 1
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, synced_calendar.account_id)
        assert account is not None
        account.server_url = "http://127.0.0.1:9/"  # the server is down
    seen = 0
    for _ in range(2):  # the stack's worker may run the queued poll as well: count from the row
        report = await calendar_sync.sync_calendar(runtime, synced_calendar.id)
        assert report is not None and report.outcome == "failed", report
        async with db.sessions() as session:
            row = await session.get(SyncedCalendar, synced_calendar.id)
            assert row is not None and row.failures > seen and row.last_error
            seen, wait = row.failures, row.next_poll_at - datetime.now(UTC)
            backoff = timedelta(minutes=5 * 2**seen)
            assert backoff - timedelta(minutes=1) < wait <= backoff, "backed off, doubling"
    # The server is back: the run a failure queued for itself (seconds later, not at the
    # next poll, backed off to 20 minutes) brings the calendar back without anyone asking.
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, synced_calendar.account_id)
        assert account is not None
        account.server_url = dav.url
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    while True:
        async with db.sessions() as session:
            row = await session.get(SyncedCalendar, synced_calendar.id)
            assert row is not None
        if row.failures == 0 and row.last_error is None:
            break
        assert datetime.now(UTC) < deadline, f"never tried again: {row.last_error}"
        await asyncio.sleep(0.5)


async def test_a_server_read_by_the_etag_scan_syncs_changes_and_deletions(
    stack: Stack,
    make_org: Any,
    dav: DavServer,
    runtime: Runtime,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a server whose sync-collection cannot be used (the adapter's setting), changes
    are found by comparing etags with those of the stored statuses, which the run loads
    while the server answers: they must be there when the comparison is made."""
    plain = calendar_remotes.CalDavCalendars
    monkeypatch.setattr(
        calendar_remotes,
        "CalDavCalendars",
        lambda client, **kw: plain(client, use_sync_collection=False, **kw),
    )
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    for n in range(3):
        await remote.put(f"s{n}", ics(f"s{n}@x", f"Scanned {n}", SOON + timedelta(hours=n)))
    first = await synced(runtime, synced_calendar.id)
    assert first.full and first.read == 3
    async with db.sessions() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None and (row.cursor or "").startswith("ctag:")

    await remote.put("s1", ics("s1@x", "Scanned 1 (moved)", SOON + timedelta(hours=6)))
    await remote.delete("s2")
    await remote.put("s3", ics("s3@x", "Scanned 3", SOON + timedelta(hours=8)))
    second = await synced(runtime, synced_calendar.id)
    assert (second.full, second.read, second.removed) == (False, 2, 1)
    held = await copy(db, synced_calendar.id)
    assert sorted(held) == ["s0@x", "s1@x", "s3@x"]
    assert held["s1@x"].summary == "Scanned 1 (moved)"
    assert (await synced(runtime, synced_calendar.id)).read == 0, "an unchanged ctag"


# -- what a real calendar holds --------------------------------------------------------------


async def test_a_series_exception_moved_on_the_server_comes_in_and_availability_honours_it(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    """The person moves one instance of a weekly series in their calendar app (an override
    with RECURRENCE-ID in the same resource); an EXDATE leaves another out."""
    org = make_org()
    synced_calendar = await start(runtime, db, org, dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    rules = f"RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE:{SOON + timedelta(days=21):{STAMP}}\r\n"
    master = vevent("series@x", "Weekly sync", SOON, 30, rules)
    await remote.put("series", vcalendar(master))
    await synced(runtime, synced_calendar.id)
    held = (await copy(db, synced_calendar.id))["series@x"]
    assert held.recurring and held.data["overrides"] == 0

    moved_from, moved_to = SOON + timedelta(days=7), SOON + timedelta(days=7, hours=2)
    override = vevent(
        "series@x",
        "Weekly sync (moved)",
        moved_to,
        30,
        f"RECURRENCE-ID:{moved_from:{STAMP}}\r\nSEQUENCE:1\r\n",
    )
    await remote.put("series", vcalendar(master, override))
    second = await synced(runtime, synced_calendar.id)
    assert not second.full and second.read == 1
    held = (await copy(db, synced_calendar.id))["series@x"]
    assert held.data["overrides"] == 1 and "RECURRENCE-ID" in (held.raw or "")

    spans = await busy(runtime, db, org, SOON - timedelta(days=1), SOON + timedelta(days=28))
    half_hour = timedelta(minutes=30)
    assert spans == [
        (SOON, SOON + half_hour),
        (moved_to, moved_to + half_hour),  # the moved instance, not at its old time
        (SOON + timedelta(days=14), SOON + timedelta(days=14) + half_hour),
    ], "the EXDATE's instance (day 21) is left out"


async def test_all_day_and_multi_day_events_keep_their_days(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    org = make_org()
    synced_calendar = await start(runtime, db, org, dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    day = (SOON + timedelta(days=2)).date()
    midnight = datetime.combine(day, time(0), UTC)
    await remote.put(
        "holiday", raw_event("holiday@x", f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\nSUMMARY:Off\r\n")
    )
    await remote.put(
        "offsite",
        raw_event(
            "offsite@x",
            f"DTSTART;VALUE=DATE:{day + timedelta(days=4):%Y%m%d}\r\n"
            f"DTEND;VALUE=DATE:{day + timedelta(days=7):%Y%m%d}\r\nSUMMARY:Team offsite\r\n",
        ),
    )
    trip = midnight + timedelta(days=1, hours=15)
    await remote.put("trip", ics("trip@x", "Conference", trip, minutes=20 * 60))
    await synced(runtime, synced_calendar.id)

    held = await copy(db, synced_calendar.id)
    expected = {
        "holiday@x": (True, midnight, midnight + timedelta(days=1)),  # no DTEND: one day
        "offsite@x": (True, midnight + timedelta(days=4), midnight + timedelta(days=7)),
        "trip@x": (False, trip, trip + timedelta(hours=20)),  # overnight, into the next day
    }
    assert {uid: (r.all_day, r.starts_at, r.ends_at) for uid, r in held.items()} == expected
    spans = await busy(runtime, db, org, midnight - timedelta(days=1), midnight + timedelta(days=9))
    assert spans == sorted((start_, end) for _, start_, end in expected.values())


def next_dst_change(after: datetime) -> date:
    """The first day after ``after`` on which New York's UTC offset (at noon) is not the day
    before's: the test always straddles the next real DST change."""
    day = after.astimezone(NEW_YORK).date()

    def offset(d: date) -> timedelta | None:
        return datetime.combine(d, time(12), NEW_YORK).utcoffset()

    while offset(day + timedelta(days=1)) == offset(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def new_york_event(uid: str, summary: str, day: date, extra: str = "") -> str:
    """A VEVENT from 09:00 to 10:00 New York wall-clock time on ``day``."""
    start = datetime.combine(day, time(9))
    return raw_event(
        uid,
        f"DTSTART;TZID=America/New_York:{start:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=America/New_York:{start + timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:{summary}\r\n{extra}",
    ).replace("BEGIN:VEVENT", VTIMEZONE_NEW_YORK + "BEGIN:VEVENT", 1)


async def test_events_in_a_zone_with_dst_keep_their_wall_clock_time_across_the_change(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    org = make_org()
    synced_calendar = await start(runtime, db, org, dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    change = next_dst_change(SOON + timedelta(days=9))
    before, after = change - timedelta(days=3), change + timedelta(days=3)
    await remote.put("before", new_york_event("before@x", "Before", before))
    await remote.put("after", new_york_event("after@x", "After", after))
    series_start = change - timedelta(days=8)  # instances: 8 days before, 1 before, 6 after
    await remote.put(
        "standup",
        new_york_event("standup@x", "Standup", series_start, "RRULE:FREQ=WEEKLY;COUNT=3\r\n"),
    )
    await synced(runtime, synced_calendar.id)

    def nine(day: date) -> datetime:
        return datetime.combine(day, time(9), NEW_YORK).astimezone(UTC)

    held = await copy(db, synced_calendar.id)
    assert {r.time_zone for r in held.values()} == {"America/New_York"}
    assert held["before@x"].starts_at == nine(before)
    assert held["after@x"].starts_at == nine(after)
    assert nine(before).hour != nine(after).hour, "the UTC hour moved with the change"
    spans = await busy(
        runtime, db, org, nine(change - timedelta(days=10)), nine(after) + timedelta(days=7)
    )
    instances = [nine(change + timedelta(days=d)) for d in (-8, -1, 6)]
    hour = timedelta(hours=1)
    assert spans == sorted(
        [(nine(before), nine(before) + hour), (nine(after), nine(after) + hour)]
        + [(s, s + hour) for s in instances]
    )


async def test_attendees_answering_on_the_server_update_the_copy_and_nothing_goes_back(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    """An invitation from someone else (the person accepts, another attendee declines) and
    a meeting the person organizes (the candidate answers tentatively): the answers come
    in, and hiresync writes nothing back to the server."""
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    person = f"{dav.username}@example.org"

    def invitation(mine: str, jane: str) -> str:
        return ics(
            "panel@x",
            "Panel interview",
            SOON,
            60,
            "ORGANIZER;CN=Rita:mailto:rita@example.com\r\n"
            f"ATTENDEE;CN=Alice;PARTSTAT={mine}:mailto:{person}\r\n"
            f'ATTENDEE;CN="Doe, Jane";PARTSTAT={jane}:mailto:jane@example.com\r\n',
        )

    def debrief(candidate: str) -> str:
        return ics(
            "debrief@x",
            "Debrief",
            SOON + timedelta(hours=2),
            30,
            f"ORGANIZER:mailto:{person}\r\nATTENDEE;PARTSTAT={candidate}:mailto:sam@example.net\r\n",
        )

    await remote.put("panel", invitation("NEEDS-ACTION", "NEEDS-ACTION"))
    await remote.put("debrief", debrief("NEEDS-ACTION"))
    await synced(runtime, synced_calendar.id)
    held = await copy(db, synced_calendar.id)
    assert not held["panel@x"].owned and held["debrief@x"].owned
    assert answers(held["panel@x"]) == {person: "NEEDS-ACTION", "jane@example.com": "NEEDS-ACTION"}

    await remote.put("panel", invitation("ACCEPTED", "DECLINED"))
    await remote.put("debrief", debrief("TENTATIVE"))
    on_server = {name: await remote.get(name) for name in ("panel", "debrief")}
    second = await synced(runtime, synced_calendar.id)
    assert not second.full and second.read == 2
    held = await copy(db, synced_calendar.id)
    assert answers(held["panel@x"]) == {person: "ACCEPTED", "jane@example.com": "DECLINED"}
    assert answers(held["debrief@x"]) == {"sam@example.net": "TENTATIVE"}
    assert (await synced(runtime, synced_calendar.id)).applied == 0, "converged"
    assert {name: await remote.get(name) for name in on_server} == on_server, "nothing written"


def answers(row: CalendarItem) -> dict[str, str]:
    return {a["email"]: a.get("response") for a in row.data["attendees"]}


async def test_an_event_changed_on_both_sides_between_runs_is_settled_remote_wins(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    """The documented rule (``ConflictPolicy.REMOTE_WINS``: a person's calendar is theirs):
    for an event read from the calendar and for one hiresync wrote out, the calendar's
    edit is kept on both sides, hiresync's is overwritten."""
    synced_calendar = await start(runtime, db, make_org(), dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    await remote.put("review", ics("review@x", "Review", SOON))
    interview = "interview-2@hiresync"
    await add_local(
        db, synced_calendar, interview, ics(interview, "Interview: Sam", SOON + timedelta(days=1))
    )
    await synced(runtime, synced_calendar.id)
    assert interview in await remote.names()

    for name, uid, start_at in (
        ("review", "review@x", SOON),
        (interview, interview, SOON + timedelta(days=1)),
    ):
        await remote.put(
            name, ics(uid, "Edited in the calendar app", start_at + timedelta(hours=1))
        )
        mine = ics(uid, "Edited in hiresync", start_at + timedelta(hours=3))
        await edit_local(
            db,
            synced_calendar.id,
            uid,
            summary="Edited in hiresync",
            raw=mine,
            starts_at=start_at + timedelta(hours=3),
        )
    report = await synced(runtime, synced_calendar.id)
    assert report.outcome == "synced" and not report.failed
    held = await copy(db, synced_calendar.id)
    for name, uid, start_at in (
        ("review", "review@x", SOON),
        (interview, interview, SOON + timedelta(days=1)),
    ):
        assert held[uid].summary == "Edited in the calendar app", "the remote won here"
        assert held[uid].starts_at == start_at + timedelta(hours=1)
        on_server = await remote.get(name)
        assert "Edited in the calendar app" in on_server and "Edited in hiresync" not in on_server
    again = await synced(runtime, synced_calendar.id)
    assert again.applied == 0, "both sides agree now"


# -- bad input from the server ---------------------------------------------------------------

BACKWARDS = (
    f"DTSTART:{SOON:{STAMP}}\r\nDTEND:{SOON - timedelta(hours=1):{STAMP}}\r\nSUMMARY:Backwards\r\n"
)
MARS = (
    f"DTSTART;TZID=Mars/Olympus_Mons:{SOON:%Y%m%dT%H%M%S}\r\n"
    f"DTEND;TZID=Mars/Olympus_Mons:{SOON + timedelta(hours=1):%Y%m%dT%H%M%S}\r\nSUMMARY:On Mars\r\n"
)


async def test_unreadable_events_are_quarantined_with_a_reason_and_the_rest_syncs(
    stack: Stack, make_org: Any, dav: DavServer, runtime: Runtime, db: Database
) -> None:
    org = make_org()
    synced_calendar = await start(runtime, db, org, dav)
    remote = Calendar(dav, synced_calendar.remote_id)
    await remote.put("ok1", ics("ok1@x", "Fine", SOON))
    await remote.put("ok2", ics("ok2@x", "Fine too", SOON + timedelta(hours=2)))
    unreadable = {
        "backwards@x": (BACKWARDS, "DTEND is before DTSTART"),
        "mars@x": (MARS, "unknown time zone 'Mars/Olympus_Mons'"),
    }
    if dav.kind == "xandikos":  # Radicale refuses such text on PUT (and skips it on disk)
        unreadable["garbled@x"] = ("DTSTART:next tuesday\r\nSUMMARY:Soon\r\n", "bad DTSTART value")
    for uid, (lines, _) in unreadable.items():
        await remote.put(uid.split("@")[0], raw_event(uid, lines))

    first = await synced(runtime, synced_calendar.id)
    assert (first.outcome, first.read, first.quarantined) == ("synced", 2, len(unreadable))
    held = await copy(db, synced_calendar.id)
    assert held["ok1@x"].quarantine is None and held["ok2@x"].quarantine is None
    for uid, (_, reason) in unreadable.items():
        assert reason in (held[uid].quarantine or ""), held[uid].quarantine
    async with db.sessions() as session:
        row = await session.get(SyncedCalendar, synced_calendar.id)
        assert row is not None and row.state == "ready" and row.last_error is None

    # Later: a new event, and a known one that turns unreadable (it keeps its copy).
    await remote.put("ok3", ics("ok3@x", "New", SOON + timedelta(hours=4)))
    await remote.put("ok2", raw_event("ok2@x", MARS))
    second = await synced(runtime, synced_calendar.id)
    assert (second.full, second.read, second.quarantined) == (False, 1, 1)
    held = await copy(db, synced_calendar.id)
    assert len(held) == 3 + len(unreadable), "nothing doubled"
    assert held["ok3@x"].quarantine is None
    assert "unknown time zone" in (held["ok2@x"].quarantine or "")
    assert held["ok2@x"].summary == "Fine too", "its last readable copy is kept"
    third = await synced(runtime, synced_calendar.id)
    assert third.outcome == "synced" and third.applied == 0
    assert sorted(await remote.names()) == sorted(
        ["ok1", "ok2", "ok3"] + [uid.split("@")[0] for uid in unreadable]
    ), "nothing deleted or written on the server"
    spans = await busy(runtime, db, org, SOON - timedelta(days=1), SOON + timedelta(days=1))
    assert spans == [
        (SOON, SOON + timedelta(hours=1)),
        (SOON + timedelta(hours=4), SOON + timedelta(hours=5)),
    ]
