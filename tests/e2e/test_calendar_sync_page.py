"""Settings › Calendar sync and Availability, clicked through in real Chromium, as a hiring
team's admin would (seed 000: "Connect an Outlook Admin Account")."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from hiresync.sandbox.microsoft.seed import FABRIKAM_GOV_ID
from tests.integration.browser import IT_ADMIN, NOT_ADMIN


def log_in(page: Page, base: str, org: Any) -> None:
    page.goto(f"{base}/settings/calendar-sync")
    expect(page).to_have_url(f"{base}/login?next=/settings/calendar-sync")
    page.get_by_label("E-mail").fill(org.admin_email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Calendar sync")).to_be_visible()


def pick_account(page: Page, upn: str) -> None:
    expect(
        page.get_by_text("Sign in to your account").or_(page.get_by_role("heading")).first
    ).to_be_visible()
    page.locator(f"button[value='{upn}']").click()


def test_admin_connects_and_sees_matched_and_unmatched_people(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org(
        [("Sam Manager", "sam.manager@contoso.com"), ("Alex Outsider", "alex@gmail.example")]
    )
    log_in(page, stack.url, org)
    expect(page.get_by_test_id("connection-status")).to_have_text("Not connected")
    page.get_by_role("button", name="Connect an Outlook admin account").click()
    pick_account(page, IT_ADMIN)
    expect(page.get_by_test_id("connection-status")).to_have_text("Connected")
    expect(page.locator("#matched")).to_contain_text("Sam Manager", timeout=20_000)
    expect(page.locator("#unmatched-team")).to_contain_text("alex@gmail.example")
    expect(page.locator("#unmatched-directory")).to_contain_text(
        "In the directory, not on the team"
    )

    page.get_by_role("link", name="Availability").click()
    page.get_by_label("Sam Manager").check()
    page.get_by_role("button", name="Show availability").click()
    row = page.locator("tr[data-person='sam.manager@contoso.com']")
    expect(row).to_be_visible()
    assert row.locator("td.slot").count() == 5 * 26
    assert (
        row.locator(
            "td.slot.busy, td.slot.tentative, td.slot.oof, td.slot.workingElsewhere"
        ).count()
        > 0
    )

    page.get_by_role("link", name="Settings › Calendar sync").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_test_id("connection-status")).to_have_text("Not connected")


def test_non_admin_gets_a_link_and_the_outlook_admin_completes_it(
    stack: Any, make_org: Any, page: Page, chromium: Browser
) -> None:
    org = make_org([("Sam Manager", "sam.manager@contoso.com")])
    log_in(page, stack.url, org)
    page.get_by_role("button", name="Connect an Outlook admin account").click()
    pick_account(page, NOT_ADMIN)
    expect(
        page.get_by_role("heading", name="Your Microsoft account is not an Outlook admin")
    ).to_be_visible()
    link = page.get_by_test_id("share-link").inner_text().strip()

    it_admin = chromium.new_context()
    try:
        other = it_admin.new_page()
        other.goto(link)
        other.get_by_role("button", name="Continue to Microsoft").click()
        pick_account(other, IT_ADMIN)
        expect(other.get_by_role("heading", name="Connected")).to_be_visible()
    finally:
        it_admin.close()
    page.goto(f"{stack.url}/settings/calendar-sync")
    expect(page.get_by_test_id("connection-status")).to_have_text("Connected")


def test_government_tenant_gets_a_plain_answer(stack: Any, make_org: Any, page: Page) -> None:
    org = make_org()
    log_in(page, stack.url, org)
    page.get_by_role("button", name="Connect an Outlook admin account").click()
    gov_admin = next(
        a.user_principal_name for a in stack.sandbox.sign_in_accounts(FABRIKAM_GOV_ID) if a.is_admin
    )
    pick_account(page, gov_admin)
    expect(
        page.get_by_role("heading", name="Government Microsoft 365 accounts can't be connected")
    ).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("US Government")
