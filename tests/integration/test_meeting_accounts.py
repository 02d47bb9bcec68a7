"""Each team member connects their own Zoom account (seed 001), through the sandbox's real
authorize form: state and PKCE, single-use answers, one Zoom login per hiring account across
organizations, disconnect that revokes at Zoom and keeps interview links, and Zoom's rotating
refresh tokens, which two workers refreshing at once must never lose."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from hiresync.providers.base import MeetingRequest
from hiresync.providers.errors import AuthRevoked, ProviderUnavailable
from hiresync.runtime import Runtime
from hiresync.sandbox.zoom import FABRIKAM_ACCOUNT_ID, PRO_ACCOUNT_ID, ZoomSandbox
from hiresync.services import meeting_accounts, secrets_rotation, team
from hiresync.store.crypto import Keyring
from hiresync.store.db import Database
from hiresync.store.tables import Candidate, Interview, MeetingAccount, Notification
from tests.conftest import Org, Stack, run_async
from tests.integration.browser import Browser

PAGE = "/settings/connected-apps"


# -- helpers shared by the Zoom integration tests ---------------------------------------------


def new_zoom_user(zoom: ZoomSandbox, account: str = PRO_ACCOUNT_ID, role: str = "Member") -> Any:
    """A Zoom login of this test's own, so no other test has linked it."""
    tag = secrets.token_hex(3)
    return zoom.add_user(
        account, email=f"host.{tag}@zoom-users.test", first_name="Host", last_name=tag, role=role
    )


def add_member(stack: Stack, org: Org, role: str = "recruiter") -> tuple[str, str]:
    """Another team member who can log in; returns (e-mail, password)."""
    email, password = f"{role}.{secrets.token_hex(3)}@{org.slug}.example", secrets.token_urlsafe(12)

    async def create() -> None:
        database = Database.connect(stack.database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                new = team.NewUser(f"{role.title()} Member", email, role, "UTC", password)
                await team.add_user(session, org.id, new)
        finally:
            await database.dispose()

    run_async(create)
    return email, password


def logged_in(stack: Stack, email: str, password: str) -> Browser:
    browser = Browser(stack.url)
    assert browser.login(email, password).status_code == 303
    return browser


def start_connect(browser: Browser) -> str:
    start = browser.post_form(PAGE + "/zoom/connect", page=PAGE)
    assert start.status_code == 303, start.text
    assert "/sandbox/zoom/oauth/authorize?" in start.headers["location"]
    return start.headers["location"]


def sign_in_at_zoom(
    browser: Browser, authorize_url: str, zoom_user_id: str, action: str | None = None
) -> httpx.Response:
    """Pick ``zoom_user_id`` on the sandbox's sign-in page (Zoom's "Allow")."""
    page = browser.http.get(authorize_url)
    assert page.status_code == 200 and "data-zoom-page='authorize'" in page.text, page.text
    parts = urlsplit(authorize_url)
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"user": zoom_user_id}
    return browser.http.post(
        parts._replace(query="").geturl(), data=fields | ({"action": action} if action else {})
    )


def connect_zoom(browser: Browser, zoom_user_id: str) -> httpx.Response:
    """The whole round trip; returns our answer to Zoom's redirect back."""
    back = sign_in_at_zoom(browser, start_connect(browser), zoom_user_id)
    assert back.status_code == 302, back.text
    return browser.follow(back)


def page_text(browser: Browser) -> str:
    """The page as a reader sees it (entities decoded)."""
    return html.unescape(browser.http.get(PAGE).text)


async def account_of(db: Database, user_email: str, org: Org) -> MeetingAccount | None:
    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, user_email)  # type: ignore[arg-type]
        assert user is not None
        return await session.scalar(
            select(MeetingAccount)
            .where(MeetingAccount.user_id == user.id)
            .order_by(MeetingAccount.connected_at.desc())
            .limit(1)
        )


# -- connect ----------------------------------------------------------------------------------


