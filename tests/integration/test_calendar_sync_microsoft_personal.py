"""A person synchronizes their Outlook calendar with their own Microsoft account ("Sign in
with Microsoft", issue #6): the sandbox's real authorize form with state, PKCE and nonce,
the first sync and Graph notifications on delegated tokens, refresh tokens replaced at every
refresh, a grant revoked mid-life turning into "reconnect needed" (and back, by signing in
again), and every refused answer a 4xx that stores nothing.

Each test signs in with a Contoso mailbox of its own; the stack's worker runs the queued
syncs and subscriptions, except where a test runs a sync itself."""

from __future__ import annotations

import asyncio
import html
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select, update

from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import calendar_settings, calendar_sync, microsoft_accounts, team
from hiresync.services.calendar_remotes import secret_context
from hiresync.store.db import Database
from hiresync.store.tables import CalendarAccount, CalendarItem, Notification, SyncedCalendar
from tests.conftest import Org, Stack
from tests.integration.browser import Browser
from tests.integration.test_calendar_sync_microsoft import (
    Outlook,
    add_local,
    by_summary,
    row_of,
    until,
    until_held,
)

PAGE = "/settings/my-calendar"
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)


def new_mailbox(stack: Stack, name: str) -> str:
    """A Contoso person of this test's own who can sign in; returns their address (= UPN)."""
    mail = f"{name}.{secrets.token_hex(3)}@contoso.com"
    stack.sandbox.add_user(
        CONTOSO_ID, display_name=f"{name.title()} Person", mail=mail, can_sign_in=True
    )
    return mail


def logged_in(stack: Stack, org: Org) -> Browser:
    browser = Browser(stack.url)
    assert browser.login(org.admin_email, org.password).status_code == 303
    return browser


def start_sign_in(browser: Browser) -> str:
    start = browser.post_form(PAGE + "/microsoft/sign-in", page=PAGE)
    assert start.status_code == 303, start.text
    assert "/sandbox/microsoft/organizations/oauth2/v2.0/authorize?" in start.headers["location"]
    return start.headers["location"]


def microsoft_answer(browser: Browser, account: str, action: str = "accept") -> httpx.Response:
    """Sign in at the sandbox as ``account``; returns Microsoft's redirect back to us."""
    back = browser.sign_in_at_microsoft(start_sign_in(browser), account, action)
    assert back.headers["location"].startswith(browser.base_url + PAGE + "/microsoft/callback")
    return back


def sign_in(browser: Browser, account: str) -> httpx.Response:
    """The whole round trip; returns our answer to Microsoft's redirect."""
    return browser.follow(microsoft_answer(browser, account))


