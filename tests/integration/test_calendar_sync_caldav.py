"""A person's own CalDAV calendar kept in step with hiresync's copy, on a real Radicale
server (issue #6, seeds 002/003: "Start synchronization", changes flow both ways, nothing
lost, nothing doubled, a calendar that says how it is doing)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from hiresync.providers.errors import ProviderError
from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes, calendar_sync, team
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
from tests.dav_servers import DavServer, running

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)


def ics(uid: str, summary: str, start: datetime, minutes: int = 60, extra: str = "") -> str:
    end = start + timedelta(minutes=minutes)
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{stamp}}\r\n"
        f"DTSTART:{start:{stamp}}\r\nDTEND:{end:{stamp}}\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with running("radicale", tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
async def runtime(stack: Stack) -> AsyncIterator[Runtime]:
    rt = Runtime.build(stack.settings, uri=stack.database_uri)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database.connect(stack.database_uri, pool_size=2)
    yield database
    await database.dispose()


class Calendar:
    """The person's calendar on the server, edited as their own calendar app would."""

    def __init__(self, server: DavServer, href: str) -> None:
        self.server, self.href = server, href

    async def put(self, name: str, text: str) -> None:
        async with self.server.http() as http:
            answer = await http.put(f"{self.href}{name}.ics", content=text.encode())
            assert answer.status_code in (201, 204), answer.text

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
    """The person starts synchronization with a fresh calendar of their own."""
    href = f"/{server.username}/{uuid.uuid4().hex[:8]}/"
    async with server.http() as http:
        made = await http.request("MKCALENDAR", href)
        assert made.status_code == 201, made.text
    user = await member(db, org)
    login = calendar_remotes.CalDavLogin(
        email=f"{server.username}@example.org",
        password=server.password,
        username=server.username,
        server_url=server.url,
    )
    async with db.transaction() as session:
        _, calendars = await calendar_remotes.connect_caldav(runtime, session, user, login)
    (ours,) = [c for c in calendars if c.remote_id.rstrip("/").endswith(href.strip("/"))]
    return ours


async def copy(db: Database, calendar_id: uuid.UUID) -> dict[str, CalendarItem]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
        )
        return {r.uid: r for r in rows}


