"""A person's Outlook calendar (Microsoft 365 sandbox, company connection) kept in step with
hiresync's copy, with Graph change notifications (issue #6, seeds 002/003: changes flow both
ways, nothing lost, nothing doubled, push with a safety net).

Each test takes a mailbox of its own from the module's team. Syncs are run directly, except
where a notification is what triggers one: there the server's worker runs it."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update

from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft.model import Override
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import calendar_subscriptions, calendar_sync, microsoft_calendars, team
from hiresync.services.errors import InvalidInput
from hiresync.store.db import Database
from hiresync.store.tables import (
    CalendarItem,
    CalendarNotification,
    SyncedCalendar,
)
from tests.conftest import Stack
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for

PEOPLE = (
    "moves",
    "ours",
    "series",
    "allday",
    "answers",
    "expired",
    "push",
    "forged",
    "lifecycle",
    "silent",
    "stops",
)
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def people(stack: Stack, make_org_module: Any) -> Any:
    """Mailboxes in the sandbox's Contoso, matched to team members of a connected org."""
    tag = secrets.token_hex(3)
    mails = {name: f"{name}.{tag}@contoso.com" for name in PEOPLE}
    for name, mail in mails.items():
        stack.sandbox.add_user(
            CONTOSO_ID, display_name=f"{name.title()} {tag}", mail=mail, time_zone="Europe/Berlin"
        )
    org = make_org_module([(name.title(), mail) for name, mail in mails.items()])
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = lambda: len(org.api.get("/v1/directory/matches").json()["matched"])  # noqa: E731
    assert wait_for(lambda: matched() >= len(PEOPLE)), job_report(stack.database_uri)
    org.mails = mails
    return org


class Outlook:
    """The person's mailbox, edited as they would in Outlook (not through Graph)."""

    def __init__(self, stack: Stack, mail: str) -> None:
        self.sandbox, self.mail = stack.sandbox, mail

    @property
    def user(self) -> Any:
        return self.sandbox.find_mailbox(CONTOSO_ID, self.mail)

    def create(self, subject: str, start: datetime, end: datetime, **body: Any) -> Any:
        zone = body.pop("zone", "UTC")
        event = {"subject": subject, "start": at(start, zone), "end": at(end, zone), **body}
        return self.sandbox.create_event_as_user(CONTOSO_ID, self.mail, event)

    def update(self, event_id: str, **changes: Any) -> Any:
        return self.sandbox.update_event_as_user(CONTOSO_ID, self.mail, event_id, changes)

    def delete(self, event_id: str) -> None:
        self.sandbox.delete_event_as_user(CONTOSO_ID, self.mail, event_id)

    def subjects(self) -> list[str]:
        return sorted(e.subject for e in self.user.events)


def at(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": zone}


async def start(runtime: Runtime, db: Database, org: Any, name: str) -> SyncedCalendar:
    """The person starts synchronization with their Outlook calendar."""
    async with db.transaction() as session:
        user = await team.find_by_email(session, org.id, org.mails[name])
        assert user is not None
        return await microsoft_calendars.start_company_sync(runtime, session, user)


async def copy(db: Database, calendar_id: uuid.UUID) -> dict[str, CalendarItem]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
        )
        return {r.uid: r for r in rows}


async def by_summary(db: Database, calendar_id: uuid.UUID) -> dict[str, CalendarItem]:
    return {r.summary: r for r in (await copy(db, calendar_id)).values() if not r.deleted}


async def sync(runtime: Runtime, calendar_id: uuid.UUID) -> calendar_sync.SyncReport:
    report = await calendar_sync.sync_calendar(runtime, calendar_id)
    assert report is not None and report.outcome == "synced", report
    assert not report.failed, report.failed
    return report


async def add_local(
    db: Database, calendar: SyncedCalendar, uid: str, summary: str, start: datetime, **extra: Any
) -> None:
    """An event made in hiresync (one by one, or an interview) for the person's calendar."""
    fields = {"ends_at": start + timedelta(hours=1), "time_zone": "Europe/Berlin", **extra}
    async with db.transaction() as session:
        session.add(
            CalendarItem(
                organization_id=calendar.organization_id,
                calendar_id=calendar.id,
                uid=uid,
                digest=secrets.token_hex(8),
                origin="hiresync",
                summary=summary,
                starts_at=start,
                data={"location": "Room 1"},
                **fields,
            )
        )


