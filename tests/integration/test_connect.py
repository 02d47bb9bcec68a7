"""Company-wide Microsoft 365 connect (seed 000 and the Enterprise Connect flow of seed 004):
one admin connects, everyone on the hiring team is matched, refusals are explained."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from hiresync.sandbox.microsoft.seed import CONTOSO_ID, FABRIKAM_GOV_ID, NORTHWIND_ID
from tests.integration.browser import IT_ADMIN, NOT_ADMIN, Browser, connect_as, job_report, wait_for


@pytest.fixture
def browser(stack: Any) -> Iterator[Browser]:
    b = Browser(stack.url)
    yield b
    b.close()


def sign_in_account(sandbox: Any, tenant_id: str, admin: bool) -> str:
    return next(
        a.user_principal_name for a in sandbox.sign_in_accounts(tenant_id) if a.is_admin == admin
    )


async def test_admin_connects_and_the_whole_team_is_matched(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org(
        [
            ("Morgan Lee", "MLEE@contoso.onmicrosoft.com"),  # by sign-in name, odd case
            ("Sam Manager", "sam.manager@contoso.com"),  # by primary address
            ("Alex Outsider", "alex@gmail.example"),  # not in the directory
        ]
    )
    landing = connect_as(browser, org, IT_ADMIN)
    assert landing.status_code == 303 and landing.headers["location"] == "/settings/calendar-sync"
    [connection] = org.api.get("/v1/connections").json()
    assert connection["status"] == "active" and connection["tenant_id"] == CONTOSO_ID
    report = wait_for(
        lambda: (r := org.api.get("/v1/directory/matches").json())["directory_size"] and r
    )
    assert report, job_report(stack.database_uri)
    assert report["directory_size"] >= 250
    matched = {u["email"]: u["match"] for u in report["matched"]}
    assert matched["MLEE@contoso.onmicrosoft.com"] == {
        "mailbox": "morgan.lee@contoso.com",
        "matched_on": "upn",
    }
    assert matched["sam.manager@contoso.com"]["matched_on"] == "mail"
    assert [u["email"] for u in report["unmatched_team_members"]] == [
        "alex@gmail.example",
        org.admin_email,
    ]
    assert report["unmatched_directory_total"] == report["directory_size"] - len(
        report["matched"]
    ) - report_disabled(stack)
    page = browser.http.get("/settings/calendar-sync").text
    assert "Connected" in page and "Morgan Lee" in page and "alex@gmail.example" in page


def report_disabled(stack: Any) -> int:
    tenant = stack.sandbox.tenant(CONTOSO_ID)
    return sum(1 for u in tenant.users.values() if not u.account_enabled)


async def test_non_admin_gets_a_link_for_their_outlook_admin_who_completes_it(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org([("Sam Manager", "sam.manager@contoso.com")])
    page = connect_as(browser, org, NOT_ADMIN)
    assert page.status_code == 200
    assert "not an Outlook admin" in page.text and "AADSTS90094" in page.text
    link = page.text.split('data-testid="share-link">', 1)[1].split("<", 1)[0]
    assert link.startswith(stack.url + "/connect/microsoft/")
    assert org.api.get("/v1/connections").json() == []

    it_admin = Browser(stack.url)  # the Outlook admin's own browser, not logged in here
    try:
        landing = it_admin.http.get(link.removeprefix(stack.url))
        assert landing.status_code == 200 and "Continue to Microsoft" in landing.text
        go = it_admin.post_form(link.removeprefix(stack.url))
        done = it_admin.follow(it_admin.sign_in_at_microsoft(go.headers["location"], IT_ADMIN))
        assert done.status_code == 200 and "now connected" in done.text
    finally:
        it_admin.close()
    [connection] = org.api.get("/v1/connections").json()
    assert connection["status"] == "active" and connection["consented_via"] == "shared_link"
    assert "Connected" in browser.http.get("/settings/calendar-sync").text


async def test_government_tenant_is_refused_naming_its_cloud(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org()
    page = connect_as(browser, org, sign_in_account(stack.sandbox, FABRIKAM_GOV_ID, admin=True))
    assert page.status_code == 400, page.text
    assert "US Government" in page.text and "can't be connected" in page.text
    assert org.api.get("/v1/connections").json() == []


async def test_expired_client_secret_is_explained_and_nothing_stored(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org()
    page = connect_as(browser, org, sign_in_account(stack.sandbox, NORTHWIND_ID, admin=True))
    assert page.status_code == 502
    assert "client secret" in page.text.lower()
    assert org.api.get("/v1/connections").json() == []


async def test_only_hiring_admins_may_connect(
    stack: Any, make_org: Any, db: Any, browser: Browser
) -> None:
    from hiresync.services import team

    org = make_org()
    async with db.transaction() as session:
        await team.add_user(
            session,
            org.id,
            team.NewUser("Rita", "rita@x.example", "recruiter", "UTC", "pw-rita-123"),
        )
    browser.login("rita@x.example", "pw-rita-123")
    page = browser.http.get("/settings/calendar-sync").text
    assert "Only an admin" in page and "Connect an Outlook admin account" not in page
    answer = browser.post_form("/settings/calendar-sync/connect", page="/settings/calendar-sync")
    assert answer.status_code == 403


def _callback(browser: Browser, **params: str) -> Any:
    return browser.http.get("/oauth/microsoft/callback", params=params)


async def test_forged_foreign_and_replayed_state_are_refused(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org()
    browser.login(org.admin_email, org.password)
    assert _callback(browser, admin_consent="True", tenant=CONTOSO_ID).status_code == 400
    forged = _callback(browser, admin_consent="True", tenant=CONTOSO_ID, state="forged")
    assert forged.status_code == 400 and "does not belong" in forged.text

    start = browser.post_form("/settings/calendar-sync/connect", page="/settings/calendar-sync")
    back = browser.sign_in_at_microsoft(start.headers["location"], IT_ADMIN)
    other = Browser(stack.url)
    try:
        stolen = other.follow(back)  # the same answer, opened in another browser
        assert stolen.status_code == 400 and "another browser" in stolen.text
    finally:
        other.close()
    assert org.api.get("/v1/connections").json() == []
    assert browser.follow(back).status_code == 303  # the rightful browser completes it
    replay = browser.follow(back)
    assert replay.status_code == 400 and "already used" in replay.text
    assert len(org.api.get("/v1/connections").json()) == 1


async def test_error_redirect_that_also_says_admin_consent_true_is_not_a_grant(
    stack: Any, make_org: Any, browser: Browser
) -> None:
    org = make_org()
    browser.login(org.admin_email, org.password)
    start = browser.post_form("/settings/calendar-sync/connect", page="/settings/calendar-sync")
    state = start.headers["location"].split("state=", 1)[1].split("&", 1)[0]
    page = _callback(
        browser,
        admin_consent="True",
        tenant=CONTOSO_ID,
        state=state,
        error="access_denied",
        error_description="AADSTS65004: User declined to consent to access the app.",
    )
    assert page.status_code == 400 and "declined" in page.text
    assert org.api.get("/v1/connections").json() == []


async def test_disconnect_deletes_the_tokens(stack: Any, make_org: Any, browser: Browser) -> None:
    org = make_org()
    connect_as(browser, org, IT_ADMIN)
    [connection] = org.api.get("/v1/connections").json()
    with psycopg.connect(stack.database_uri) as conn:
        count = "SELECT count(*) FROM credentials WHERE connection_id = %s"
        assert conn.execute(count, (connection["id"],)).fetchone() == (1,)
        sealed = conn.execute(
            "SELECT sealed FROM credentials WHERE connection_id = %s", (connection["id"],)
        ).fetchone()
        assert sealed and sealed[0].startswith("v1.test1.")  # encrypted at rest, with its key id
        done = browser.post_form(
            "/settings/calendar-sync/disconnect", page="/settings/calendar-sync"
        )
        assert done.status_code == 303
        assert conn.execute(count, (connection["id"],)).fetchone() == (0,)
    assert org.api.get(f"/v1/connections/{connection['id']}").json()["status"] == "disconnected"
    assert "Not connected" in browser.http.get("/settings/calendar-sync").text
