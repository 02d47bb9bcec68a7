"""The interview form's Zoom meeting type in real Chromium, as seed 001 describes it: with
Zoom connected, choosing "Zoom meeting" says the meeting details will be generated once the
interview is confirmed; without, the form says how to connect (Settings › Connected
applications) and offers to enter the URL, meeting ID and passcode by hand."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.sync_api import Page, expect

from hiresync.sandbox.zoom import PRO_ACCOUNT_ID
from hiresync.sandbox.zoom.model import BASIC
from tests.e2e.test_connected_apps_page import log_in

FORM = "/interviews/new"


def test_the_zoom_option_says_what_happens_and_how_to_connect(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    log_in(page, stack.url, org.admin_email, org.password)

    page.goto(f"{stack.url}{FORM}")
    page.get_by_label("Meeting type").select_option(label="Zoom meeting")
    missing = page.locator("#zoom-not-connected")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("Your Zoom account is not connected")
    link = missing.get_by_role("link", name="Connect Zoom in Settings › Connected applications")
    expect(link).to_have_attribute("href", "/settings/connected-apps")
    expect(page.locator("#zoom-info")).to_have_count(0)

    missing.get_by_role("button", name="enter the meeting details by hand").click()
    expect(page.get_by_label("Meeting type")).to_have_value("custom_link")
    for label in ("Meeting URL", "Meeting ID", "Passcode"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(missing).to_be_hidden()

    host = stack.zoom.add_user(
        PRO_ACCOUNT_ID, email=f"zed.{secrets.token_hex(3)}@prorecruiting.test", first_name="Zed"
    )
    page.goto(f"{stack.url}/settings/connected-apps")
    page.get_by_role("button", name="Connect Zoom").click()
    page.locator(f"button[value='{host.id}']").click()
    expect(page.get_by_test_id("zoom-status")).to_have_text("Connected")

    page.goto(f"{stack.url}{FORM}")
    page.get_by_label("Meeting type").select_option(label="Zoom meeting")
    expect(page.locator("#zoom-info")).to_have_text(
        "Meeting details will be generated once the interview is confirmed: a Zoom meeting "
        "of its own on your Zoom account, which anyone invited can join without you."
    )
    expect(page.locator("#zoom-not-connected")).to_have_count(0)


def test_the_form_warns_of_a_basic_accounts_40_minutes_while_it_is_filled_in(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    log_in(page, stack.url, org.admin_email, org.password)
    free = stack.zoom.add_account(f"Free {secrets.token_hex(3)}", "free")
    host = stack.zoom.add_user(
        free.id, email=f"bo.{secrets.token_hex(3)}@free.test", first_name="Bo", user_type=BASIC
    )
    page.goto(f"{stack.url}/settings/connected-apps")
    page.get_by_role("button", name="Connect Zoom").click()
    page.locator(f"button[value='{host.id}']").click()
    expect(page.get_by_test_id("zoom-status")).to_have_text("Connected")

    page.goto(f"{stack.url}{FORM}")
    page.locator("#date").fill("2030-03-04")
    page.locator("#time").fill("10:00")
    page.locator("#minutes").fill("60")
    page.get_by_label("Meeting type").select_option(label="Zoom meeting")
    warning = page.locator("[data-warning='zoom-plan']")
    expect(warning).to_contain_text("Basic (free): the meeting will end at 40 minutes")
    expect(warning).to_contain_text("this interview lasts 60")

    page.locator("#minutes").fill("40")
    page.locator("#minutes").dispatch_event("change")
    expect(warning).to_have_count(0)
    expect(page).to_have_url(f"{stack.url}{FORM}")  # nothing was saved