async def edit_local(db: Database, calendar_id: uuid.UUID, uid: str, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(CalendarItem)
            .where(CalendarItem.calendar_id == calendar_id, CalendarItem.uid == uid)
            .values(version=CalendarItem.version + 1, digest=secrets.token_hex(8), **values)
        )


# -- both ways ------------------------------------------------------------------------------


async def test_outlook_changes_come_in_create_move_delete(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["moves"])
    synced = await start(runtime, db, people, "moves")
    standup = outlook.create("Standup", SOON, SOON + timedelta(minutes=15))
    review = outlook.create("Design review", SOON + timedelta(hours=2), SOON + timedelta(hours=3))

    first = await sync(runtime, synced.id)
    assert first.full and first.read == 2
    held = await by_summary(db, synced.id)
    assert set(held) == {"Standup", "Design review"}
    assert held["Standup"].starts_at == SOON and held["Standup"].owned
    assert held["Standup"].ends_at == SOON + timedelta(minutes=15)
    assert held["Standup"].remote_ident == standup.id and held["Standup"].origin == "remote"

    moved = SOON + timedelta(hours=5)
    outlook.update(review.id, start=at(moved), end=at(moved + timedelta(hours=1)))
    outlook.delete(standup.id)
    outlook.create("Lunch", SOON + timedelta(days=1), SOON + timedelta(days=1, hours=1))
    second = await sync(runtime, synced.id)
    assert not second.full, "an incremental read"
    held = await by_summary(db, synced.id)
    assert set(held) == {"Design review", "Lunch"}
    assert held["Design review"].starts_at == moved

    again = await sync(runtime, synced.id)
    assert again.applied == 0 and again.read == 0, "nothing changed, nothing done"
    row = await row_of(db, synced.id)
    assert row.state == "ready" and row.last_synced_at is not None and row.role == "primary"
    assert (await start(runtime, db, people, "moves")).id == synced.id, "starting twice: one"


async def test_someone_without_a_mailbox_is_told_so(
    people: Any, runtime: Runtime, db: Database
) -> None:
    async with db.transaction() as session:
        admin = await team.find_by_email(session, people.id, people.admin_email)
        assert admin is not None
        with pytest.raises(InvalidInput, match="no mailbox in the connected"):
            await microsoft_calendars.start_company_sync(runtime, session, admin)


async def test_hiresync_events_go_out_once_then_move_and_go(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["ours"])
    synced = await start(runtime, db, people, "ours")
    outlook.create("Their own meeting", SOON, SOON + timedelta(hours=1))
    await sync(runtime, synced.id)

    await add_local(db, synced, "interview-1@hiresync", "Interview: Alex", SOON + timedelta(days=1))
    out = await sync(runtime, synced.id)
    assert out.applied >= 1
    assert outlook.subjects() == ["Interview: Alex", "Their own meeting"]
    ours = next(e for e in outlook.user.events if e.subject == "Interview: Alex")
    assert ours.start.astimezone(UTC) == SOON + timedelta(days=1) and ours.location == "Room 1"
    assert ours.time_zone == "Europe/Berlin", "written in the person's zone"
    await sync(runtime, synced.id)  # reads our event back: at most its status is recorded
    quiet = await sync(runtime, synced.id)
    assert quiet.applied == 0, "our own event read back is recognised, not copied again"
    assert len(await copy(db, synced.id)) == 2

    async with db.transaction() as session:
        await session.execute(
            update(CalendarItem)
            .where(CalendarItem.uid == "interview-1@hiresync")
            .values(deleted=True, version=CalendarItem.version + 1)
        )
    await sync(runtime, synced.id)
    assert outlook.subjects() == ["Their own meeting"]
    assert set(await by_summary(db, synced.id)) == {"Their own meeting"}

    # Made in hiresync, deleted in Outlook: gone from the copy too.
    await add_local(db, synced, "interview-2@hiresync", "Interview: Sam", SOON + timedelta(days=4))
    await sync(runtime, synced.id)
    (sam,) = [e for e in outlook.user.events if e.subject == "Interview: Sam"]
    outlook.delete(sam.id)
    await sync(runtime, synced.id)
    assert set(await by_summary(db, synced.id)) == {"Their own meeting"}


