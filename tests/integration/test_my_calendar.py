"""A person's own calendar sync as they and the platform's engineers see it (issue #6, seeds
002/003), on a real Radicale with the stack's in-process worker running the jobs: "Start
synchronization" (a refused password said next to its field), the first sync, "Your
calendar is synchronized with …" with its counts, sync now from the API, and "Stop", which
removes only hiresync's events from the calendar and keeps everything in hiresync."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from hiresync.providers.caldav import parse_item
from hiresync.runtime import Runtime
from hiresync.services import (
    calendar_remotes,
    calendar_settings,
    calendar_sync,
    secrets_rotation,
    team,
)
from hiresync.services.calendar_remotes import CalDavLogin
from hiresync.services.errors import InvalidInput, NotConnected, NotFound
from hiresync.store.crypto import Keyring
from hiresync.store.db import Database
from hiresync.store.tables import CalendarAccount, CalendarItem, SyncedCalendar, User
from tests.conftest import Org, Stack
from tests.dav_servers import DavServer, running
from tests.integration.browser import Browser

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)


def ics(uid: str, summary: str, start: datetime, minutes: int = 60) -> str:
    stamp = "%Y%m%dT%H%M%SZ"
    end = start + timedelta(minutes=minutes)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{stamp}}\r\n"
        f"DTSTART:{start:{stamp}}\r\nDTEND:{end:{stamp}}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[DavServer]:
    """A server of its own per test: the person's account holds only this test's calendars."""
    with running("radicale", tmp_path / "radicale") as server:
        yield server


class Dav:
    """The person's account on the server, as their own calendar app would edit it."""

    def __init__(self, server: DavServer) -> None:
        self.server = server

    async def make(self, name: str) -> str:
        href = f"/{self.server.username}/{name}/"
        async with self.server.http() as http:
            made = await http.request("MKCALENDAR", href)
        assert made.status_code == 201, made.text
        return href

    async def put(self, href: str, name: str, text: str) -> None:
        async with self.server.http() as http:
            answer = await http.put(f"{href}{name}.ics", content=text.encode())
        assert answer.status_code in (201, 204), answer.text

    async def names(self, href: str) -> list[str] | None:
        """The events' names, or None when the calendar does not exist."""
        async with self.server.http() as http:
            answer = await http.request("PROPFIND", href, headers={"Depth": "1"})
        if answer.status_code == 404:
            return None
        return sorted(
            unquote(part.split("</")[0].rsplit("/", 1)[-1].removesuffix(".ics"))
            for part in answer.text.split("href>")[1::2]
            if part.split("</")[0].endswith(".ics")
        )


def login_for(server: DavServer, *, dedicated: bool = False, password: str = "") -> CalDavLogin:
    return CalDavLogin(
        email=f"{server.username}@example.org",
        password=password or server.password,
        username=server.username,
        server_url=server.url,
        dedicated_calendar=calendar_settings.DEDICATED_NAME if dedicated else None,
    )


async def person(db: Database, org: Org) -> User:
    async with db.sessions() as session:
        found = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
        assert found is not None
        return found


async def status(db: Database, user: User) -> calendar_settings.SyncStatus:
    async with db.sessions() as session:
        return await calendar_settings.status_for(session, user)