async def test_a_persons_calendar_comes_in_then_changes_flow_both_ways(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    synced = await start(runtime, db, make_org(), radicale)
    remote = Calendar(radicale, synced.remote_id)
    await remote.put("standup", ics("standup@x", "Standup", SOON, 15))
    await remote.put("review", ics("review@x", "Design review", SOON + timedelta(hours=2)))
    await remote.put(
        "weekly",
        ics("weekly@x", "Weekly 1:1", SOON - timedelta(days=1), 30, "RRULE:FREQ=WEEKLY\r\n"),
    )

    first = await calendar_sync.sync_calendar(runtime, synced.id)
    assert first is not None and first.full and first.read == 3 and first.outcome == "synced"
    held = await copy(db, synced.id)
    assert set(held) == {"standup@x", "review@x", "weekly@x"}
    assert held["standup@x"].starts_at == SOON
    assert held["standup@x"].ends_at == SOON + timedelta(minutes=15)
    assert held["weekly@x"].recurring and held["weekly@x"].ends_at is None

    await remote.put("review", ics("review@x", "Design review (moved)", SOON + timedelta(hours=4)))
    await remote.delete("standup")
    await remote.put("lunch", ics("lunch@x", "Lunch", SOON + timedelta(days=1)))
    second = await calendar_sync.sync_calendar(runtime, synced.id)
    assert second is not None and not second.full, "an incremental read"
    held = await copy(db, synced.id)
    assert set(held) == {"review@x", "weekly@x", "lunch@x"}
    assert held["review@x"].summary == "Design review (moved)"
    assert held["review@x"].starts_at == SOON + timedelta(hours=4)

    # An event made in hiresync goes out to the person's calendar, once.
    async with db.transaction() as session:
        text = ics("interview-1@hiresync", "Interview: Alex", SOON + timedelta(days=2))
        session.add(
            CalendarItem(
                organization_id=synced.organization_id,
                calendar_id=synced.id,
                uid="interview-1@hiresync",
                digest=_digest(text),
                origin="hiresync",
                summary="Interview: Alex",
                raw=text,
            )
        )
    await calendar_sync.sync_calendar(runtime, synced.id)
    assert "interview-1@hiresync" in await remote.names()
    again = await calendar_sync.sync_calendar(runtime, synced.id)
    assert again is not None and again.applied == 0, "a second run has nothing to do"
    assert len(await remote.names()) == 4


async def test_an_expired_sync_token_resyncs_without_doubling(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    synced = await start(runtime, db, make_org(), radicale)
    remote = Calendar(radicale, synced.remote_id)
    for n in range(3):
        await remote.put(f"e{n}", ics(f"e{n}@x", f"Event {n}", SOON + timedelta(hours=n)))
    await calendar_sync.sync_calendar(runtime, synced.id)
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced.id)
        assert row is not None and row.cursor
        row.cursor = row.cursor[:-4] + "dead"  # the server no longer knows this token
    await remote.put("e3", ics("e3@x", "Event 3", SOON + timedelta(hours=5)))
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.full, "a full resync"
    held = await copy(db, synced.id)
    assert sorted(held) == ["e0@x", "e1@x", "e2@x", "e3@x"], "nothing doubled"
    assert sorted(await remote.names()) == ["e0", "e1", "e2", "e3"]


async def test_a_calendar_suddenly_empty_is_not_emptied_here_without_force(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    synced = await start(runtime, db, make_org(), radicale)
    remote = Calendar(radicale, synced.remote_id)
    for n in range(6):
        await remote.put(f"m{n}", ics(f"m{n}@x", f"Meeting {n}", SOON + timedelta(hours=n)))
    await calendar_sync.sync_calendar(runtime, synced.id)
    for n in range(6):
        await remote.delete(f"m{n}")
    refused = await calendar_sync.sync_calendar(runtime, synced.id)
    assert refused is not None and refused.outcome == "refused"
    assert len(await copy(db, synced.id)) == 6, "hiresync keeps everything"
    async with db.sessions() as session:
        row = await session.get(SyncedCalendar, synced.id)
        assert row is not None and row.state == "failed"
        assert "now lists 0 of the 6 events" in (row.last_error or "")
    forced = await calendar_sync.sync_calendar(runtime, synced.id, force=True)
    assert forced is not None and forced.outcome == "synced"
    assert await copy(db, synced.id) == {}


async def test_a_refused_password_asks_the_person_to_reconnect(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    synced = await start(runtime, db, make_org(), radicale)
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, synced.account_id)
        assert account is not None
        account.secret_sealed = runtime.keyring.seal(
            "revoked-app-password", context=calendar_remotes.secret_context(account.id)
        )
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.outcome == "reconnect_needed"
    async with db.sessions() as session:
        account = await session.get(CalendarAccount, synced.account_id)
        assert account is not None and account.status == "reconnect_needed"
        said = await session.scalars(
            select(Notification).where(Notification.user_id == account.user_id)
        )
        assert any("Reconnect your calendar" in n.title for n in said), "not a silent gap"
    assert await calendar_sync.sync_calendar(runtime, synced.id) is None, "waits for reconnect"


async def test_wrong_credentials_or_no_server_say_what_to_check(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    user = await member(db, make_org())
    wrong = calendar_remotes.CalDavLogin(
        email="alice@example.org", password="nope", username="alice", server_url=radicale.url
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


def _digest(text: str) -> str:
    from hiresync.providers.caldav import parse_item

    return parse_item(text).digest


async def test_availability_is_answered_from_the_copy_without_a_live_call(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    """The organization has no company calendar connected: the person's own synced calendar
    answers for them, a weekly series expanded over the window, a free event left out."""
    from hiresync.services import freebusy

    org = make_org()
    synced = await start(runtime, db, org, radicale)
    remote = Calendar(radicale, synced.remote_id)
    await remote.put("focus", ics("focus@x", "Focus", SOON, 90))
    await remote.put(
        "gym", ics("gym@x", "Gym", SOON + timedelta(hours=3), 60, "TRANSP:TRANSPARENT\r\n")
    )
    await remote.put(
        "weekly",
        ics("weekly@x", "1:1", SOON - timedelta(days=14), 30, "RRULE:FREQ=WEEKLY;COUNT=6\r\n"),
    )
    await calendar_sync.sync_calendar(runtime, synced.id)
    user = await member(db, org)
    window = (SOON - timedelta(days=1), SOON + timedelta(days=8))
    (answer,) = await freebusy.query(
        runtime,
        org.id,
        [freebusy.PersonRef(user_id=user.id)],
        *window,  # type: ignore[arg-type]
    )
    assert answer.schedule.error is None
    spans = [(b.start, b.end) for b in answer.schedule.blocks]
    assert (SOON, SOON + timedelta(minutes=90)) in spans, "the single event"
    weekly = [s for s in spans if s[1] - s[0] == timedelta(minutes=30)]
    assert [s[0] for s in weekly] == [SOON - timedelta(days=0), SOON + timedelta(days=7)], (
        "the series' instances in the window"
    )
    assert all(s[0] != SOON + timedelta(hours=3) for s in spans), "a free event is not busy"


async def test_a_big_first_sync_is_stored_whole_and_a_repaired_event_replaces_its_quarantine(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    """A first sync of more events than the batched path starts at (they go in with COPY):
    every event stored once; an unreadable one is kept in quarantine with its reason, and
    replaced by its copy once the server sends it readable."""
    synced = await start(runtime, db, make_org(), radicale)
    remote = Calendar(radicale, synced.remote_id)
    backwards = ics("bad@x", "Ends before it starts", SOON).replace(
        f"DTEND:{SOON + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
        f"DTEND:{SOON - timedelta(hours=1):%Y%m%dT%H%M%SZ}",
    )
    await remote.put("bad", backwards)
    count = 230
    async with radicale.http() as http:
        for n in range(count):
            text = ics(f"n{n}@x", f"Event {n}", SOON + timedelta(hours=n))
            answer = await http.put(f"{synced.remote_id}n{n}.ics", content=text.encode())
            assert answer.status_code == 201
    first = await calendar_sync.sync_calendar(runtime, synced.id)
    assert first is not None and first.read == count and first.quarantined == 1
    held = await copy(db, synced.id)
    assert len(held) == count + 1
    assert held["bad@x"].quarantine and held["n7@x"].starts_at == SOON + timedelta(hours=7)

    await remote.put("bad", ics("bad@x", "Repaired", SOON - timedelta(hours=2)))
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced.id)
        assert row is not None
        row.cursor = None  # the next run reads everything again (as after a lost token)
    again = await calendar_sync.sync_calendar(runtime, synced.id)
    assert again is not None and again.full
    held = await copy(db, synced.id)
    assert len(held) == count + 1, "nothing doubled"
    assert held["bad@x"].quarantine is None and held["bad@x"].summary == "Repaired"


async def test_a_calendar_without_push_is_polled_and_a_failing_server_is_backed_off(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    synced = await start(runtime, db, make_org(), radicale)
    await calendar_sync.sync_calendar(runtime, synced.id)
    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, synced.id)
        assert row is not None and row.next_poll_at is not None
        ahead = row.next_poll_at - datetime.now(UTC)
        assert timedelta(minutes=4) < ahead <= timedelta(minutes=5), "read again in 5 minutes"
        row.next_poll_at = datetime.now(UTC) - timedelta(seconds=1)  # due
    assert await calendar_sync.poll_due(runtime) >= 1
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, synced.account_id)
        assert account is not None
        account.server_url = "http://127.0.0.1:9/"  # the server is down
    seen = 0
    for _ in range(2):  # the stack's worker may run the queued poll as well: count from the row
        with pytest.raises(ProviderError):
            await calendar_sync.sync_calendar(runtime, synced.id)
        async with db.sessions() as session:
            row = await session.get(SyncedCalendar, synced.id)
            assert row is not None and row.failures > seen and row.last_error
            seen, wait = row.failures, row.next_poll_at - datetime.now(UTC)
            backoff = timedelta(minutes=5 * 2**seen)
            assert backoff - timedelta(minutes=1) < wait <= backoff, "backed off, doubling"