async def test_an_event_moved_in_hiresync_moves_in_outlook(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["ours"])
    synced = await start(runtime, db, people, "ours")
    await add_local(db, synced, "interview-9@hiresync", "Interview: Kim", SOON + timedelta(days=6))
    await sync(runtime, synced.id)
    later = SOON + timedelta(days=8)
    await edit_local(
        db, synced.id, "interview-9@hiresync", starts_at=later, ends_at=later + timedelta(hours=1)
    )
    await sync(runtime, synced.id)
    (kim,) = [e for e in outlook.user.events if e.subject == "Interview: Kim"]
    assert kim.start.astimezone(UTC) == later


# -- what Outlook calendars hold ----------------------------------------------------------------


def next_dst_change(after: datetime) -> date:
    """The first day after ``after`` on which Berlin's offset changes."""
    day = after.astimezone(BERLIN).date()
    noon = lambda d: datetime.combine(d, time(12), BERLIN).utcoffset()  # noqa: E731
    while noon(day + timedelta(days=1)) == noon(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


async def test_a_series_with_an_exception_across_dst_comes_in_as_instances(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["series"])
    synced = await start(runtime, db, people, "series")
    change = next_dst_change(datetime.now(UTC) + timedelta(days=1))
    first = datetime.combine(change - timedelta(days=14), time(9), BERLIN)
    weekly = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A")]},
        "range": {
            "type": "numbered",
            "startDate": first.date().isoformat(),
            "numberOfOccurrences": 4,
        },
    }
    series = outlook.create(
        "Weekly 1:1", first, first + timedelta(minutes=30), zone="Europe/Berlin", recurrence=weekly
    )
    await sync(runtime, synced.id)
    held = await copy(db, synced.id)
    assert len(held) == 4, "one item per instance, none for the master"
    starts = sorted(r.starts_at.astimezone(BERLIN) for r in held.values())
    assert [s.time() for s in starts] == [time(9)] * 4, "09:00 in Berlin on both sides of DST"
    offsets = {s.utcoffset() for s in starts}
    assert len(offsets) == 2, "the series crosses a DST change"
    assert all(r.time_zone == "Europe/Berlin" and not r.recurring for r in held.values())
    assert all(uid.startswith(f"{series.ical_uid or ''}") for uid in held) and len(set(held)) == 4

    third = (first + timedelta(weeks=2)).date()
    moved = datetime.combine(third, time(15), BERLIN)
    outlook.sandbox.add_exception(
        outlook.user, series, third, Override(moved, moved + timedelta(hours=1), "1:1 (moved)")
    )
    await sync(runtime, synced.id)
    after = await copy(db, synced.id)
    assert set(after) == set(held), "the exception is the same instance, moved"
    exception = next(r for r in after.values() if r.summary == "1:1 (moved)")
    assert exception.starts_at == moved.astimezone(UTC)

    outlook.sandbox.add_exception(outlook.user, series, first.date(), None)  # one cancelled
    await sync(runtime, synced.id)
    assert len(await copy(db, synced.id)) == 3, "Graph says nothing; the series came whole"

    outlook.delete(series.id)
    await sync(runtime, synced.id)
    assert await copy(db, synced.id) == {}


async def test_all_day_multi_day_and_dst_crossing_events(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["allday"])
    synced = await start(runtime, db, people, "allday")
    day = (SOON + timedelta(days=2)).date()
    midnight = datetime.combine(day, time(0), BERLIN)
    outlook.create(
        "Offsite", midnight, midnight + timedelta(days=1), zone="Europe/Berlin", isAllDay=True
    )
    outlook.create(
        "Conference", midnight, midnight + timedelta(days=3), zone="Europe/Berlin", isAllDay=True
    )
    friday = datetime.combine(day, time(18), BERLIN)
    outlook.create("Hackathon", friday, friday + timedelta(days=2, hours=15), zone="Europe/Berlin")
    change = next_dst_change(datetime.now(UTC) + timedelta(days=1))
    night = datetime.combine(change, time(0, 30), BERLIN)
    night_end = datetime.combine(change, time(4, 30), BERLIN)
    outlook.create("Night shift", night, night_end, zone="Europe/Berlin")

    await sync(runtime, synced.id)
    held = await by_summary(db, synced.id)
    utc_day = datetime.combine(day, time(0), UTC)
    assert held["Offsite"].all_day and held["Offsite"].starts_at == utc_day
    assert held["Offsite"].ends_at == utc_day + timedelta(days=1)
    assert held["Conference"].ends_at == utc_day + timedelta(days=3)
    assert held["Hackathon"].ends_at - held["Hackathon"].starts_at == timedelta(days=2, hours=15)
    shift = held["Night shift"]
    assert shift.starts_at == night.astimezone(UTC) and shift.ends_at == night_end.astimezone(UTC)
    assert shift.ends_at - shift.starts_at != timedelta(hours=4), "an hour gained or lost"

    # An all-day event made in hiresync lands on the same date in Outlook.
    holiday = datetime.combine(day + timedelta(days=7), time(0), UTC)
    await add_local(
        db,
        synced,
        "holiday@hiresync",
        "Holiday",
        holiday,
        ends_at=holiday + timedelta(days=1),
        all_day=True,
    )
    await sync(runtime, synced.id)
    made = next(e for e in outlook.user.events if e.subject == "Holiday")
    assert made.is_all_day and made.start.date() == holiday.date()
    await sync(runtime, synced.id)  # read back once: Outlook's version becomes the copy's
    assert (await sync(runtime, synced.id)).applied == 0
    back = (await by_summary(db, synced.id))["Holiday"]
    assert back.all_day and back.starts_at == holiday