async def until(db: Database, user: User, check: Any, timeout: float = 30) -> Any:
    """The status once ``check(status)`` holds (the stack's worker runs the jobs)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await status(db, user)
        if check(seen):
            return seen
        assert time.monotonic() < deadline, f"timed out; last status: {seen}"
        await asyncio.sleep(0.2)


def synchronized(s: calendar_settings.SyncStatus) -> bool:
    return bool(s.accounts) and s.accounts[0].state == "synchronized"


async def started(
    runtime: Runtime, db: Database, user: User, server: DavServer, *, dedicated: bool = False
) -> calendar_settings.SyncStatus:
    async with db.transaction() as session:
        await calendar_settings.start_caldav(
            runtime, session, user, login_for(server, dedicated=dedicated)
        )
    return await until(db, user, synchronized)


async def add_interview(db: Database, calendar_id: uuid.UUID, uid: str, summary: str) -> None:
    """An event made in hiresync (an interview), for the next run to write out."""
    text = ics(uid, summary, SOON + timedelta(days=1))
    async with db.transaction() as session:
        calendar = await session.get(SyncedCalendar, calendar_id)
        assert calendar is not None
        session.add(
            CalendarItem(
                organization_id=calendar.organization_id,
                calendar_id=calendar_id,
                uid=uid,
                digest=parse_item(text).digest,
                origin="hiresync",
                summary=summary,
                raw=text,
            )
        )


async def rows(db: Database, calendar_id: uuid.UUID) -> dict[str, CalendarItem]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
        )
        return {r.uid: r for r in found}


# -- start -----------------------------------------------------------------------------------


async def test_a_refused_password_or_a_bad_address_is_said_by_field(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    user = await person(db, make_org())
    await Dav(radicale).make("personal")
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="refused the user name or password") as refused:
            await calendar_settings.start_caldav(
                runtime, session, user, login_for(radicale, password="wrong")
            )
    assert refused.value.field == "password" and "app password" in (refused.value.hint or "")
    bad = CalDavLogin(email="not-an-address", password="x")
    async with db.transaction() as session:
        with pytest.raises(InvalidInput) as wrong_email:
            await calendar_settings.start_caldav(runtime, session, user, bad)
    assert wrong_email.value.field == "email"
    bad_url = CalDavLogin(email="a@example.org", password="x", server_url="dav.example.org")
    async with db.transaction() as session:
        with pytest.raises(InvalidInput) as wrong_url:
            await calendar_settings.start_caldav(runtime, session, user, bad_url)
    assert wrong_url.value.field == "server_url"
    assert not (await status(db, user)).connected, "nothing half-written"


async def test_start_runs_the_first_sync_and_says_synchronized_with_the_address(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    href = await dav.make("personal")
    await dav.put(href, "standup", ics("standup@x", "Standup", SOON, 15))
    await dav.put(href, "review", ics("review@x", "Design review", SOON + timedelta(hours=2)))
    user = await person(db, make_org())

    seen = await started(runtime, db, user, radicale)
    (account,) = seen.accounts
    assert (
        account.headline == f"Your calendar is synchronized with {radicale.username}@example.org."
    )
    assert seen.headline == account.headline
    (calendar,) = account.calendars
    assert (calendar.role, calendar.state, calendar.problem) == ("primary", "ready", None)
    assert calendar.last_synced_at is not None
    assert calendar.counts.events == 2 and calendar.counts.external == 2
    assert account.external_meetings == 2

    async with db.transaction() as session:
        with pytest.raises(Exception, match="already synchronized"):
            await calendar_settings.start_caldav(runtime, session, user, login_for(radicale))


async def test_status_says_progress_problems_and_how_to_fix_them(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    await Dav(radicale).make("personal")
    user = await person(db, make_org())
    async with db.transaction() as session:  # connected, no run yet: the first sync "runs"
        account, (calendar,) = await calendar_remotes.connect_caldav(
            runtime, session, user, login_for(radicale)
        )
        calendar.initial_total, calendar.initial_done = 10, 3
    seen = await status(db, user)
    assert seen.accounts[0].state == "starting"
    assert seen.accounts[0].headline.startswith("Synchronization with alice@example.org")
    assert (seen.accounts[0].calendars[0].done, seen.accounts[0].calendars[0].percent) == (3, 30)

    async with db.transaction() as session:
        row = await session.get(SyncedCalendar, calendar.id)
        assert row is not None
        row.state, row.last_error = "failed", "the calendar now lists 0 of the 6 events"
    problem = (await status(db, user)).accounts[0].calendars[0].problem
    assert problem is not None and problem.action == "sync_anyway"
    assert "Sync anyway" in problem.fix and "0 of the 6" in problem.what

    async with db.transaction() as session:
        row = await session.get(CalendarAccount, account.id)
        assert row is not None
        row.status, row.last_error = "reconnect_needed", "The server refused the password."
    seen = await status(db, user)
    assert seen.accounts[0].state == "reconnect_needed"
    assert seen.accounts[0].problem is not None
    assert seen.accounts[0].problem.action == "reconnect"
    async with db.transaction() as session:
        with pytest.raises(NotConnected, match="can no longer sign in"):
            await calendar_settings.sync_now(runtime, session, user, calendar.id)
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="refused the password") as refused:
            await calendar_settings.reconnect_caldav(runtime, session, user, account.id, "nope")
    assert refused.value.field == "password"
    async with db.transaction() as session:
        await calendar_settings.reconnect_caldav(
            runtime, session, user, account.id, radicale.password
        )
    assert (await status(db, user)).accounts[0].status == "active"


# -- stop ------------------------------------------------------------------------------------


async def test_stop_removes_only_hiresyncs_events_and_keeps_the_copy(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    href = await dav.make("personal")
    await dav.put(href, "standup", ics("standup@x", "Standup", SOON, 15))
    org = make_org()
    user = await person(db, org)
    seen = await started(runtime, db, user, radicale)
    calendar = seen.accounts[0].calendars[0]
    await add_interview(db, calendar.id, "interview-1@hiresync", "Interview: Alex")
    await calendar_sync.sync_calendar(runtime, calendar.id)
    assert await dav.names(href) == ["interview-1@hiresync", "standup"]
    seen = await status(db, user)
    assert seen.accounts[0].calendars[0].counts.from_hiresync == 1

    async with db.transaction() as session:  # a colleague cannot stop it: it is not theirs
        colleague = await team.add_user(
            session,
            org.id,  # type: ignore[arg-type]
            team.NewUser("Colleague", f"colleague@{org.slug}.example", "interviewer", "UTC"),
        )
    with pytest.raises(NotFound):
        await calendar_settings.stop(runtime, colleague, seen.accounts[0].id)

    outcome = await calendar_settings.stop(runtime, user, seen.accounts[0].id)
    assert outcome.complete and outcome.removed == 1, outcome.message
    assert "Everything stays in hiresync" in outcome.message
    assert await dav.names(href) == ["standup"], "only hiresync's event is removed"
    kept = await rows(db, calendar.id)
    assert set(kept) == {"standup@x", "interview-1@hiresync"}, "the copy keeps every row"
    assert kept["interview-1@hiresync"].remote_ident is None
    async with db.sessions() as session:
        account = await session.get(CalendarAccount, seen.accounts[0].id)
        assert account is not None and account.status == "disconnected"
        assert account.disconnected_at is not None and account.secret_sealed is None
        synced = await session.get(SyncedCalendar, calendar.id)
        assert synced is not None and synced.state == "disabled"
    after = await status(db, user)
    assert not after.connected and after.leftover_count == 0
    again = await calendar_settings.stop(runtime, user, seen.accounts[0].id)
    assert again.already_stopped and again.removed == 0


async def test_stop_deletes_the_dedicated_calendar_once_it_is_empty(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    personal = await dav.make("personal")
    await dav.put(personal, "lunch", ics("lunch@x", "Lunch", SOON))
    user = await person(db, make_org())
    seen = await started(runtime, db, user, radicale, dedicated=True)
    roles = {c.role: c for c in seen.accounts[0].calendars}
    assert set(roles) == {"dedicated", "external"}
    assert roles["dedicated"].name == calendar_settings.DEDICATED_NAME
    assert roles["external"].counts.external == 1
    await add_interview(db, roles["dedicated"].id, "interview-2@hiresync", "Interview: Sam")
    await calendar_sync.sync_calendar(runtime, roles["dedicated"].id)
    async with db.sessions() as session:
        dedicated = await session.get(SyncedCalendar, roles["dedicated"].id)
        assert dedicated is not None
    assert await dav.names(dedicated.remote_id) == ["interview-2@hiresync"]

    outcome = await calendar_settings.stop(runtime, user, seen.accounts[0].id)
    assert outcome.removed == 1 and outcome.calendars_deleted == [calendar_settings.DEDICATED_NAME]
    assert await dav.names(dedicated.remote_id) is None, "the empty calendar is gone"
    assert await dav.names(personal) == ["lunch"], "the person's own calendar is untouched"
    assert set(await rows(db, dedicated.id)) == {"interview-2@hiresync"}


async def test_the_organizations_placement_rule_decides_where_interviews_go(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    """Seeds 002/003: per organization, the primary calendar or a dedicated one named after
    the hiring platform; only admins set it, and a bad name is refused by field."""
    dav = Dav(radicale)
    await dav.make("personal")
    org = make_org()
    user = await person(db, org)
    settings = "/v1/interview-settings"
    bad = await asyncio.to_thread(
        org.api.patch, settings, json={"dedicated_calendar_name": "Acme/Recruit"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "dedicated_calendar_name"
    wrong = await asyncio.to_thread(org.api.patch, settings, json={"calendar_placement": "x"})
    assert wrong.status_code == 422
    saved = await asyncio.to_thread(
        org.api.patch,
        settings,
        json={"calendar_placement": "dedicated", "dedicated_calendar_name": " Acme Recruit "},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["dedicated_calendar_name"] == "Acme Recruit"

    seen = await started(runtime, db, user, radicale)  # the person asked for nothing special
    roles = {c.role: c.name for c in seen.accounts[0].calendars}
    assert set(roles) == {"dedicated", "external"} and roles["dedicated"] == "Acme Recruit", roles

    browser = Browser(stack.url)
    try:
        assert browser.login(org.admin_email, org.password).status_code == 303
        page = browser.http.get("/settings/my-calendar").text
        assert "Acme Recruit" in page  # the dedicated calendar, named as the organization says
        refused = browser.post_form(
            "/settings/calendar-sync/placement",
            page="/settings/calendar-sync",
            placement="dedicated",
            name="",
        )
        assert refused.status_code == 422 and "1 to 100 characters" in refused.text
        assert 'aria-invalid="true"' in refused.text
        done = browser.post_form(
            "/settings/calendar-sync/placement",
            page="/settings/calendar-sync",
            placement="primary",
            name="Acme Recruit",
        )
        assert done.status_code == 303
    finally:
        browser.close()
    rules = (await asyncio.to_thread(org.api.get, settings)).json()
    assert rules["calendar_placement"] == "primary"

    async with db.transaction() as session:  # an interviewer may not change it
        colleague = await team.add_user(
            session,
            org.id,  # type: ignore[arg-type]
            team.NewUser(
                "Colleague",
                f"colleague@{org.slug}.example",
                "interviewer",
                "UTC",
                password="colleague-password-1",
            ),
        )
    browser = Browser(stack.url)
    try:
        assert browser.login(colleague.email, "colleague-password-1").status_code == 303
        page = browser.http.get("/settings/calendar-sync").text
        assert "Everyone's primary calendar." in page and "Only an admin" in page
        sneaky = browser.post_form(
            "/settings/calendar-sync/placement",
            page="/settings/calendar-sync",
            placement="person",
            name="Mine",
        )
        assert sneaky.status_code == 403
        page = browser.http.get("/settings/my-calendar").text
        assert "keeps interviews" in page and "in your primary calendar" in page
        assert 'name="placement"' not in page, "nothing to choose: the organization decided"
    finally:
        browser.close()
    assert (await asyncio.to_thread(org.api.get, settings)).json()[
        "calendar_placement"
    ] == "primary"


async def test_server_errors_during_stop_are_listed_and_can_be_tried_again(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    href = await dav.make("personal")
    user = await person(db, make_org())
    seen = await started(runtime, db, user, radicale)
    account_id, calendar_id = seen.accounts[0].id, seen.accounts[0].calendars[0].id
    for n in range(2):
        await add_interview(db, calendar_id, f"iv-{n}@hiresync", f"Interview {n}")
    await calendar_sync.sync_calendar(runtime, calendar_id)
    assert await dav.names(href) == ["iv-0@hiresync", "iv-1@hiresync"]
    await reseal(runtime, db, account_id, "a-revoked-app-password")

    refused = await calendar_settings.stop(runtime, user, account_id)
    assert not refused.complete and len(refused.not_removed) == 2
    assert "could not be removed" in refused.message
    assert await dav.names(href) == ["iv-0@hiresync", "iv-1@hiresync"]
    left = await status(db, user)
    assert not left.connected and left.leftover_count == 2
    assert {e.summary for e in left.leftovers} == {"Interview 0", "Interview 1"}
    assert len(await rows(db, calendar_id)) == 2, "the copy is never lost"

    await reseal(runtime, db, account_id, radicale.password)
    retried = await calendar_settings.stop(runtime, user, account_id)
    assert retried.already_stopped and retried.complete and retried.removed == 2
    assert await dav.names(href) == []
    assert (await status(db, user)).leftover_count == 0


async def test_an_event_changed_in_the_calendar_since_the_last_sync_is_left_there(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    href = await dav.make("personal")
    user = await person(db, make_org())
    seen = await started(runtime, db, user, radicale)
    calendar_id = seen.accounts[0].calendars[0].id
    await add_interview(db, calendar_id, "iv-9@hiresync", "Interview 9")
    await calendar_sync.sync_calendar(runtime, calendar_id)
    edited = ics("iv-9@hiresync", "Interview 9 (my notes)", SOON + timedelta(days=1))
    await dav.put(href, "iv-9@hiresync", edited)

    outcome = await calendar_settings.stop(runtime, user, seen.accounts[0].id)
    (left,) = outcome.not_removed
    assert "changed in your calendar" in left.reason
    assert await dav.names(href) == ["iv-9@hiresync"], "the person's change is not lost"


async def reseal(runtime: Runtime, db: Database, account_id: uuid.UUID, password: str) -> None:
    async with db.transaction() as session:
        account = await session.get(CalendarAccount, account_id)
        assert account is not None
        account.secret_sealed = runtime.keyring.seal(
            password, context=calendar_remotes.secret_context(account.id)
        )


# -- API -------------------------------------------------------------------------------------


async def test_api_status_and_run_are_scoped_to_the_organization(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    dav = Dav(radicale)
    href = await dav.make("personal")
    await dav.put(href, "standup", ics("standup@x", "Standup", SOON, 15))
    org, other = make_org(), make_org()
    user = await person(db, org)
    api, path = org.api, f"/v1/users/{user.id}/calendar-sync"

    empty = await asyncio.to_thread(api.get, path)
    assert empty.status_code == 200 and empty.json()["connected"] is False
    refused = await asyncio.to_thread(api.post, path + "/run")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "not_connected"
    assert "/settings/my-calendar" in refused.json()["error"]["hint"]

    await started(runtime, db, user, radicale)
    body = (await asyncio.to_thread(api.get, path)).json()
    assert body["headline"] == "Your calendar is synchronized with alice@example.org."
    (calendar,) = body["accounts"][0]["calendars"]
    assert calendar["state"] == "ready" and calendar["counts"]["external"] == 1
    before = calendar["last_synced_at"]

    await dav.put(href, "review", ics("review@x", "Design review", SOON + timedelta(hours=2)))
    run = await asyncio.to_thread(api.post, path + "/run")
    assert run.status_code == 202 and run.json()["queued"] == [calendar["id"]]
    await until(db, user, lambda s: s.accounts[0].calendars[0].counts.external == 2)
    after = (await asyncio.to_thread(api.get, path)).json()["accounts"][0]["calendars"][0]
    assert after["last_synced_at"] > before

    foreign = await asyncio.to_thread(other.api.get, path)
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert (await asyncio.to_thread(other.api.post, path + "/run")).status_code == 404
    bad = await asyncio.to_thread(api.get, "/v1/users/not-a-uuid/calendar-sync")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "path.user_id"
    extra = await asyncio.to_thread(api.post, path + "/run", json={"forse": True})
    assert extra.status_code == 422 and "forse" in extra.json()["error"]["message"]


# -- the page's event stream -----------------------------------------------------------------


async def test_the_event_stream_says_when_the_status_changes(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    await Dav(radicale).make("personal")
    org = make_org()
    user = await person(db, org)
    browser = Browser(stack.url)
    try:
        assert browser.login(org.admin_email, org.password).status_code == 303
        cookies = dict(browser.http.cookies)
    finally:
        browser.close()
    events = f"{stack.url}/settings/my-calendar/events"
    async with httpx.AsyncClient(timeout=10) as anonymous:
        assert (await anonymous.get(events)).status_code == 401
    version = (await status(db, user)).version
    async with (
        httpx.AsyncClient(cookies=cookies, timeout=20) as http,
        http.stream("GET", events, params={"since": version}) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        async with db.transaction() as session:
            await calendar_settings.start_caldav(runtime, session, user, login_for(radicale))
        changed = await asyncio.wait_for(_next_event(lines), timeout=10)
    assert changed != version


async def _next_event(lines: AsyncIterator[str]) -> str:
    async for line in lines:
        if line.startswith("data: "):
            return line.removeprefix("data: ")
    raise AssertionError("the stream ended")


async def test_key_rotation_reseals_calendar_passwords_so_the_new_key_alone_opens_them(
    stack: Stack, make_org: Any, radicale: DavServer, runtime: Runtime, db: Database
) -> None:
    """``hiresync rotate-key``: a synchronized calendar survives retiring the old key,
    instead of turning into "reconnect needed" because its app password is unreadable."""
    dav = Dav(radicale)
    href = await dav.make("personal")
    user = await person(db, make_org())
    seen = await started(runtime, db, user, radicale)
    calendar_id = seen.accounts[0].calendars[0].id
    old = runtime.keyring
    rotated = old.with_new_active_key()
    runtime.keyring = rotated
    try:
        assert await secrets_rotation.reseal_all(runtime) >= 1
        async with db.sessions() as session:
            account = await session.get(CalendarAccount, seen.accounts[0].id)
            assert account is not None and account.key_id == rotated.active
        runtime.keyring = Keyring(rotated.active, {rotated.active: rotated.keys[rotated.active]})
        await dav.put(href, "review", ics("review@x", "Design review", SOON))
        report = await calendar_sync.sync_calendar(runtime, calendar_id)
        assert report is not None and report.outcome == "synced" and report.read == 1
    finally:  # back under the key the running server holds
        runtime.keyring = Keyring(old.active, dict(rotated.keys))
        await secrets_rotation.reseal_all(runtime)
