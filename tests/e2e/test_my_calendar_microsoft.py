"""Settings › My calendar in real Chromium: "Sign in with Microsoft" through the Microsoft
sandbox's own sign-in page, back to "Your calendar is synchronized with …" (issue #6)."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.sync_api import Page, expect

from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.e2e.test_calendar_sync_page import pick_account
from tests.e2e.test_my_calendar_page import log_in


def test_sign_in_with_microsoft_and_see_the_calendar_synchronized(
    stack: Any, make_org: Any, page: Page
) -> None:
    mail = f"browser.{secrets.token_hex(3)}@contoso.com"
    stack.sandbox.add_user(CONTOSO_ID, display_name="Browser Person", mail=mail, can_sign_in=True)
    org = make_org()
    log_in(page, stack.url, org)
    expect(page.get_by_test_id("sync-headline")).to_have_text("Your calendar is not synchronized.")
    expect(page.get_by_role("button", name="Synchronize my Outlook calendar")).to_have_count(0)

    page.get_by_role("button", name="Sign in with Microsoft").click()
    pick_account(page, mail)
    expect(page.get_by_role("status").first).to_contain_text(f"Signed in with Microsoft as {mail}")
    expect(page.get_by_test_id("sync-headline")).to_have_text(
        f"Your calendar is synchronized with {mail}.", timeout=30_000
    )
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_have_count(0)
