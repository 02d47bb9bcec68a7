"""Interviews kept in a dedicated Outlook calendar hiresync creates in the person's mailbox,
named after the hiring platform (issue #6): the organization's placement is "dedicated", so
starting Outlook sync creates (or re-uses) that calendar and keeps it two-way, while the
default calendar is read only, its meetings counted in availability. Stopping removes
hiresync's events and the calendar once empty; the calendar deleted in Outlook disables its
sync and tells the owner.

Starting goes through ``calendar_settings.start_outlook``, so the stack's worker runs the
first syncs and subscriptions as it does for a person on the page."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import calendar_settings, team
from hiresync.services.passwords import hash_password
from hiresync.store.db import Database
from hiresync.store.tables import CalendarAccount, Notification, SyncedCalendar, User
from tests.conftest import Stack
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for
from tests.integration.test_calendar_sync_microsoft import (
    SOON,
    Outlook,
    add_local,
    at,
    by_summary,
    notifications_of,
    row_of,
    sync,
    until,
    until_held,
)

PEOPLE = ("once", "stops", "deleted", "chooser", "organizer", "panel")


@pytest.fixture(scope="module")
def placed(stack: Stack, make_org_module: Any) -> Any:
    """A connected org that puts interviews in a dedicated calendar named after its
    platform, with mailboxes in the sandbox's Contoso matched to its team."""
    tag = secrets.token_hex(3)
    mails = {name: f"{name}.ded{tag}@contoso.com" for name in PEOPLE}
    for name, mail in mails.items():
        stack.sandbox.add_user(
            CONTOSO_ID, display_name=f"{name.title()} Ded{tag}", mail=mail, time_zone="UTC"
        )
    org = make_org_module([(name.title(), mail) for name, mail in mails.items()])
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = lambda: len(org.api.get("/v1/directory/matches").json()["matched"])  # noqa: E731
    assert wait_for(lambda: matched() >= len(PEOPLE)), job_report(stack.database_uri)
    org.platform = f"Acme Recruit {tag}"
    answer = org.api.patch(
        "/v1/interview-settings",
        json={"calendar_placement": "dedicated", "dedicated_calendar_name": org.platform},
    )
    assert answer.status_code == 200, answer.text
    org.mails = mails
    return org


async def person(db: Database, org: Any, name: str) -> User:
    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, org.mails[name])
        assert user is not None
        return user


async def start(runtime: Runtime, db: Database, org: Any, name: str) -> dict[str, SyncedCalendar]:
    """The person starts Outlook sync (as on Settings › My calendar); their calendars by role."""
    user = await person(db, org, name)
    async with db.transaction() as session:
        account = await calendar_settings.start_outlook(runtime, session, user)
    return await calendars_of(db, account.id)


async def calendars_of(db: Database, account_id: uuid.UUID) -> dict[str, SyncedCalendar]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(SyncedCalendar).where(SyncedCalendar.account_id == account_id)
        )
        return {r.role: r for r in rows}


def named(outlook: Outlook, name: str) -> list[Any]:
    """The mailbox's calendars of that name (as Outlook shows them)."""
    return [c for c in outlook.user.calendars if c.name == name]


async def settled(db: Database, calendars: dict[str, SyncedCalendar]) -> None:
    """Each calendar's first sync ran and its subscription stands (the worker's jobs)."""
    for calendar in calendars.values():
        await until(db, calendar.id, lambda r: r.last_synced_at is not None and r.subscription_id)


async def eventually(check: Any, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.1)