async def test_attendees_answers_come_in(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    outlook = Outlook(stack, people.mails["answers"])
    synced = await start(runtime, db, people, "answers")
    guests = [people.mails["moves"], "someone@fabrikam.example"]
    meeting = outlook.create(
        "Hiring sync",
        SOON,
        SOON + timedelta(hours=1),
        attendees=[{"emailAddress": {"address": a}, "type": "required"} for a in guests],
    )
    await sync(runtime, synced.id)
    row = (await by_summary(db, synced.id))["Hiring sync"]
    answers = {a["email"]: a["response"] for a in row.data["attendees"]}
    assert answers == {guests[0].lower(): "none", guests[1]: "none"}
    digest = row.digest

    outlook.sandbox.respond(CONTOSO_ID, meeting.id, guests[0], "accepted")
    outlook.sandbox.respond(CONTOSO_ID, meeting.id, guests[1], "declined")
    report = await sync(runtime, synced.id)
    assert report.applied == 1
    row = (await by_summary(db, synced.id))["Hiring sync"]
    answers = {a["email"]: a["response"] for a in row.data["attendees"]}
    assert answers == {guests[0].lower(): "accepted", guests[1]: "declined"}
    assert row.digest != digest


@pytest.mark.parametrize("reset", [False, True], ids=["syncStateNotFound", "resyncRequired"])
async def test_an_expired_delta_token_resyncs_without_doubling(
    stack: Stack, people: Any, runtime: Runtime, db: Database, reset: bool
) -> None:
    outlook = Outlook(stack, people.mails["expired"])
    synced = await start(runtime, db, people, "expired")
    before = len(await copy(db, synced.id))
    for n in range(3):
        outlook.create(
            f"Event {reset} {n}", SOON + timedelta(hours=n), SOON + timedelta(hours=n + 1)
        )
    await sync(runtime, synced.id)
    await add_local(db, synced, f"ours-{reset}@hiresync", f"Ours {reset}", SOON + timedelta(days=5))
    await sync(runtime, synced.id)
    stack.sandbox.expire_delta_tokens(CONTOSO_ID, people.mails["expired"], reset=reset)
    outlook.create(f"Event {reset} 3", SOON + timedelta(hours=5), SOON + timedelta(hours=6))
    report = await sync(runtime, synced.id)
    assert report.full, "a full resync"
    held = await copy(db, synced.id)
    assert len(held) == before + 5, "nothing doubled"
    assert len(outlook.user.events) == before + 5, "nothing doubled in Outlook either"
    assert (await sync(runtime, synced.id)).applied == 0


# -- push ----------------------------------------------------------------------------------------


async def notifications_of(db: Database, calendar_id: uuid.UUID) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CalendarNotification.kind)
            .where(CalendarNotification.calendar_id == calendar_id)
            .order_by(CalendarNotification.received_at)
        )
        return list(rows)


async def row_of(db: Database, calendar_id: uuid.UUID) -> SyncedCalendar:
    async with db.sessions() as session:
        row = await session.get(SyncedCalendar, calendar_id)
        assert row is not None
        return row


