"""The Calendar page in real Chromium against a real Radicale (seed 003: "all meetings
scheduled in your calendar are automatically displayed"; seed 002: events made one by one
go out): the person's own meetings appear read-only, an event added here goes out to
their calendar and says so once it has, a meeting added in the calendar appears without a
reload, and a refused form says what to fix next to the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import Org, run_async
from tests.dav_servers import DavServer
from tests.e2e import test_my_calendar_page as my_calendar_page
from tests.e2e.test_my_calendar_page import (
    SOON,
    _user_id,
    calendar_with,
    log_in,
    mark_no_reload,
    not_reloaded,
    put,
)
from tests.integration.browser import wait_for

radicale = my_calendar_page.radicale  # a Radicale of its own per test


def start_sync(page: Page, server: DavServer) -> None:
    page.get_by_label("E-mail address").fill(f"{server.username}@example.org")
    page.get_by_label("App password").fill(server.password)
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Server URL").fill(server.url)
    page.get_by_label("User name").fill(server.username)
    page.get_by_role("button", name="Start synchronization").click()
    expect(page.get_by_test_id("sync-headline")).to_have_text(
        f"Your calendar is synchronized with {server.username}@example.org.", timeout=30_000
    )


def names(server: DavServer, href: str) -> str:
    auth = httpx.BasicAuth(server.username, server.password)
    with httpx.Client(base_url=server.url, auth=auth, timeout=10) as http:
        return http.request("PROPFIND", href, headers={"Depth": "1"}).text


def test_the_week_shows_the_calendar_and_events_made_here_go_out(
    stack: Any, make_org: Any, page: Page, radicale: DavServer
) -> None:
    href = calendar_with(radicale, ("standup@x", "Standup"))
    org: Org = make_org()
    log_in(page, stack.url, org)
    page.goto(f"{stack.url}/calendar")
    expect(page.locator("#not-synchronized")).to_contain_text("Start synchronization")
    page.goto(f"{stack.url}/settings/my-calendar")
    start_sync(page, radicale)

    page.get_by_role("link", name="Calendar", exact=True).click()
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()
    zone = ZoneInfo(page.locator("label[for=start]").inner_text().split("(")[1].rstrip(")"))
    day = SOON.astimezone(zone).date()  # the person's zone decides the day an event is on
    page.goto(f"{stack.url}/calendar?week={day - timedelta(days=day.weekday())}")
    standup = page.locator(f".day[data-day='{day}'] tr", has_text="Standup")
    expect(standup).to_contain_text("From your calendar")
    expect(standup).to_contain_text("read-only")
    expect(standup).to_contain_text(f"{SOON.astimezone(zone):%H:%M}–")
    expect(standup.get_by_role("button", name="Remove Standup")).to_have_count(0)

    page.get_by_label("Title").fill("")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#summary-error")).to_contain_text("needs a title")
    expect(page.get_by_label("Date")).to_have_value(day.isoformat())

    page.get_by_label("Title").fill("Prep for the panel")
    page.get_by_label(f"Start ({zone.key})").fill("15:00")
    page.get_by_label("Minutes").fill("45")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "“Prep for the panel” is in your calendar"
    )
    prep = page.locator(f".day[data-day='{day}'] tr", has_text="Prep for the panel")
    expect(prep).to_contain_text("15:00–15:45")
    expect(prep).to_contain_text("Made in hiresync")
    mark_no_reload(page)
    expect(prep.get_by_test_id("sync-pending")).to_have_count(0, timeout=30_000)
    assert names(radicale, href).count(".ics") == 2, "the event went out, once"

    # A meeting added in the calendar appears by itself once it is synced.
    put(radicale, href, "review@x", "Design review")
    user_id = run_async(lambda: _user_id(stack, org))
    assert org.api.post(f"/v1/users/{user_id}/calendar-sync/run").status_code == 202
    expect(page.locator("tr", has_text="Design review")).to_contain_text("From your calendar")
    assert not_reloaded(page), "the week changed without a reload"

    page.get_by_role("button", name="Remove Prep for the panel").click()
    expect(page.get_by_role("status").first).to_contain_text("Event removed")
    expect(page.locator("tr", has_text="Prep for the panel")).to_have_count(0)
    expect(page.locator("tr", has_text="Standup")).to_have_count(1)
    assert wait_for(lambda: names(radicale, href).count(".ics") == 2), "and left the calendar"
