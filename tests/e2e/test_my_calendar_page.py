"""Settings › My calendar in real Chromium against a real Radicale, as seeds 002/003 walk
through it: "Start synchronization" (a refused password said next to its field, with the
app-password hint), then "Your calendar is synchronized with …" appearing on its own,
counts and progress that follow the sync without a reload (server-sent events), and "Stop
synchronization", which asks first and says what it does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from hiresync.runtime import Runtime
from hiresync.services import calendar_remotes, team
from hiresync.store.db import Database
from hiresync.store.tables import SyncedCalendar
from tests.conftest import Org, run_async
from tests.dav_servers import DavServer, running

PAGE = "/settings/my-calendar"
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)


def ics(uid: str, summary: str, start: datetime) -> str:
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{stamp}}\r\nDTSTART:{start:{stamp}}\r\n"
        f"DTEND:{start + timedelta(hours=1):{stamp}}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[DavServer]:
    with running("radicale", tmp_path / "radicale") as server:
        yield server


def dav(server: DavServer) -> httpx.Client:
    auth = httpx.BasicAuth(server.username, server.password)
    return httpx.Client(base_url=server.url, auth=auth, timeout=10)


def calendar_with(server: DavServer, *events: tuple[str, str]) -> str:
    href = f"/{server.username}/personal/"
    with dav(server) as http:
        assert http.request("MKCALENDAR", href).status_code == 201
    for uid, summary in events:
        put(server, href, uid, summary)
    return href


def put(server: DavServer, href: str, uid: str, summary: str) -> None:
    with dav(server) as http:
        answer = http.put(f"{href}{uid}.ics", content=ics(uid, summary, SOON).encode())
        assert answer.status_code in (201, 204), answer.text


def log_in(page: Page, base: str, org: Org) -> None:
    page.goto(f"{base}{PAGE}")
    expect(page).to_have_url(f"{base}/login?next={PAGE}")
    page.get_by_label("E-mail").fill(org.admin_email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My calendar")).to_be_visible()


def mark_no_reload(page: Page) -> None:
    """A flag that only survives as long as the page is not reloaded."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def test_start_see_it_synchronize_by_itself_then_stop(
    stack: Any, make_org: Any, page: Page, radicale: DavServer
) -> None:
    href = calendar_with(radicale, ("standup@x", "Standup"))
    org = make_org()
    log_in(page, stack.url, org)
    headline = page.get_by_test_id("sync-headline")
    expect(headline).to_have_text("Your calendar is not synchronized.")

    page.get_by_label("E-mail address").fill(f"{radicale.username}@example.org")
    page.get_by_label("App password").fill("not-the-app-password")
    page.get_by_label("Keep them in a dedicated calendar").check()
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Server URL").fill(radicale.url)
    page.get_by_label("User name").fill(radicale.username)
    page.get_by_role("button", name="Start synchronization").click()
    password = page.get_by_label("App password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_contain_text("refused the user name or password")
    expect(page.locator("#password-error")).to_contain_text("app password")
    expect(page.get_by_label("E-mail address")).to_have_value(f"{radicale.username}@example.org")
    expect(page.get_by_label("Server URL")).to_be_visible()  # advanced settings stay open
    expect(page.get_by_label("Keep them in a dedicated calendar")).to_be_checked()

    page.get_by_label("Write interviews into my primary calendar").check()
    password.fill(radicale.password)
    page.get_by_role("button", name="Start synchronization").click()
    expect(page.get_by_role("status")).to_contain_text("has started")
    mark_no_reload(page)
    expect(headline).to_have_text(
        f"Your calendar is synchronized with {radicale.username}@example.org.", timeout=30_000
    )
    row = page.locator("article[data-role='primary']")
    expect(row.get_by_test_id("calendar-state")).to_have_text("Synchronized")
    expect(row.get_by_test_id("last-synced")).to_have_text(
        re.compile(r"Last synchronized\s+(just now|\d+ seconds ago)")
    )
    expect(row.get_by_test_id("counts")).to_contain_text("1 event in hiresync's copy")
    expect(page.locator("#start")).to_be_hidden()

    # A change in the calendar, synced at the platform's request: the page follows by itself.
    put(radicale, href, "review@x", "Design review")
    user_id = run_async(lambda: _user_id(stack, org))
    assert org.api.post(f"/v1/users/{user_id}/calendar-sync/run").status_code == 202
    expect(row.get_by_test_id("counts")).to_contain_text("2 events in hiresync's copy")
    expect(page.locator("#external-count")).to_contain_text("2 meetings")
    assert not_reloaded(page), "the page changed without a reload"

    dialog = page.get_by_role("dialog")
    page.get_by_role("button", name="Stop synchronization", exact=True).click()
    expect(dialog).to_contain_text("removes the events it added")
    expect(dialog).to_contain_text("Everything stays in hiresync")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Stop synchronization", exact=True).click()
    dialog.get_by_role("button", name="Yes, stop synchronization").click()
    expect(page.get_by_role("status")).to_contain_text("is stopped")
    expect(page.get_by_role("status")).to_contain_text("Everything stays in hiresync")
    expect(headline).to_have_text("Your calendar is not synchronized.")
    expect(page.get_by_role("button", name="Start synchronization")).to_be_visible()


def test_first_sync_progress_follows_without_reload(
    stack: Any, make_org: Any, page: Page, radicale: DavServer
) -> None:
    calendar_with(radicale, ("standup@x", "Standup"))
    org = make_org()
    calendar_id = run_async(lambda: _connected_mid_first_sync(stack, org, radicale))
    log_in(page, stack.url, org)
    mark_no_reload(page)
    headline = page.get_by_test_id("sync-headline")
    expect(headline).to_have_text(
        f"Synchronization with {radicale.username}@example.org has started."
    )
    progress = page.get_by_role("progressbar", name="First synchronization of")
    expect(progress).to_have_attribute("value", "3")
    expect(page.get_by_test_id("progress")).to_have_text("3 of 10 events (30 %)")

    run_async(lambda: _update(stack, calendar_id, initial_done=7))
    expect(page.get_by_test_id("progress")).to_have_text("7 of 10 events (70 %)")
    run_async(
        lambda: _update(
            stack, calendar_id, state="ready", initial_done=10, last_synced_at=datetime.now(UTC)
        )
    )
    expect(headline).to_have_text(
        f"Your calendar is synchronized with {radicale.username}@example.org."
    )
    expect(progress).to_have_count(0)
    expect(page.get_by_test_id("last-synced")).to_contain_text("Last synchronized just now")
    assert not_reloaded(page)


async def _user_id(stack: Any, org: Org) -> Any:
    database = Database.connect(stack.database_uri, pool_size=1)
    try:
        async with database.sessions() as session:
            user = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
            assert user is not None
            return user.id
    finally:
        await database.dispose()


async def _connected_mid_first_sync(stack: Any, org: Org, server: DavServer) -> Any:
    """Connected without queueing a run, the first sync "3 of 10" along: a state the
    worker would pass through too quickly to watch."""
    runtime = Runtime.build(stack.settings, uri=stack.database_uri)
    await runtime.start()
    try:
        async with runtime.db.transaction() as session:
            user = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
            assert user is not None
            login = calendar_remotes.CalDavLogin(
                email=f"{server.username}@example.org",
                password=server.password,
                username=server.username,
                server_url=server.url,
            )
            _, (calendar,) = await calendar_remotes.connect_caldav(runtime, session, user, login)
            calendar.initial_total, calendar.initial_done = 10, 3
            return calendar.id
    finally:
        await runtime.close()


async def _update(stack: Any, calendar_id: Any, **values: Any) -> None:
    database = Database.connect(stack.database_uri, pool_size=1)
    try:
        async with database.transaction() as session:
            row = await session.get(SyncedCalendar, calendar_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
    finally:
        await database.dispose()