async def test_the_dedicated_calendar_is_made_once_and_both_calendars_flow(
    stack: Stack, placed: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, placed.mails["once"])
    own = outlook.create("Their own meeting", SOON, SOON + timedelta(hours=1))
    calendars = await start(runtime, db, placed, "once")
    assert set(calendars) == {"dedicated", "external"}
    dedicated, default = calendars["dedicated"], calendars["external"]
    assert (dedicated.direction, default.direction) == ("both", "pull")
    (made,) = named(outlook, placed.platform)
    assert dedicated.remote_id == made.id and dedicated.name == placed.platform
    assert default.remote_id != made.id, "the default calendar is read beside it"
    again = await start(runtime, db, placed, "once")
    assert {r.id for r in again.values()} == {dedicated.id, default.id}, "starting twice: one"
    assert len(named(outlook, placed.platform)) == 1, "never a second calendar"
    await settled(db, calendars)
    subs = {s.id: s for s in stack.sandbox.list_subscriptions(CONTOSO_ID)}
    for calendar in calendars.values():
        resource = subs[(await row_of(db, calendar.id)).subscription_id].resource
        assert resource.endswith(f"/calendars/{calendar.remote_id}/events"), resource

    # The person's own meeting is read from the default calendar, read-only, and is busy.
    shown = await by_summary(db, default.id)
    assert shown["Their own meeting"].remote_ident == own.id and shown["Their own meeting"].busy
    user = await person(db, placed, "once")
    window = {"start": SOON.isoformat(), "end": (SOON + timedelta(hours=3)).isoformat()}
    busy = placed.api.post("/v1/free-busy", json={"people": [{"user_id": str(user.id)}], **window})
    assert busy.status_code == 200, busy.text
    blocks = busy.json()["people"][0]["busy"]
    assert any(b["start"].startswith(SOON.strftime("%Y-%m-%dT%H:%M")) for b in blocks), blocks

    # An event made through the API goes to the dedicated calendar, not the default one.
    start_at = SOON + timedelta(days=1)
    body = {"summary": "Interview: Ana", "start": start_at.isoformat()}
    body["end"] = (start_at + timedelta(hours=1)).isoformat()
    posted = placed.api.post(f"/v1/users/{user.id}/events", json=body)
    assert posted.status_code == 201, posted.text

    async def landed() -> Any:
        return [e for e in made.events if e.subject == "Interview: Ana"]

    (interview,) = await eventually(landed)
    assert "Interview: Ana" not in outlook.subjects(), "not in the default calendar"

    # Edited there by the person, the change comes back through the notification.
    outlook.update(interview.id, subject="Interview: Ana (room 4)")
    await until_held(db, dedicated.id, "Interview: Ana (room 4)")
    assert "updated" in await notifications_of(db, dedicated.id)
    outlook.sandbox.create_event_as_user(
        CONTOSO_ID,
        placed.mails["once"],
        {"subject": "Blocked by hand", "start": at(start_at), "end": at(start_at)}
        | {"end": at(start_at + timedelta(minutes=30))},
        calendar=made.id,
    )
    await until_held(db, dedicated.id, "Blocked by hand")
    assert "Blocked by hand" not in await by_summary(db, default.id)
    outlook.create("Moved in Outlook", SOON + timedelta(hours=4), SOON + timedelta(hours=5))
    await until_held(db, default.id, "Moved in Outlook")
    assert "Moved in Outlook" not in await by_summary(db, dedicated.id)


async def test_stopping_removes_ours_and_the_empty_calendar_and_keeps_one_with_theirs(
    stack: Stack, placed: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, placed.mails["stops"])
    user = await person(db, placed, "stops")
    calendars = await start(runtime, db, placed, "stops")
    await settled(db, calendars)
    dedicated = calendars["dedicated"]
    await add_local(db, dedicated, "int-1@hiresync", "Interview: Bo", SOON + timedelta(days=2))
    await sync(runtime, dedicated.id)
    (made,) = named(outlook, placed.platform)
    assert [e.subject for e in made.events] == ["Interview: Bo"]

    outcome = await calendar_settings.stop(runtime, user, dedicated.account_id)
    assert outcome.complete and outcome.removed == 1, outcome.message
    assert outcome.calendars_deleted == [placed.platform], outcome.message
    assert named(outlook, placed.platform) == [], "the empty calendar is gone"
    assert "Interview: Bo" in await by_summary(db, dedicated.id), "hiresync keeps it"

    # Started again: a new calendar (one); the person's own event in it keeps it at the stop,
    # and the next start re-uses it rather than make a second.
    calendars = await start(runtime, db, placed, "stops")
    await settled(db, calendars)
    (second,) = named(outlook, placed.platform)
    assert calendars["dedicated"].remote_id == second.id != made.id
    outlook.sandbox.create_event_as_user(
        CONTOSO_ID,
        placed.mails["stops"],
        {"subject": "Mine", "start": at(SOON), "end": at(SOON + timedelta(hours=1))},
        calendar=second.id,
    )
    outcome = await calendar_settings.stop(runtime, user, calendars["dedicated"].account_id)
    assert outcome.calendars_deleted == [] and "is kept" in outcome.message, outcome.message
    third = await start(runtime, db, placed, "stops")
    assert third["dedicated"].remote_id == second.id, "re-used by name"
    assert len(named(outlook, placed.platform)) == 1