def text_of(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def accounts_of(db: Database, org: Org) -> list[CalendarAccount]:
    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
        assert user is not None
        rows = await session.scalars(
            select(CalendarAccount).where(CalendarAccount.user_id == user.id)
        )
        return list(rows)


async def signed_in(stack: Stack, db: Database, org: Org, mail: str) -> SyncedCalendar:
    """Signed in, first sync done and subscribed (the worker ran what the sign-in queued)."""
    browser = logged_in(stack, org)
    try:
        answer = sign_in(browser, mail)
    finally:
        browser.close()
    assert answer.status_code == 303 and answer.headers["location"] == PAGE, answer.text
    (account,) = await accounts_of(db, org)
    async with db.sessions() as session:
        (synced,) = await session.scalars(
            select(SyncedCalendar).where(SyncedCalendar.account_id == account.id)
        )
    await until(db, synced.id, lambda r: r.last_synced_at is not None and r.subscription_id)
    return await row_of(db, synced.id)


async def refresh_token_of(runtime: Runtime, db: Database, account_id: uuid.UUID) -> str:
    async with db.sessions() as session:
        row = await session.get(CalendarAccount, account_id)
        assert row is not None and row.secret_sealed
        return runtime.keyring.open(row.secret_sealed, context=secret_context(row.id))


async def expire_access_token(db: Database, account_id: uuid.UUID) -> None:
    """As if an hour had passed: the stored access token is due for a refresh."""
    async with db.transaction() as session:
        await session.execute(
            update(CalendarAccount)
            .where(CalendarAccount.id == account_id)
            .values(access_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


# -- sign in, first sync, push ------------------------------------------------------------------


async def test_signing_in_syncs_the_calendar_and_outlook_changes_arrive_by_notification(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org, mail = make_org(), new_mailbox(stack, "signs")
    outlook = Outlook(stack, mail)
    outlook.create("Their standup", SOON, SOON + timedelta(minutes=15))
    browser = logged_in(stack, org)
    page = text_of(browser.http.get(PAGE))
    assert "Sign in with Microsoft" in page
    assert "Synchronize my Outlook calendar" not in page, "no company connection in this org"

    authorize = start_sign_in(browser)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {
        "Calendars.ReadWrite",
        "User.Read",
        "email",
        "openid",
        "profile",
        "offline_access",
    }
    browser.close()

    synced = await signed_in(stack, db, org, mail)
    (account,) = await accounts_of(db, org)
    assert (account.provider, account.scope, account.status) == ("microsoft", "personal", "active")
    assert account.address == mail and account.username == outlook.user.id
    assert account.external_tenant_id == CONTOSO_ID and account.connection_id is None
    assert account.secret_sealed and account.access_sealed
    assert (synced.role, synced.direction) == ("primary", "both")
    assert "Their standup" in await by_summary(db, synced.id)

    (sub,) = [
        s for s in stack.sandbox.list_subscriptions(CONTOSO_ID) if s.id == synced.subscription_id
    ]
    assert sub.resource.lower() == f"users/{outlook.user.id}/events".lower()
    outlook.create("Booked in Outlook", SOON + timedelta(hours=2), SOON + timedelta(hours=3))
    await until_held(db, synced.id, "Booked in Outlook")

    browser = logged_in(stack, org)
    try:
        page = text_of(browser.http.get(PAGE))
    finally:
        browser.close()
    assert f"Your calendar is synchronized with {mail}." in page
    assert 'id="start-microsoft"' not in page


# -- tokens -------------------------------------------------------------------------------------


async def test_each_refresh_stores_the_new_refresh_token_and_the_next_run_uses_it(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org, mail = make_org(), new_mailbox(stack, "rotates")
    synced = await signed_in(stack, db, org, mail)
    first = await refresh_token_of(runtime, db, synced.account_id)

    await expire_access_token(db, synced.account_id)
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.outcome == "synced", report
    second = await refresh_token_of(runtime, db, synced.account_id)
    assert second != first, "the new refresh token replaced the old one at once"
    # Microsoft does not revoke a refresh token when it is used; hiresync drops it itself.
    assert first in stack.sandbox.refresh_tokens and second in stack.sandbox.refresh_tokens

    Outlook(stack, mail).create("After the refresh", SOON, SOON + timedelta(hours=1))
    await expire_access_token(db, synced.account_id)
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.outcome == "synced", report
    assert "After the refresh" in await by_summary(db, synced.id)
    third = await refresh_token_of(runtime, db, synced.account_id)
    assert third not in (first, second)


async def test_two_workers_refreshing_at_once_refresh_once(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org, mail = make_org(), new_mailbox(stack, "races")
    synced = await signed_in(stack, db, org, mail)
    other = Runtime.build(stack.settings, uri=stack.database_uri)
    await other.start()
    try:
        held = await microsoft_accounts.token_getter(runtime, synced.account_id)(False)
        before = await refresh_token_of(runtime, db, synced.account_id)
        (a, _), (b, _) = await asyncio.gather(
            microsoft_accounts.refresh(runtime, synced.account_id, force=True, rejected=held),
            microsoft_accounts.refresh(other, synced.account_id, force=True, rejected=held),
        )
    finally:
        await other.close()
    assert a == b != held, "the second worker used the token the first one stored"
    after = await refresh_token_of(runtime, db, synced.account_id)
    assert after != before
    assert stack.sandbox.refresh_tokens[after].user_id == Outlook(stack, mail).user.id


async def test_a_revoked_grant_asks_to_reconnect_and_signing_in_again_resumes(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org, mail = make_org(), new_mailbox(stack, "revoked")
    outlook = Outlook(stack, mail)
    outlook.create("Kept once", SOON, SOON + timedelta(hours=1))
    synced = await signed_in(stack, db, org, mail)

    revoked = httpx.post(
        f"{stack.url}/sandbox/microsoft/_control/tenants/{CONTOSO_ID}/revoke-consent",
        json={"user": mail},
        timeout=10,
    )
    assert revoked.status_code == 200 and revoked.json()["revokedRefreshTokens"] >= 1
    await expire_access_token(db, synced.account_id)
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.outcome == "reconnect_needed", report
    (account,) = await accounts_of(db, org)
    assert account.status == "reconnect_needed" and "AADSTS50173" in (account.last_error or "")
    async with db.sessions() as session:
        told = await session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == account.user_id, Notification.kind == "calendar_reconnect"
            )
        )
    assert told == 1, "the owner is told, once"

    browser = logged_in(stack, org)
    try:
        page = text_of(browser.http.get(PAGE))
        assert "Reconnect needed" in page and 'id="reconnect-microsoft"' in page
        outlook.create("While disconnected", SOON + timedelta(hours=4), SOON + timedelta(hours=5))
        answer = sign_in(browser, mail)
        assert answer.status_code == 303, answer.text
    finally:
        browser.close()
    (again,) = await accounts_of(db, org)
    assert again.id == account.id and again.status == "active" and again.last_error is None
    await until_held(db, synced.id, "While disconnected")
    async with db.sessions() as session:
        kept = await session.scalar(
            select(func.count(CalendarItem.id)).where(
                CalendarItem.calendar_id == synced.id,
                CalendarItem.summary == "Kept once",
                CalendarItem.deleted.is_(False),
            )
        )
    assert kept == 1, "nothing doubled after reconnecting"


# -- refused answers ------------------------------------------------------------------------------


async def test_forged_foreign_and_replayed_answers_are_refused_and_store_nothing(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org, mail = make_org(), new_mailbox(stack, "forged")
    browser, thief = logged_in(stack, org), logged_in(stack, org)
    try:
        back = microsoft_answer(browser, mail)
        callback = PAGE + "/microsoft/callback"
        forged = browser.http.get(callback, params={"code": "1.Aforged", "state": "forged"})
        assert forged.status_code == 400 and "does not belong" in text_of(forged)
        missing = browser.http.get(callback, params={"code": "1.Aforged"})
        assert missing.status_code == 400 and "no valid state" in text_of(missing)
        stolen = thief.follow(back)
        assert stolen.status_code == 400 and "another browser" in text_of(stolen)
        assert await accounts_of(db, org) == [], "nothing stored"

        assert browser.follow(back).status_code == 303
        (account,) = await accounts_of(db, org)
        replay = browser.follow(back)
        assert replay.status_code == 400 and "already used" in text_of(replay)
        (same,) = await accounts_of(db, org)
        assert same.secret_sealed == account.secret_sealed, "a replay changes nothing"
    finally:
        browser.close()
        thief.close()


async def test_declined_consent_and_an_expired_code_say_so(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org, mail = make_org(), new_mailbox(stack, "declines")
    browser = logged_in(stack, org)
    try:
        declined = browser.follow(microsoft_answer(browser, mail, action="cancel"))
        said = text_of(declined)
        assert declined.status_code == 400 and "You declined the permissions" in said
        assert "AADSTS65004" in said or "nothing changed" in said

        back = microsoft_answer(browser, mail)
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        stack.sandbox.codes[code].expires_at = 0  # ten minutes passed at Microsoft
        late = browser.follow(back)
        assert late.status_code == 400 and "AADSTS70008" in text_of(late)
        assert "Microsoft did not accept this sign-in" in text_of(late)
    finally:
        browser.close()
    assert await accounts_of(db, org) == []


async def test_a_microsoft_login_synchronized_elsewhere_is_refused_naming_where(
    stack: Stack, make_org: Any, db: Database
) -> None:
    first, second, mail = make_org(), make_org(), new_mailbox(stack, "twice")
    await signed_in(stack, db, first, mail)
    browser = logged_in(stack, second)
    try:
        refused = sign_in(browser, mail)
    finally:
        browser.close()
    said = text_of(refused)
    assert refused.status_code == 409, said
    assert first.admin_email in said and f"Org {first.slug}" in said
    assert await accounts_of(db, second) == []
    (kept,) = await accounts_of(db, first)
    assert kept.status == "active", "the first link is untouched"


# -- stop ------------------------------------------------------------------------------------------


async def test_stopping_removes_hiresyncs_events_and_the_subscription_and_forgets_the_tokens(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org, mail = make_org(), new_mailbox(stack, "stops")
    outlook = Outlook(stack, mail)
    outlook.create("Their own meeting", SOON, SOON + timedelta(hours=1))
    synced = await signed_in(stack, db, org, mail)
    await add_local(db, synced, "interview-9@hiresync", "Interview: Kim", SOON + timedelta(days=1))
    report = await calendar_sync.sync_calendar(runtime, synced.id)
    assert report is not None and report.outcome == "synced", report
    assert any(e.subject == "Interview: Kim" for e in outlook.user.events)
    subscription = (await row_of(db, synced.id)).subscription_id

    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
    assert user is not None
    outcome = await calendar_settings.stop(runtime, user, synced.account_id)
    assert outcome.complete, outcome.message
    assert [e.subject for e in outlook.user.events if not e.is_cancelled] == ["Their own meeting"]
    assert all(s.id != subscription for s in stack.sandbox.list_subscriptions(CONTOSO_ID))
    (account,) = await accounts_of(db, org)
    assert account.status == "disconnected"
    assert account.secret_sealed is None and account.access_sealed is None
