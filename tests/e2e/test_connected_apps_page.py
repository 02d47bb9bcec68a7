"""Settings › Connected applications in real Chromium, as seed 001 walks through it: connect
Zoom through Zoom's sign-in page and come back to "Disconnect"; disconnecting asks for
confirmation ("Confirm Disconnect") and says links already made stay; a member whose
company Zoom account needs admin pre-approval meets Zoom's page, comes back, and asks here,
after which the page says "Pre-approval requested"."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.sync_api import Page, expect

from hiresync.sandbox.zoom import PRO_ACCOUNT_ID

PAGE = "/settings/connected-apps"


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}{PAGE}")
    expect(page).to_have_url(f"{base}/login?next={PAGE}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Connected applications")).to_be_visible()


def test_connect_zoom_then_confirm_disconnect(stack: Any, make_org: Any, page: Page) -> None:
    zoom = stack.zoom
    tag = secrets.token_hex(3)
    host = zoom.add_user(
        PRO_ACCOUNT_ID, email=f"pia.{tag}@prorecruiting.test", first_name="Pia", last_name=tag
    )
    org = make_org()
    log_in(page, stack.url, org.admin_email, org.password)
    expect(page.get_by_test_id("zoom-status")).to_have_text("Not connected")

    page.get_by_role("button", name="Connect Zoom").click()
    expect(page.locator("body[data-zoom-page='authorize']")).to_be_visible()
    page.locator(f"button[value='{host.id}']").click()

    expect(page.get_by_test_id("zoom-status")).to_have_text("Connected")
    expect(page.locator("#zoom-connected-as")).to_have_text(
        f"Connected as {host.email} (Pro: one meeting at a time)"
    )
    dialog = page.locator("#disconnect-dialog")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Disconnect", exact=True).click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(
        "Meeting links already created for upcoming interviews stay as they are."
    )
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("zoom-status")).to_have_text("Connected")

    page.get_by_role("button", name="Disconnect", exact=True).click()
    dialog.get_by_role("button", name="Confirm Disconnect").click()
    expect(page.get_by_test_id("zoom-status")).to_have_text("Not connected")
    expect(page.get_by_role("status")).to_contain_text("hiresync's access is revoked")
    expect(page.get_by_role("button", name="Connect Zoom")).to_be_visible()
    assert zoom.active_grant(host.id, zoom.demo_client_id) is None
    zoom.deliver_webhooks(force=True)


def test_member_needing_pre_approval_requests_it(stack: Any, make_org: Any, page: Page) -> None:
    zoom = stack.zoom
    tag = secrets.token_hex(3)
    company = zoom.add_account(f"Globex {tag}", "business", requires_preapproval=True)
    member = zoom.add_user(company, email=f"gus.{tag}@globex.test", first_name="Gus", last_name=tag)
    org = make_org()
    log_in(page, stack.url, org.admin_email, org.password)

    page.get_by_role("button", name="Connect Zoom").click()
    page.locator(f"button[value='{member.id}']").click()
    expect(page.locator("body[data-zoom-page='preapproval-required']")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("alert")).to_contain_text("You cancelled connecting Zoom")
    expect(page.get_by_role("alert")).to_contain_text("Request pre-approval")
    page.get_by_role("button", name="Request pre-approval").click()
    expect(page.get_by_test_id("preapproval-state")).to_have_text("Pre-approval requested")
    expect(page.get_by_role("button", name="Request pre-approval")).to_have_count(0)
    # The admin (this user too) sees the request with "Mark approved", and the notification.
    expect(page.locator("#preapprovals")).to_contain_text(org.admin_email)
    expect(page.locator("#notifications")).to_contain_text("pre-approve hiresync in Zoom")