async def test_the_dedicated_calendar_deleted_in_outlook_disables_its_sync_and_says_so(
    stack: Stack, placed: Any, runtime: Runtime, db: Database
) -> None:
    sandbox = stack.sandbox
    outlook = Outlook(stack, placed.mails["deleted"])
    calendars = await start(runtime, db, placed, "deleted")
    await settled(db, calendars)
    dedicated, default = calendars["dedicated"], calendars["external"]
    subscribed = (await row_of(db, dedicated.id)).subscription_id

    sandbox.delete_calendar_as_user(CONTOSO_ID, placed.mails["deleted"], placed.platform)
    # Graph ends the subscription (subscriptionRemoved): no new one can stand, so a sync runs,
    # meets the 404 and disables the calendar.
    await until(db, dedicated.id, lambda r: r.state == "disabled")
    row = await row_of(db, dedicated.id)
    assert "was deleted in your account" in (row.disabled_reason or "")
    assert row.last_error
    assert "subscriptionRemoved" in await notifications_of(db, dedicated.id)
    async with db.sessions() as session:
        told = list(
            await session.scalars(
                select(Notification.title).where(
                    Notification.user_id == dedicated.user_id,
                    Notification.kind == "calendar_disabled",
                )
            )
        )
    assert told == [f"Synchronization of {placed.platform!r} is disabled"]
    made = sandbox.stats.by_route["createSubscription"]
    await asyncio.sleep(1.5)
    assert sandbox.stats.by_route["createSubscription"] == made, "no subscription loop"
    assert subscribed not in {s.id for s in sandbox.list_subscriptions(CONTOSO_ID)}

    # The default calendar goes on; a direct run of the dedicated one crashes nothing.
    outlook.create("Still read", SOON, SOON + timedelta(hours=1))
    await until_held(db, default.id, "Still read")
    assert (await row_of(db, default.id)).state == "ready"
    user = await person(db, placed, "deleted")
    async with db.sessions() as session:
        account = await session.get(CalendarAccount, dedicated.account_id)
        assert account is not None and account.status == "active"
        status = await calendar_settings.status_for(session, user)
    (shown,) = status.accounts
    assert shown.state == "attention"
    gone = next(c for c in shown.calendars if c.role == "dedicated")
    assert gone.problem is not None and gone.problem.action == "restart"


async def test_signing_in_with_microsoft_places_interviews_in_the_dedicated_calendar_too(
    stack: Stack, make_org: Any, runtime: Runtime, db: Database
) -> None:
    """The same rule for a person's own "Sign in with Microsoft" (delegated tokens): the
    calendar is made with their token, once, even when they sign in again."""
    from tests.integration.test_calendar_sync_microsoft_personal import (
        accounts_of,
        logged_in,
        new_mailbox,
        sign_in,
    )

    org, mail = make_org(), new_mailbox(stack, "dedsigns")
    name = f"Acme Recruit {secrets.token_hex(2)}"
    answer = org.api.patch(
        "/v1/interview-settings",
        json={"calendar_placement": "dedicated", "dedicated_calendar_name": name},
    )
    assert answer.status_code == 200, answer.text
    outlook = Outlook(stack, mail)
    outlook.create("Their standup", SOON, SOON + timedelta(minutes=15))
    for _ in range(2):  # signing in again (a reconnect) makes nothing new
        browser = logged_in(stack, org)
        try:
            assert sign_in(browser, mail).status_code == 303
        finally:
            browser.close()
    (account,) = await accounts_of(db, org)
    assert account.scope == "personal"
    calendars = await calendars_of(db, account.id)
    assert set(calendars) == {"dedicated", "external"}
    (made,) = named(outlook, name)
    assert calendars["dedicated"].remote_id == made.id
    await settled(db, calendars)
    assert "Their standup" in await by_summary(db, calendars["external"].id)

    await add_local(db, calendars["dedicated"], "int-9@hiresync", "Interview: Cy", SOON)
    await sync(runtime, calendars["dedicated"].id)
    assert [e.subject for e in made.events] == ["Interview: Cy"]
    async with db.sessions() as session:
        user = await session.get(User, account.user_id)
    assert user is not None
    outcome = await calendar_settings.stop(runtime, user, account.id)
    assert outcome.complete and outcome.calendars_deleted == [name], outcome.message
    assert named(outlook, name) == [] and outlook.subjects() == ["Their standup"]