async def test_a_recruiter_connects_their_zoom_account(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    before = page_text(browser)
    assert "Not connected" in before and "Connect Zoom" in before

    authorize = start_connect(browser)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    answer = connect_zoom_from(browser, authorize, host.id)
    assert answer.status_code == 303 and answer.headers["location"] == PAGE

    shown = page_text(browser)
    assert f"Connected as <strong>{host.email}</strong> (Pro: one meeting at a time)" in shown
    assert "Disconnect" in shown and "Confirm Disconnect" in shown
    row = await account_of(db, org.admin_email, org)
    assert row is not None and row.status == "active" and row.external_user_id == host.id
    assert row.licensed is True and row.concurrent_meetings == 1
    # Sealed at rest, and what is sealed is a token Zoom accepts for this user.
    assert row.access_sealed and row.access_sealed.startswith("v1.") and row.refresh_sealed
    token = await meeting_accounts.token_getter(runtime, row.id)(False)
    assert token not in row.access_sealed
    owner = zoom.token_owner(token)
    assert not isinstance(owner, str) and owner[1].id == host.id


def connect_zoom_from(browser: Browser, authorize_url: str, zoom_user_id: str) -> httpx.Response:
    back = sign_in_at_zoom(browser, authorize_url, zoom_user_id)
    assert back.status_code == 302, back.text
    return browser.follow(back)


async def test_a_tampered_or_foreign_state_is_refused(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    assert stack.zoom is not None
    host = new_zoom_user(stack.zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    back = sign_in_at_zoom(browser, start_connect(browser), host.id)
    callback = urlsplit(back.headers["location"])
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}

    forged = browser.http.get(callback.path, params=params | {"state": params["state"] + "x"})
    assert forged.status_code == 400
    assert "does not belong to a connection you started" in forged.text
    missing = browser.http.get(callback.path, params={"code": params["code"]})
    assert missing.status_code == 400 and "no valid state" in missing.text
    # Someone else's answer, opened in another team member's browser, is not theirs either.
    email, password = add_member(stack, org)
    other = logged_in(stack, email, password)
    assert other.http.get(callback.path, params=params).status_code == 400
    assert await account_of(db, org.admin_email, org) is None
    assert await account_of(db, email, org) is None


async def test_an_answer_or_code_used_twice_is_refused(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    assert stack.zoom is not None
    host = new_zoom_user(stack.zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    back = sign_in_at_zoom(browser, start_connect(browser), host.id)
    assert browser.follow(back).status_code == 303
    again = browser.follow(back)
    assert again.status_code == 400 and "already used" in again.text

    # Zoom's code is single use too: a fresh state with the old code is refused by Zoom.
    old_code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    fresh = parse_qs(urlsplit(start_connect(browser)).query)["state"][0]
    replay = browser.http.get(PAGE + "/zoom/callback", params={"code": old_code, "state": fresh})
    assert replay.status_code == 400 and "Zoom did not accept this sign-in" in replay.text
    row = await account_of(db, org.admin_email, org)
    assert row is not None and row.status == "active"


def test_cancelling_at_zoom_changes_nothing(stack: Stack, make_org: Any) -> None:
    org = make_org()
    assert stack.zoom is not None
    host = new_zoom_user(stack.zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    back = sign_in_at_zoom(browser, start_connect(browser), host.id, action="cancel")
    assert "error=access_denied" in back.headers["location"]
    answer = browser.follow(back)
    assert answer.status_code == 400
    assert "You cancelled connecting Zoom, so nothing changed." in answer.text
    assert "Not connected" in answer.text


async def test_one_zoom_login_links_one_hiring_account_across_organizations(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    first, second = make_org(), make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom, FABRIKAM_ACCOUNT_ID)
    a = logged_in(stack, first.admin_email, first.password)
    assert connect_zoom(a, host.id).status_code == 303
    held = await account_of(db, first.admin_email, first)
    assert held is not None
    token = await meeting_accounts.token_getter(runtime, held.id)(False)

    b = logged_in(stack, second.admin_email, second.password)
    refused = connect_zoom(b, host.id)
    assert refused.status_code == 409
    text = refused.text
    assert (
        f"already connected to another hiring account: {first.admin_email} in Org {first.slug}"
        in text
    )
    assert "click Disconnect, then connect Zoom again" in text
    assert await account_of(db, second.admin_email, second) is None
    # The first link is untouched: same row, same token, still accepted by Zoom.
    still = await account_of(db, first.admin_email, first)
    assert still is not None and still.status == "active" and still.id == held.id
    assert await meeting_accounts.token_getter(runtime, held.id)(False) == token
    assert not isinstance(zoom.token_owner(token), str)

    # Moving the link: disconnect it there first, then it connects here.
    assert a.post_form(PAGE + "/zoom/disconnect", page=PAGE, confirm="yes").status_code == 303
    assert connect_zoom(b, host.id).status_code == 303
    moved = await account_of(db, second.admin_email, second)
    assert moved is not None and moved.status == "active" and moved.external_user_id == host.id


# -- disconnect -------------------------------------------------------------------------------


async def interview_with_link(db: Database, org: Org, join_url: str, meeting_id: str) -> uuid.UUID:
    async with db.transaction() as session:
        candidate = Candidate(
            organization_id=org.id,
            name="Casey",
            email="casey@example.org",
            email_key="casey@example.org",
        )
        session.add(candidate)
        await session.flush()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        interview = Interview(
            organization_id=org.id,
            title="Zoom interview",
            candidate_id=candidate.id,
            organizer_mailbox=org.admin_email,
            start=start,
            end=start + timedelta(hours=1),
            time_zone="UTC",
            meeting_type="custom_link",
            meeting_url=join_url,
            meeting_id=meeting_id,
            status="confirmed",
        )
        session.add(interview)
        await session.flush()
        return interview.id


async def test_disconnect_revokes_at_zoom_and_keeps_interview_links(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom, FABRIKAM_ACCOUNT_ID)
    browser = logged_in(stack, org.admin_email, org.password)
    assert connect_zoom(browser, host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    made = await (
        runtime.meeting_accounts["zoom"]
        .meetings(meeting_accounts.token_getter(runtime, row.id))
        .create(
            MeetingRequest(
                f"hs-{uuid.uuid4()}", "Interview", start, start + timedelta(hours=1), "UTC"
            )
        )
    )
    interview_id = await interview_with_link(db, org, made.join_url, made.meeting_id)

    unconfirmed = browser.post_form(PAGE + "/zoom/disconnect", page=PAGE)
    assert unconfirmed.status_code == 303 and "Connected as" in page_text(browser)
    done = browser.post_form(PAGE + "/zoom/disconnect", page=PAGE, confirm="yes")
    assert done.status_code == 303
    shown = page_text(browser)
    assert "hiresync's access is revoked" in shown
    assert "Meeting links already created for upcoming interviews stay as they are." in shown
    assert "Not connected" in shown

    gone = await account_of(db, org.admin_email, org)
    assert gone is not None and gone.status == "disconnected"
    assert gone.access_sealed is None and gone.refresh_sealed is None and gone.email is None
    assert zoom.active_grant(host.id, zoom.demo_client_id) is None  # revoked at Zoom
    assert int(made.meeting_id) in zoom.meetings  # the meeting itself lives on
    async with db.sessions() as session:
        interview = await session.get(Interview, interview_id)
    assert interview is not None and interview.meeting_url == made.join_url
    zoom.deliver_webhooks(force=True)  # the app_deauthorized revoking caused: harmless now


class RevokeFails:
    """Zoom's revoke endpoint down; everything else as usual."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def revoke(self, access_token: str) -> None:
        raise ProviderUnavailable("Zoom's sign-in service is unavailable (503).", provider="zoom")


async def test_a_failed_revocation_still_disconnects_and_says_so(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    assert stack.zoom is not None
    host = new_zoom_user(stack.zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    assert connect_zoom(browser, host.id).status_code == 303
    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, org.admin_email)  # type: ignore[arg-type]
    assert user is not None
    runtime.meeting_accounts["zoom"] = RevokeFails(runtime.meeting_accounts["zoom"])  # type: ignore[assignment]
    try:
        outcome = await meeting_accounts.disconnect(runtime, user)
    finally:
        runtime.meeting_accounts["zoom"] = runtime.meeting_accounts["zoom"].inner  # type: ignore[attr-defined]
    assert outcome.revoked is False
    assert "Disconnected here, but Zoom did not confirm" in outcome.message
    assert "Added Apps" in outcome.message
    row = await account_of(db, org.admin_email, org)
    assert row is not None and row.status == "disconnected" and row.access_sealed is None
    assert "Not connected" in page_text(browser)
    # Still authorized at Zoom, as the message warns; tidy up for the tests after.
    stack.zoom.deauthorize(host)
    stack.zoom.deliver_webhooks(force=True)


# -- tokens -----------------------------------------------------------------------------------


async def test_two_workers_refreshing_at_once_never_lose_the_rotated_token(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    assert connect_zoom(logged_in(stack, org.admin_email, org.password), host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None
    workers = [meeting_accounts.token_getter(runtime, row.id) for _ in range(2)]
    first = {await get(False) for get in workers}
    assert len(first) == 1

    refreshed = zoom.stats.oauth["refreshed"]
    # Both were refused the same token by Zoom and force a refresh at the same moment.
    a, b = await asyncio.gather(*(get(True) for get in workers))
    assert a == b and a not in first
    assert zoom.stats.oauth["refreshed"] == refreshed + 1  # the second used the first's

    # Near expiry, five workers at once: still one refresh.
    async with db.transaction() as session:
        await session.execute(
            update(MeetingAccount)
            .where(MeetingAccount.id == row.id)
            .values(access_expires_at=datetime.now(UTC))
        )
    many = [meeting_accounts.token_getter(runtime, row.id) for _ in range(5)]
    tokens = await asyncio.gather(*(get(False) for get in many))
    assert len(set(tokens)) == 1 and tokens[0] != a
    assert zoom.stats.oauth["refreshed"] == refreshed + 2

    # The refresh token stored last is the live one: Zoom killed every earlier one, so a
    # lost rotation would show here as a refusal.
    again = await meeting_accounts.token_getter(runtime, row.id)(True)
    owner = zoom.token_owner(again)
    assert not isinstance(owner, str) and owner[1].id == host.id
    after = await account_of(db, org.admin_email, org)
    assert after is not None and after.status == "active"


async def test_a_revoked_grant_asks_the_user_to_reconnect(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    browser = logged_in(stack, org.admin_email, org.password)
    assert connect_zoom(browser, host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None
    zoom.deauthorize(host)  # removed in Zoom; its webhook is not delivered yet

    with pytest.raises(AuthRevoked):
        await meeting_accounts.token_getter(runtime, row.id)(True)
    broken = await account_of(db, org.admin_email, org)
    assert broken is not None and broken.status == "reconnect_needed"
    assert broken.access_sealed is None and "Zoom no longer accepts" in (broken.last_error or "")
    async with db.sessions() as session:
        notes = list(
            await session.scalars(select(Notification).where(Notification.user_id == row.user_id))
        )
    assert [n.title for n in notes] == ["Reconnect Zoom"]
    shown = page_text(browser)
    assert "Reconnect needed" in shown and "Zoom no longer accepts" in shown
    assert "Reconnect Zoom" in shown
    # Any later caller is told at once, without another refresh attempt.
    with pytest.raises(AuthRevoked):
        await meeting_accounts.token_getter(runtime, row.id)(False)

    assert connect_zoom(browser, host.id).status_code == 303
    # Zoom's app_deauthorized for the old grant arrives late: the new link stays.
    zoom.deliver_webhooks(force=True)
    back = await account_of(db, org.admin_email, org)
    assert back is not None and back.id == row.id and back.status == "active"
    assert re.search(r"Connected as <strong>[^<]+</strong>", page_text(browser))


def test_connect_link_is_only_offered_to_a_logged_in_user(stack: Stack) -> None:
    answer = httpx.get(
        f"{stack.url}{PAGE}/zoom/callback?" + urlencode({"code": "x", "state": "y"}),
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


async def test_key_rotation_reseals_zoom_tokens_so_the_new_key_alone_opens_them(
    stack: Stack, make_org: Any, db: Database, runtime: Runtime
) -> None:
    """``hiresync rotate-key``: a Zoom connection survives retiring the old key, instead of
    turning into "reconnect needed" because its tokens can no longer be read."""
    org = make_org()
    zoom = stack.zoom
    assert zoom is not None
    host = new_zoom_user(zoom)
    assert connect_zoom(logged_in(stack, org.admin_email, org.password), host.id).status_code == 303
    row = await account_of(db, org.admin_email, org)
    assert row is not None
    before = await meeting_accounts.token_getter(runtime, row.id)(False)
    refreshed = zoom.stats.oauth["refreshed"]
    old = runtime.keyring
    rotated = old.with_new_active_key()
    runtime.keyring = rotated
    try:
        assert await secrets_rotation.reseal_all(runtime) >= 1
        resealed = await account_of(db, org.admin_email, org)
        assert resealed is not None and resealed.key_id == rotated.active
        runtime.keyring = Keyring(rotated.active, {rotated.active: rotated.keys[rotated.active]})
        assert await meeting_accounts.token_getter(runtime, row.id)(False) == before
        assert zoom.stats.oauth["refreshed"] == refreshed, "read, not refreshed"
    finally:  # back under the key the running server holds
        runtime.keyring = Keyring(old.active, dict(rotated.keys))
        await secrets_rotation.reseal_all(runtime)