async def subscribed(runtime: Runtime, db: Database, people: Any, name: str) -> SyncedCalendar:
    """Synchronized, subscribed, and the sync the subscription queued has run."""
    synced = await start(runtime, db, people, name)
    await sync(runtime, synced.id)
    assert await calendar_subscriptions.subscribe(runtime, synced.id)
    row = await row_of(db, synced.id)
    await until(db, synced.id, lambda r: r.last_synced_at > row.last_synced_at)
    return await row_of(db, synced.id)


async def until(db: Database, calendar_id: uuid.UUID, check: Any, timeout: float = 20) -> None:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await row_of(db, calendar_id)
        if check(row):
            return
        assert asyncio.get_running_loop().time() < deadline, job_report(str(db.uri))
        await asyncio.sleep(0.1)


async def until_held(db: Database, calendar_id: uuid.UUID, summary: str) -> None:
    import asyncio

    for _ in range(200):
        if summary in await by_summary(db, calendar_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{summary!r} never came in\n{job_report(str(db.uri))}")


def post(stack: Stack, body: Any, path: str = calendar_subscriptions.NOTIFY_PATH) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(stack.url + path, content=content, timeout=10)


async def test_the_validation_handshake_echoes_the_token(stack: Stack) -> None:
    for path in (calendar_subscriptions.NOTIFY_PATH, calendar_subscriptions.LIFECYCLE_PATH):
        answer = httpx.post(
            stack.url + path, params={"validationToken": "Validation: Token 1/2"}, timeout=5
        )
        assert answer.status_code == 200 and answer.text == "Validation: Token 1/2"
        assert answer.headers["content-type"].startswith("text/plain")


async def test_a_notification_queues_a_sync_that_brings_the_change_in(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    synced = await subscribed(runtime, db, people, "push")
    (sub,) = [
        s for s in stack.sandbox.list_subscriptions(CONTOSO_ID) if s.id == synced.subscription_id
    ]
    assert sub.resource.endswith("/events") and sub.client_state
    assert synced.client_state_hash == calendar_subscriptions.state_hash(sub.client_state)
    assert sub.lifecycle_url and sub.lifecycle_url.endswith("/lifecycle")
    assert synced.subscription_expires_at > datetime.now(UTC) + timedelta(days=6)

    outlook = Outlook(stack, people.mails["push"])
    outlook.create("Pushed in", SOON, SOON + timedelta(hours=1))
    await until_held(db, synced.id, "Pushed in")
    assert "created" in await notifications_of(db, synced.id)

    await calendar_subscriptions.unsubscribe(runtime, synced.id)
    assert synced.subscription_id not in {s.id for s in stack.sandbox.list_subscriptions()}
    assert (await row_of(db, synced.id)).client_state_hash is None


async def test_forged_unknown_and_malformed_notifications_are_refused(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    synced = await subscribed(runtime, db, people, "forged")
    stored = len(await notifications_of(db, synced.id))
    item = {
        "subscriptionId": synced.subscription_id,
        "clientState": "guessed",
        "changeType": "created",
        "resource": "Users/x/Events/AAMk-forged",
        "resourceData": {"id": "AAMk-forged"},
    }
    forged = post(stack, {"value": [item]})
    assert forged.status_code == 403 and "clientState" in forged.json()["error"]["message"]
    unknown = post(stack, {"value": [item | {"subscriptionId": str(uuid.uuid4())}]})
    assert unknown.status_code == 403 and "no subscription" in unknown.json()["error"]["message"]
    no_state = {k: v for k, v in item.items() if k != "clientState"}
    assert post(stack, {"value": [no_state]}).status_code == 403
    for bad in (b"not json", b'{"value": 3}', orjson.dumps({"value": [{"changeType": "x"}]})):
        answer = post(stack, bad, calendar_subscriptions.LIFECYCLE_PATH)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "malformed_notification"
    assert len(await notifications_of(db, synced.id)) == stored, "nothing stored"


async def test_lifecycle_events_reauthorize_recreate_and_resync(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    synced = await subscribed(runtime, db, people, "lifecycle")
    sandbox = stack.sandbox

    before = await row_of(db, synced.id)
    assert sandbox.emit_lifecycle(synced.subscription_id, "missed")
    await until(db, synced.id, lambda r: r.last_synced_at > before.last_synced_at)
    assert "missed" in await notifications_of(db, synced.id)

    assert sandbox.emit_lifecycle(synced.subscription_id, "reauthorizationRequired")
    sub = sandbox.subscriptions.items[synced.subscription_id]
    assert wait_for(lambda: sub.reauthorize_by is None), "reauthorized"

    Outlook(stack, people.mails["lifecycle"]).create(
        "After removal", SOON, SOON + timedelta(hours=1)
    )
    old = synced.subscription_id
    assert sandbox.emit_lifecycle(old, "subscriptionRemoved")
    await until(db, synced.id, lambda r: r.subscription_id not in (None, old))
    renewed = await row_of(db, synced.id)
    assert renewed.subscription_id in {s.id for s in sandbox.list_subscriptions(CONTOSO_ID)}
    await until_held(db, synced.id, "After removal")
    kinds = await notifications_of(db, synced.id)
    assert {"reauthorizationRequired", "subscriptionRemoved"} <= set(kinds)


async def test_a_silently_expired_subscription_loses_nothing(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    synced = await subscribed(runtime, db, people, "silent")
    sandbox, outlook = stack.sandbox, Outlook(stack, people.mails["silent"])

    # Still listed but dead: the reconciliation's sync reads what nobody said.
    sandbox.expire_subscription_silently(synced.subscription_id, keep_listed=True)
    outlook.create("Unannounced", SOON, SOON + timedelta(hours=1))
    async with db.transaction() as session:
        await session.execute(
            update(SyncedCalendar)
            .where(SyncedCalendar.id == synced.id)
            .values(last_synced_at=datetime.now(UTC) - timedelta(hours=1))
        )
    assert await calendar_subscriptions.reconcile(runtime) >= 1
    await until_held(db, synced.id, "Unannounced")

    # Gone: the renewal finds out (404) and subscribes anew, with a sync.
    sandbox.expire_subscription_silently(synced.subscription_id)
    outlook.create("Also unannounced", SOON + timedelta(hours=2), SOON + timedelta(hours=3))
    async with db.transaction() as session:
        await session.execute(
            update(SyncedCalendar)
            .where(SyncedCalendar.id == synced.id)
            .values(subscription_expires_at=datetime.now(UTC) + timedelta(hours=1))
        )
    assert await calendar_subscriptions.keep(runtime, synced.id) == "recreated"
    await until_held(db, synced.id, "Also unannounced")
    renewed = await row_of(db, synced.id)
    assert renewed.subscription_id != synced.subscription_id
    assert renewed.subscription_expires_at > datetime.now(UTC) + timedelta(days=6)
    assert await calendar_subscriptions.keep(runtime, synced.id) == "current"
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(CalendarItem)
            .where(CalendarItem.calendar_id == synced.id)
        )
    assert count == 2, "nothing doubled"


async def test_starting_from_settings_syncs_and_subscribes_and_stopping_undoes_it(
    stack: Stack, people: Any, runtime: Runtime, db: Database
) -> None:
    """ "Synchronize my Outlook calendar": the first sync and the subscription are queued
    (the stack's worker runs them); stopping deletes hiresync's events from Outlook, ends
    the subscription and keeps the copy."""
    from hiresync.services import calendar_settings

    outlook = Outlook(stack, people.mails["stops"])
    outlook.create("Their own meeting", SOON, SOON + timedelta(hours=1))
    async with db.transaction() as session:
        user = await team.find_by_email(session, people.id, people.mails["stops"])
        assert user is not None
        account = await calendar_settings.start_outlook(runtime, session, user)
    async with db.sessions() as session:
        (synced,) = await session.scalars(
            select(SyncedCalendar).where(SyncedCalendar.account_id == account.id)
        )
    await until(db, synced.id, lambda r: r.last_synced_at is not None and r.subscription_id)
    await add_local(db, synced, "interview-3@hiresync", "Interview: Lee", SOON + timedelta(days=2))
    await sync(runtime, synced.id)
    assert any(e.subject == "Interview: Lee" for e in outlook.user.events)
    subscription = (await row_of(db, synced.id)).subscription_id

    outcome = await calendar_settings.stop(runtime, user, account.id)
    assert outcome.complete, outcome.message
    assert [e.subject for e in outlook.user.events if not e.is_cancelled] == [
        "Their own meeting"
    ], "only hiresync's event is removed"
    assert all(s.id != subscription for s in stack.sandbox.list_subscriptions(CONTOSO_ID))
    assert set(await by_summary(db, synced.id)) >= {"Their own meeting", "Interview: Lee"}