async def test_a_person_left_to_choose_picks_the_dedicated_calendar_on_the_page(
    stack: Stack, placed: Any, db: Database
) -> None:
    """When the organization leaves it to each person, the Outlook card asks where; the
    choice made there is what the sync sets up."""
    mail = placed.mails["chooser"]
    async with db.transaction() as session:
        chooser = await team.find_by_email(session, placed.id, mail)
        assert chooser is not None
        chooser.password_hash = hash_password("chooser-password-1")
    rule = {"calendar_placement": "person"}
    assert placed.api.patch("/v1/interview-settings", json=rule).status_code == 200
    browser = Browser(stack.url)
    try:
        assert browser.login(mail, "chooser-password-1").status_code == 303
        page = browser.http.get("/settings/my-calendar").text
        assert f"“{placed.platform}”, that hiresync creates in Outlook" in page
        started = browser.post_form(
            "/settings/my-calendar/start-outlook",
            page="/settings/my-calendar",
            placement="dedicated",
        )
        assert started.status_code == 303, started.text
    finally:
        browser.close()
        rule = {"calendar_placement": "dedicated"}
        assert placed.api.patch("/v1/interview-settings", json=rule).status_code == 200
    async with db.sessions() as session:
        chooser = await team.find_by_email(session, placed.id, mail)
        assert chooser is not None
        account = await session.scalar(
            select(CalendarAccount).where(CalendarAccount.user_id == chooser.id)
        )
    assert account is not None
    calendars = await calendars_of(db, account.id)
    assert set(calendars) == {"dedicated", "external"}
    assert calendars["dedicated"].name == placed.platform


async def test_an_interview_goes_into_the_organizers_dedicated_calendar_and_follows(
    stack: Stack, placed: Any, runtime: Runtime, db: Database
) -> None:
    """Seed 002: interviews are "seen in the hiring platform's calendar and not the other
    calendars". The organizer's event is written into their dedicated calendar (the
    meeting requests still reach the interviewers' own calendars, as Exchange does), and
    the reschedule and the cancellation reach it there."""
    calendars = await start(runtime, db, placed, "organizer")
    await settled(db, calendars)
    organizer = Outlook(stack, placed.mails["organizer"])
    (dedicated,) = named(organizer, placed.platform)
    title = f"Panel {secrets.token_hex(3)}"
    start_at = SOON + timedelta(days=4)
    made = placed.api.post(
        "/v1/interviews",
        json={
            "title": title,
            "candidate": {"name": "Alex Candidate", "email": "alex.c@example.org"},
            "interviewers": [{"email": placed.mails["panel"]}],
            "organizer": {"email": placed.mails["organizer"]},
            "start": start_at.isoformat(),
            "end": (start_at + timedelta(hours=1)).isoformat(),
            "time_zone": "UTC",
            "meeting": {"type": "custom_link", "url": "https://meet.example.com/x"},
            "confirm": True,
        },
    )
    assert made.status_code == 201, made.text
    interview_id = made.json()["id"]

    async def in_dedicated() -> Any:
        return [e for e in dedicated.events if e.subject == title and not e.is_cancelled]

    (event,) = await eventually(in_dedicated)
    assert event.start == start_at
    assert placed.mails["panel"] in [a.address for a in event.attendees]
    assert not [e for e in organizer.user.events if e.subject == title], "not the default one"
    panel = Outlook(stack, placed.mails["panel"])
    assert [e for e in panel.user.events if e.subject == title], "the request reached Panel"

    later = start_at + timedelta(hours=3)
    moved = placed.api.post(
        f"/v1/interviews/{interview_id}/reschedule",
        json={"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()},
    )
    assert moved.status_code == 200, moved.text

    async def moved_there() -> bool:
        return any(e.start == later for e in await in_dedicated())

    await eventually(moved_there)
    assert len(await in_dedicated()) == 1, "the same event, moved"
    assert placed.api.post(f"/v1/interviews/{interview_id}/cancel", json={}).status_code == 200

    async def gone() -> bool:
        return not await in_dedicated()

    await eventually(gone)
