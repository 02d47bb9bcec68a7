"""Issue #6's fault tests for two-way calendar sync (Outlook through the company connection):
whatever fails, the copy ends equal to Outlook, every hiresync event is in Outlook exactly
once with its final content, and what was deleted is gone on both sides.

1. ``hiresync worker`` SIGKILLed 20 times, in the middle of a first sync of a few thousand
   Outlook events and of pushing a few hundred hiresync events out, while the person keeps
   editing Outlook and hiresync keeps editing its events;
2. a storm of 429s with Retry-After: the sync waits as told (the sandbox counts every call
   that comes back early) and still ends matching;
3. admin consent revoked in the middle of a run: the run stops, the account says "reconnect
   needed" and its owner is told, nothing of the run is stored; after consent is granted
   again and the person starts again, the next run ends matching.

Each bug these found has a quick regression test at the end (a write made, its record lost;
a row changed under a run; a time in the hour the clocks go back).

Expired delta tokens and silently expired subscriptions are in
``test_calendar_sync_microsoft.py``. The kill machinery (``Workers``, ``worker_env``,
``drain``) is the interview fault test's. Its own database, sandbox and API server (no
in-process worker). Seeded: ``HIRESYNC_FAULT_SEED=n`` replays a run's plan and faults (the
moments the kills land still vary with the machine's pace).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
import pytest
from sqlalchemy import func, insert, select, update

from hiresync.api.app import create_app
from hiresync.config import Settings
from hiresync.domain.calendar_copies import EventCopy
from hiresync.providers.errors import RateLimited
from hiresync.providers.microsoft.client import GraphClient, user_path
from hiresync.providers.microsoft.parse import parse_datetime
from hiresync.providers.microsoft.sync_side import event_body
from hiresync.providers.retry import RetryPolicy
from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft import MicrosoftSandbox
from hiresync.sandbox.microsoft import create_app as sandbox_app
from hiresync.sandbox.microsoft.event_wire import ical_uid
from hiresync.sandbox.microsoft.model import Event
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import (
    calendar_remotes,
    calendar_settings,
    calendar_sync,
    connections,
    directory,
    microsoft_calendars,
    team,
)
from hiresync.store import calendar_copy
from hiresync.store.calendar_copy import copy_of
from hiresync.store.tables import CalendarAccount, CalendarItem, Notification, SyncedCalendar
from hiresync.sync import Item
from tests.conftest import MailDrop, Org, Stack, org_factory, stack_settings
from tests.integration.browser import IT_ADMIN, Browser, connect_as, wait_for
from tests.integration.test_interview_faults import (
    FaultStack,
    Workers,
    drain,
    own_database,
    worker_env,
)
from tests.servers import free_port, serve_in_thread

SEED = int(os.environ.get("HIRESYNC_FAULT_SEED", "6006"))
SYNC_TASKS = ("hiresync:sync_calendar",)
PEOPLE = (
    "kills",
    "storm",
    "revoked",
    "tombstone",
    "window",
    "replay",
    "stale",
    "update",
    "steady",
    "later",
)
TX = "hiresync:"  # how Outlook events hiresync wrote are known: their transactionId
KILLS = 20
OUTLOOK_EVENTS = 2_000
OURS = 150
PUSH_BATCH = 20  # new hiresync events before each kill of the second half
CHAOS_LATENCY_MS = 10
NO_FAULTS = {
    "latency_ms": 0,
    "throttle_rate": 0.0,
    "unavailable_rate": 0.0,
    "fail_next": 0,
    "slow_rate": 0.0,
    "drop_response_after_commit_next": 0,
    "throttle_early": False,
}


# -- the stack -------------------------------------------------------------------------------


@dataclass
class SyncFaultStack(FaultStack):
    settings: Settings


@pytest.fixture(scope="module")
def sync_stack(
    pg_admin_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SyncFaultStack]:
    """A database, sandbox and API server of this module's own; no worker."""
    with own_database(pg_admin_uri, "syncfaults") as uri:
        yield from _stack(uri, tmp_path_factory)


def _stack(uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncFaultStack]:
    microsoft = MicrosoftSandbox.seeded(seed=SEED)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("sync-faults")
    settings = stack_settings(base, uri, data_dir, microsoft).model_copy(
        update={"run_worker": False}
    )
    # A first page of 500 events takes the sandbox a while on a busy machine: no timeouts.
    env = worker_env(settings, uri) | {
        "HIRESYNC_MICROSOFT_TIMEOUT_SECONDS": "20",
        "HIRESYNC_LOG_LEVEL": "INFO",  # each run said (calendar.synced): for the report
    }
    app = create_app(settings, mounts={"/sandbox/microsoft": sandbox_app(microsoft)})
    with serve_in_thread(app, port=port) as url:
        yield SyncFaultStack(url, microsoft, uri, MailDrop(), env, data_dir, settings)


@dataclass
class Team:
    org: Org
    mails: dict[str, str]
    workers: Workers


@pytest.fixture(scope="module")
def sync_team(sync_stack: SyncFaultStack) -> Iterator[Team]:
    """One mailbox per test in Contoso, matched to members of a connected org; a worker."""
    mails = {p: f"{p}.{SEED}.{secrets.token_hex(2)}@contoso.com" for p in PEOPLE}
    for mail in mails.values():
        sync_stack.sandbox.add_user(
            CONTOSO_ID, display_name=mail.split("@")[0], mail=mail, time_zone="Europe/Berlin"
        )
    shared = Stack(sync_stack.url, sync_stack.settings, sync_stack.sandbox, sync_stack.database_uri)
    make = org_factory(shared)
    org: Org = next(make)([(m.split("@")[0], m) for m in mails.values()])
    workers = Workers(sync_stack)
    workers.start()
    browser = Browser(sync_stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = wait_for(
        lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= len(PEOPLE),
        timeout=60,
    )
    assert matched, workers.log_tail()
    try:
        yield Team(org, mails, workers)
    finally:
        workers.stop()
        make.close()


@pytest.fixture
async def runtime(sync_stack: SyncFaultStack) -> AsyncIterator[Runtime]:
    rt = Runtime.build(sync_stack.settings, uri=sync_stack.database_uri)
    await rt.start()
    yield rt
    await rt.close()


# -- the two sides -----------------------------------------------------------------------------


def now_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def slot(rng: random.Random) -> datetime:
    """A start inside the window a first sync reads (90 days back, 365 ahead)."""
    return now_hour() + timedelta(days=rng.randint(-60, 300), hours=rng.randint(-12, 12))


def mailbox(stack: SyncFaultStack, mail: str) -> Any:
    user = stack.sandbox.find_mailbox(CONTOSO_ID, mail)
    assert user is not None
    return user


def seed_outlook(stack: SyncFaultStack, mail: str, count: int, rng: random.Random) -> None:
    """``count`` events the person already has (made in Outlook, as the sandbox's seed does)."""
    for n in range(count):
        start = slot(rng)
        stack.sandbox.add_event(
            CONTOSO_ID,
            mail,
            subject=f"Outlook {n}",
            start=start,
            end=start + timedelta(minutes=rng.choice((30, 60))),
            time_zone="UTC",
        )


def uid_in_outlook(event: Event) -> str:
    """The uid both sides share, as the sandbox holds it (independent of our parsing)."""
    if event.transaction_id and event.transaction_id.startswith(TX):
        return event.transaction_id[len(TX) :]
    return ical_uid(event)


async def start_sync(runtime: Runtime, org: Org, mail: str) -> SyncedCalendar:
    async with runtime.db.transaction() as session:
        user = await team.find_by_email(session, org.id, mail)
        assert user is not None
        return await microsoft_calendars.start_company_sync(runtime, session, user)


@dataclass
class Ours:
    """hiresync's own events for one calendar, as the test made them: uid -> final (summary,
    start) or None once deleted."""

    calendar: SyncedCalendar
    final: dict[str, tuple[str, datetime] | None] = field(default_factory=dict)

    async def add(self, runtime: Runtime, rng: random.Random, count: int) -> None:
        rows = []
        for _ in range(count):
            uid = f"{uuid.uuid4()}@hiresync"
            start, summary = slot(rng), f"Interview {len(self.final)}"
            self.final[uid] = (summary, start)
            rows.append(
                {
                    "organization_id": self.calendar.organization_id,
                    "calendar_id": self.calendar.id,
                    "uid": uid,
                    "digest": secrets.token_hex(8),
                    "origin": "hiresync",
                    "summary": summary,
                    "starts_at": start,
                    "ends_at": start + timedelta(hours=1),
                    "time_zone": "Europe/Berlin",
                    "data": {"location": "Room 1"},
                }
            )
        async with runtime.db.transaction() as session:
            await session.execute(insert(CalendarItem), rows)

    async def move(self, runtime: Runtime, uid: str, start: datetime) -> None:
        summary = f"{(self.final[uid] or ('',))[0]} (moved)"
        await self._edit(
            runtime, uid, summary=summary, starts_at=start, ends_at=start + timedelta(hours=1)
        )
        self.final[uid] = (summary, start)

    async def delete(self, runtime: Runtime, uid: str) -> None:
        await self._edit(runtime, uid, deleted=True)
        self.final[uid] = None

    async def _edit(self, runtime: Runtime, uid: str, **values: Any) -> None:
        async with runtime.db.transaction() as session:
            await session.execute(
                update(CalendarItem)
                .where(CalendarItem.calendar_id == self.calendar.id, CalendarItem.uid == uid)
                .values(version=CalendarItem.version + 1, digest=secrets.token_hex(8), **values)
            )

    def live(self) -> list[str]:
        return [uid for uid, final in self.final.items() if final is not None]


async def copy_rows(runtime: Runtime, calendar_id: uuid.UUID) -> list[CalendarItem]:
    async with runtime.db.sessions() as session:
        return list(
            await session.scalars(
                select(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
            )
        )


async def mismatches(runtime: Runtime, stack: SyncFaultStack, mail: str, ours: Ours) -> list[str]:
    """Everything by which the copy differs from Outlook, and hiresync's events from what
    the test made of them: empty when the two sides match."""
    problems: list[str] = []
    events = list(mailbox(stack, mail).events)
    outlook: dict[str, list[Event]] = {}
    for event in events:
        outlook.setdefault(uid_in_outlook(event), []).append(event)
    problems += [
        f"{len(found)} Outlook events of uid {uid}"
        for uid, found in outlook.items()
        if len(found) > 1
    ]
    rows = await copy_rows(runtime, ours.calendar.id)
    problems += [f"quarantined {r.uid}: {r.quarantine}" for r in rows if r.quarantine]
    held = {r.uid: r for r in rows if not r.deleted and not r.quarantine}
    by_uid = {r.uid: r for r in rows}
    # A tombstone (deleted in hiresync) still paired with a remote copy: not gone there.
    problems += [f"deletion not gone out: {r.uid}" for r in rows if r.deleted and r.remote_ident]
    for uid in sorted(set(outlook) - set(held)):
        problems.append(f"in Outlook, not in the copy: {uid} {outlook[uid][0].subject!r}")
    for uid in sorted(set(held) - set(outlook)):
        problems.append(f"in the copy, not in Outlook: {uid} {held[uid].summary!r}")
    for uid in sorted(set(held) & set(outlook)):
        event, row = outlook[uid][0], held[uid]
        theirs = (event.subject, event.start.astimezone(UTC), event.end.astimezone(UTC))
        mine = (row.summary, row.starts_at, row.ends_at)
        if theirs != mine:
            problems.append(f"{uid}: Outlook has {theirs}, the copy {mine}")
    for uid, final in ours.final.items():
        found = outlook.get(uid, [])
        if final is None:
            if found:
                row = by_uid.get(uid)
                said = (
                    (row.deleted, row.version, row.remote_ident, row.synced_version)
                    if row
                    else None
                )
                problems.append(
                    f"deleted in hiresync, still in Outlook: {uid} (row deleted, version, "
                    f"remote, synced: {said})"
                )
            continue
        if len(found) != 1:
            problems.append(f"hiresync event {uid} is {len(found)} times in Outlook")
            continue
        summary, start = final
        got = (found[0].subject, found[0].start.astimezone(UTC))
        if got != (summary, start):
            problems.append(f"hiresync event {uid}: Outlook has {got}, hiresync {final}")
    strays = [
        uid for uid, found in outlook.items() if found[0].transaction_id and uid not in ours.final
    ]
    problems += [f"an Outlook event of no hiresync event: {uid}" for uid in strays]
    return problems


# -- 1. kills --------------------------------------------------------------------------------


@dataclass
class Chaos:
    """What the kills hit: in the first sync, or while hiresync events were going out."""

    initial: int = 0
    pushing: int = 0
    other: int = 0
    edits: Counter[str] = field(default_factory=Counter)


async def kill_now(
    runtime: Runtime, stack: SyncFaultStack, mail: str, ours: Ours, chaos: Chaos
) -> None:
    """Say where the kill lands: before the first run stored anything, or with hiresync
    events in Outlook that the copy has not paired yet (a push not yet recorded)."""
    async with runtime.db.sessions() as session:
        row = await session.get(SyncedCalendar, ours.calendar.id)
        done = row is not None and row.last_synced_at is not None
    if not done:
        chaos.initial += 1
    elif await pushed_unrecorded(runtime, stack, mail, ours) > 0:
        chaos.pushing += 1
    else:
        chaos.other += 1


async def queue(runtime: Runtime, calendar_id: uuid.UUID) -> None:
    """A change was made: a run is wanted (one waits per calendar, as for a notification)."""
    async with runtime.db.transaction() as session:
        await calendar_sync.queue_sync(runtime, session, calendar_id)


async def edits(
    runtime: Runtime,
    stack: SyncFaultStack,
    mail: str,
    ours: Ours,
    rng: random.Random,
    chaos: Chaos,
    stop: asyncio.Event,
) -> None:
    """The person edits Outlook (create, move, delete their own events) and hiresync edits
    its events (create, move, delete), a change every ~0.3 s, each asking for a run."""
    made = 0
    while not stop.is_set():
        kind = rng.choice(("o-create", "o-move", "o-delete", "h-create", "h-move", "h-delete"))
        theirs = [e for e in mailbox(stack, mail).events if not e.transaction_id]
        if kind == "o-create":
            start = slot(rng)
            stack.sandbox.create_event_as_user(
                CONTOSO_ID,
                mail,
                {
                    "subject": f"Made during the chaos {made}",
                    "start": {
                        "dateTime": start.replace(tzinfo=None).isoformat(),
                        "timeZone": "UTC",
                    },
                    "end": {
                        "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
                        "timeZone": "UTC",
                    },
                },
            )
            made += 1
        elif kind == "o-move":
            event, start = rng.choice(theirs), slot(rng)
            stack.sandbox.update_event_as_user(
                CONTOSO_ID,
                mail,
                event.id,
                {
                    "subject": f"{event.subject} (moved)",
                    "start": {
                        "dateTime": start.replace(tzinfo=None).isoformat(),
                        "timeZone": "UTC",
                    },
                    "end": {
                        "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
                        "timeZone": "UTC",
                    },
                },
            )
        elif kind == "o-delete":
            stack.sandbox.delete_event_as_user(CONTOSO_ID, mail, rng.choice(theirs).id)
        elif kind == "h-create":
            await ours.add(runtime, rng, 1)
        elif kind == "h-move":
            await ours.move(runtime, rng.choice(ours.live()), slot(rng))
        else:
            await ours.delete(runtime, rng.choice(ours.live()))
        chaos.edits[kind] += 1
        await queue(runtime, ours.calendar.id)
        await asyncio.sleep(rng.uniform(0.1, 0.5))


async def kill_repeatedly(
    runtime: Runtime,
    stack: SyncFaultStack,
    workers: Workers,
    jobs: procrastinate.App,
    mail: str,
    ours: Ours,
    rng: random.Random,
    chaos: Chaos,
) -> None:
    """Half the kills land in the first sync (a random moment after the worker registers);
    then the first sync is let finish, and the other half land while batches of new
    hiresync events go out (every other one the first moment Outlook has an event the copy
    has not paired yet). After each kill the worker's jobs are put back and another starts."""
    for n in range(KILLS):
        await workers.registered(workers.live_id)
        if n == KILLS // 2:
            await first_sync_done(runtime, ours.calendar.id)
        if n >= KILLS // 2:
            await ours.add(runtime, rng, PUSH_BATCH)
            await queue(runtime, ours.calendar.id)
        aimed = n >= KILLS // 2 and n % 2 == 1
        await asyncio.sleep(rng.uniform(0.1, 0.4) if aimed else rng.uniform(0.4, 1.5))
        if aimed and await unpaired_write(runtime, stack, mail, ours, time.monotonic() + 3):
            chaos.pushing += 1  # killed the moment it was seen
        else:
            await kill_now(runtime, stack, mail, ours, chaos)
        workers.kill()
        await workers.put_back_stalled(jobs)
        workers.start()


async def first_sync_done(runtime: Runtime, calendar_id: uuid.UUID, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with runtime.db.sessions() as session:
            row = await session.get(SyncedCalendar, calendar_id)
            if row is not None and row.last_synced_at is not None:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the first sync never finished")


async def unpaired_write(
    runtime: Runtime, stack: SyncFaultStack, mail: str, ours: Ours, deadline: float
) -> bool:
    """Until ``deadline``: wait for Outlook to hold a hiresync event the copy has not paired
    (a push made, not yet recorded), the moment a kill does most harm; whether it came."""
    while time.monotonic() < deadline:
        if await pushed_unrecorded(runtime, stack, mail, ours) > 0:
            return True
        await asyncio.sleep(0.02)
    return False


async def pushed_unrecorded(runtime: Runtime, stack: SyncFaultStack, mail: str, ours: Ours) -> int:
    async with runtime.db.sessions() as session:
        paired = await session.scalar(
            select(func.count()).where(
                CalendarItem.calendar_id == ours.calendar.id,
                CalendarItem.origin == "hiresync",
                CalendarItem.remote_ident.is_not(None),
            )
        )
    written = sum(1 for e in mailbox(stack, mail).events if e.transaction_id)
    return written - (paired or 0)


async def bring_forward(database_uri: str) -> None:
    """Runs the job engine put off after a failed attempt: now (the faults are over)."""
    async with await psycopg.AsyncConnection.connect(database_uri, autocommit=True) as conn:
        await conn.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() "
            "WHERE status = 'todo' AND scheduled_at > now() AND task_name = ANY(%s)",
            [list(SYNC_TASKS)],
        )


async def until_quiet(runtime: Runtime, calendar_id: uuid.UUID, most: int = 5) -> int:
    """Runs (as the notifications of a run's own writes would queue them) until one has
    nothing to do; how many it took. A write whose status a kill lost takes one more run
    to be recognised (and a tombstone it leaves one more to go out)."""
    for n in range(1, most + 1):
        report = await calendar_sync.sync_calendar(runtime, calendar_id)
        assert report is not None and report.outcome == "synced" and not report.failed, report
        if report.applied == 0 and not report.deferred:
            return n
    return most + 1


async def test_killed_mid_initial_sync_and_mid_push_ends_matching_without_duplicates(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """A worker may die anywhere: between a remote write and its record above all."""
    stack, workers, mail = sync_stack, sync_team.workers, sync_team.mails["kills"]
    rng = random.Random(SEED)
    stack.sandbox.random = random.Random(SEED)
    seed_outlook(stack, mail, OUTLOOK_EVENTS, rng)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, OURS)
    stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS | {"latency_ms": CHAOS_LATENCY_MS})
    chaos, stop = Chaos(), asyncio.Event()
    began = time.monotonic()
    jobs = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=stack.database_uri))
    async with jobs.open_async():
        await queue(runtime, ours.calendar.id)
        editing = asyncio.create_task(edits(runtime, stack, mail, ours, rng, chaos, stop))
        try:
            await kill_repeatedly(runtime, stack, workers, jobs, mail, ours, rng, chaos)
        finally:
            stop.set()
            await editing
        chaos_s = time.monotonic() - began
        stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
        await queue(runtime, ours.calendar.id)
        await bring_forward(stack.database_uri)
        left = await drain(stack.database_uri, workers, tasks=SYNC_TASKS)
    runs = await until_quiet(runtime, ours.calendar.id)
    report = (
        f"seed {SEED} (HIRESYNC_FAULT_SEED): {workers.kills} kills in {chaos_s:.0f} s, "
        f"{chaos.initial} in the first sync, {chaos.pushing} with a push unrecorded, "
        f"{chaos.other} elsewhere; edits {dict(chaos.edits)}; stalled jobs put back "
        f"{sum(workers.stalled.values())} ({workers.superseded} superseded), in vain "
        f"{list(workers.retry_errors)[:3]}; drained in {time.monotonic() - began - chaos_s:.0f}"
        f" s, then {runs} runs until one had nothing to do"
    )
    print(report)
    assert not left, f"{report}\njobs never done:\n" + "\n".join(left[:10])
    assert runs <= 3, f"{report}: the sync does not settle"
    assert workers.kills >= KILLS
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, f"{report}\n{len(problems)} problems:\n" + "\n".join(problems[:30])
    assert chaos.initial and chaos.pushing, f"{report}\nthe kills missed a phase"


# -- 2. a storm of 429s ------------------------------------------------------------------------


def early_calls(stack: SyncFaultStack, key: str, since: float) -> list[str]:
    """From the sandbox's request log: each call on ``key`` that arrived before the
    Retry-After of the 429 answered just before it had passed."""
    calls = [c for c in list(stack.sandbox.stats.calls) if c[1] == key and c[0] >= since]
    found = []
    for before, after in itertools.pairwise(calls):
        arrived, _, route, status, told = before
        if status == 429 and told is not None and after[0] < arrived + told:
            found.append(
                f"{after[2]} {after[0] - arrived:.3f} s after a 429 ({route}) that said {told} s"
            )
    return found


async def test_a_429_storm_is_waited_out_as_told_and_ends_matching(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Coming back before Retry-After keeps a mailbox throttled (and is rude): wait as told."""
    stack, mail = sync_stack, sync_team.mails["storm"]
    rng = random.Random(SEED + 2)
    stack.sandbox.random = random.Random(SEED + 2)
    seed_outlook(stack, mail, 600, rng)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 30)
    key = f"{CONTOSO_ID}/{mailbox(stack, mail).id}"
    since = stack.sandbox.clock()
    storm = {"fail_next": 4, "fail_status": 429, "retry_after": 1, "throttle_rate": 0.08}
    stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS | storm | {"throttle_early": True})
    try:
        report = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
        await ours.add(runtime, rng, 10)  # and a second run, incremental, in the storm
        stack.sandbox.set_faults(CONTOSO_ID, fail_next=3)
        again = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
    throttled = sum(1 for c in stack.sandbox.stats.calls if c[1] == key and c[3] == 429)
    said = f"seed {SEED + 2} (HIRESYNC_FAULT_SEED={SEED}): {throttled} 429s on the mailbox"
    print(said)
    for run in (report, again):
        assert run is not None and run.outcome == "synced" and not run.failed, f"{said}: {run}"
    assert throttled >= 7, f"{said}: the storm did not happen"
    assert not stack.sandbox.stats.early[key], f"{said}: calls came back before Retry-After"
    assert not early_calls(stack, key, since), said
    assert not await mismatches(runtime, stack, mail, ours)
    settled = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
    assert settled is not None and settled.outcome == "synced"
    assert not await mismatches(runtime, stack, mail, ours), "no duplicates after a quiet run"


# -- 3. consent revoked in the middle of a run -------------------------------------------------


async def jobs_done(database_uri: str, calendar_id: uuid.UUID, timeout: float = 60) -> list[str]:
    """Wait for the running worker to finish the calendar's sync jobs; what is left then."""
    deadline = time.monotonic() + timeout
    async with await psycopg.AsyncConnection.connect(database_uri, autocommit=True) as conn:
        while True:
            rows = await (
                await conn.execute(
                    "SELECT id, status::text, attempts FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') AND task_name = ANY(%s) "
                    "AND args->>'calendar_id' = %s",
                    [list(SYNC_TASKS), str(calendar_id)],
                )
            ).fetchall()
            if not rows or time.monotonic() > deadline:
                return [str(r) for r in rows]
            await asyncio.sleep(0.1)


async def stored(runtime: Runtime, calendar_id: uuid.UUID) -> dict[str, Any]:
    """Everything a run stores: every row's versions and status, and the cursor."""
    rows = await copy_rows(runtime, calendar_id)
    async with runtime.db.sessions() as session:
        row = await session.get(SyncedCalendar, calendar_id)
    assert row is not None
    state = {
        r.uid: (
            r.version,
            r.digest,
            r.deleted,
            r.remote_ident,
            r.remote_etag,
            r.remote_digest,
            r.synced_version,
        )
        for r in rows
    }
    return {"rows": state, "cursor": row.cursor, "synced": row.last_synced_at}


async def test_consent_revoked_mid_sync_stops_cleanly_and_resumes_after_reconnect(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """A revoked grant must never leave half a run stored or a gap nobody is told about."""
    stack, mail, sandbox = sync_stack, sync_team.mails["revoked"], sync_stack.sandbox
    said = f"seed {SEED + 3} (HIRESYNC_FAULT_SEED={SEED})"
    rng = random.Random(SEED + 3)
    sandbox.random = random.Random(SEED + 3)
    seed_outlook(stack, mail, 400, rng)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 10)
    sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
    first = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
    assert first is not None and first.outcome == "synced", first

    # Changes on both sides, then a run long enough to revoke consent in its middle.
    await ours.add(runtime, rng, 60)
    for uid in rng.sample(ours.live(), 3):
        await ours.move(runtime, uid, slot(rng))
    await ours.delete(runtime, rng.choice(ours.live()))
    theirs = [e for e in mailbox(stack, mail).events if not e.transaction_id]
    sandbox.delete_event_as_user(CONTOSO_ID, mail, rng.choice(theirs).id)
    before = await stored(runtime, ours.calendar.id)
    written = sum(1 for e in mailbox(stack, mail).events if e.transaction_id)
    sandbox.set_faults(CONTOSO_ID, latency_ms=30)
    run = asyncio.create_task(calendar_sync.sync_calendar(runtime, ours.calendar.id))
    for _ in range(1000):  # revoke once the run has pushed some of hiresync's events
        if sum(1 for e in mailbox(stack, mail).events if e.transaction_id) >= written + 10:
            break
        await asyncio.sleep(0.01)
    sandbox.revoke_consent(CONTOSO_ID, sandbox.demo_client_id)
    try:
        report = await asyncio.wait_for(run, 60)
    finally:
        sandbox.grant_admin_consent(CONTOSO_ID, sandbox.demo_client_id)
        sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
    assert report is not None and report.outcome == "reconnect_needed", f"{said}: {report}"
    pushed = sum(1 for e in mailbox(stack, mail).events if e.transaction_id) - written
    assert 10 <= pushed < 60, f"{said}: revoked mid-push ({pushed} of 60 pushed)"
    assert await stored(runtime, ours.calendar.id) == before, f"{said}: half a run stored"
    async with runtime.db.sessions() as session:
        account = await session.get(CalendarAccount, ours.calendar.account_id)
        assert account is not None and account.status == "reconnect_needed"
        told = list(
            await session.scalars(
                select(Notification).where(
                    Notification.user_id == account.user_id,
                    Notification.kind == "calendar_reconnect",
                )
            )
        )
    assert len(told) == 1 and account.address in told[0].title
    uids = Counter(uid_in_outlook(e) for e in mailbox(stack, mail).events if e.transaction_id)
    assert not [u for u, n in uids.items() if n > 1], f"{said}: doubled in Outlook"
    refused = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
    assert refused is None, "no run while the account needs reconnecting"

    # Consent is back (granted above); the person starts synchronization again.
    async with runtime.db.transaction() as session:
        user = await team.find_by_email(session, sync_team.org.id, mail)
        assert user is not None
        await calendar_settings.start_outlook(runtime, session, user)
    left = await jobs_done(stack.database_uri, ours.calendar.id)
    assert not left, left
    after = await stored(runtime, ours.calendar.id)
    assert after["synced"] != before["synced"], "the worker ran the sync the restart queued"
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, f"{said}:\n" + "\n".join(problems[:30])


# -- regressions: a push made, its status lost (the worker died before the flush) ------------


async def push_unrecorded(runtime: Runtime, ours: Ours, uids: list[str]) -> None:
    """What a run killed after its remote writes and before its flush leaves behind: these
    hiresync events in Outlook, written as the executor writes them, and nothing recorded."""
    async with runtime.db.sessions() as session:
        account = await session.get(CalendarAccount, ours.calendar.account_id)
        rows = list(
            await session.scalars(
                select(CalendarItem).where(
                    CalendarItem.calendar_id == ours.calendar.id, CalendarItem.uid.in_(uids)
                )
            )
        )
    assert account is not None and len(rows) == len(uids)
    remote, close = await calendar_remotes.open_remote(runtime, account, ours.calendar)
    try:
        for row in rows:
            item = Item(str(row.id), row.uid, str(row.version), row.digest, copy_of(row))
            await remote.create(item)
    finally:
        await close()


async def update_unrecorded(runtime: Runtime, ours: Ours, uid: str) -> None:
    """What a run killed after updating a paired event in Outlook leaves behind: the
    event at the row's current version, the status still at the one before."""
    async with runtime.db.sessions() as session:
        account = await session.get(CalendarAccount, ours.calendar.account_id)
        row = await session.scalar(
            select(CalendarItem).where(
                CalendarItem.calendar_id == ours.calendar.id, CalendarItem.uid == uid
            )
        )
    assert account is not None and row is not None and row.remote_ident
    remote, close = await calendar_remotes.open_remote(runtime, account, ours.calendar)
    try:
        item = Item(str(row.id), row.uid, str(row.version), row.digest, copy_of(row))
        await remote.update(row.remote_ident, row.remote_etag, item)
    finally:
        await close()


async def synced(runtime: Runtime, calendar_id: uuid.UUID) -> calendar_sync.SyncReport:
    report = await calendar_sync.sync_calendar(runtime, calendar_id)
    assert report is not None and report.outcome == "synced" and not report.failed, report
    return report


async def test_a_push_whose_status_was_lost_then_deleted_in_hiresync_is_not_resurrected(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Found by the kill test: the event came back as new from Outlook (row 2) and was
    copied over its tombstone (resurrected), or, in a first sync of 200 events or more,
    broke the COPY on the uid constraint, so the calendar's first sync never finished."""
    stack, mail = sync_stack, sync_team.mails["tombstone"]
    rng = random.Random(SEED + 4)
    seed_outlook(stack, mail, 250, rng)  # a first sync of more than 200 rows: the COPY path
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 3)
    gone = ours.live()[0]
    await push_unrecorded(runtime, ours, ours.live())
    await ours.delete(runtime, gone)
    await synced(runtime, ours.calendar.id)
    await synced(runtime, ours.calendar.id)
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, "\n".join(problems[:20])


async def test_a_hiresync_edit_after_a_push_whose_status_was_lost_reaches_outlook(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Found by the kill test: the pushed event and the edited row looked like a conflict
    of a first sync (row 4), which the remote won: the edit made in hiresync was lost on
    both sides."""
    stack, mail = sync_stack, sync_team.mails["window"]
    rng = random.Random(SEED + 5)
    seed_outlook(stack, mail, 5, rng)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 3)
    await push_unrecorded(runtime, ours, ours.live())
    moved = ours.live()[0]
    await ours.move(runtime, moved, slot(rng))
    await synced(runtime, ours.calendar.id)
    await synced(runtime, ours.calendar.id)
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, "\n".join(problems[:20])


async def test_a_create_that_finds_an_older_write_of_its_uid_brings_it_up_to_date(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Found by the kill test: a create of an event already written by a run whose status
    was lost (and which a later run's cursor passed over) got back the old event for its
    transactionId and recorded it as written: the move made in hiresync never reached
    Outlook, and nothing would ever send it again."""
    stack, mail = sync_stack, sync_team.mails["replay"]
    rng = random.Random(SEED + 6)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 2)
    await push_unrecorded(runtime, ours, ours.live())
    moved, kept = ours.live()
    await ours.move(runtime, moved, slot(rng))
    patched = stack.sandbox.stats.by_route["updateEvent"]
    await push_unrecorded(runtime, ours, ours.live())  # both written again, as new
    assert stack.sandbox.stats.by_route["updateEvent"] - patched == 1, "only the moved one"
    events = [e for e in mailbox(stack, mail).events if e.transaction_id]
    assert sorted(uid_in_outlook(e) for e in events) == sorted([moved, kept]), "none doubled"
    for event in events:
        summary, start = ours.final[uid_in_outlook(event)] or ("", None)
        assert (event.subject, event.start.astimezone(UTC)) == (summary, start)


async def test_a_row_deleted_during_the_run_that_would_update_it_keeps_outlook_in_view(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the kill test: the run's write to a row changed meanwhile is left for the
    next run, but the cursor moved past what it read, and no status kept it: the next runs
    never saw that Outlook event again, and an event deleted in hiresync stayed in Outlook."""
    stack, mail = sync_stack, sync_team.mails["stale"]
    rng = random.Random(SEED + 7)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 2)
    await push_unrecorded(runtime, ours, ours.live())  # the run below takes Outlook's version
    target = ours.live()[0]
    flush = calendar_copy.CopyWriter.flush

    async def deleted_first(writer: calendar_copy.CopyWriter, session: Any) -> list[str]:
        monkeypatch.undo()
        await ours.delete(runtime, target)  # in hiresync, while the run is under way
        return await flush(writer, session)

    monkeypatch.setattr(calendar_copy.CopyWriter, "flush", deleted_first)
    report = await synced(runtime, ours.calendar.id)
    assert report.deferred >= 1, "the row changed under the run"
    assert await until_quiet(runtime, ours.calendar.id) <= 2
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, "\n".join(problems)


def test_a_time_in_the_hour_the_clocks_go_back_is_written_unambiguously() -> None:
    """Found by the kill test (a random slot at 01:00 UTC on the night Berlin leaves summer
    time): written as Berlin wall time, 02:00 names two moments and Outlook kept the
    other one, an hour early."""
    # 00:00 and 01:00 UTC are 02:00 in Berlin, summer time and winter time.
    for two_am in (
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    ):
        copy = EventCopy(
            uid="u@hiresync",
            digest="d",
            summary="Interview",
            starts_at=two_am,
            ends_at=two_am + timedelta(hours=1),
            time_zone="Europe/Berlin",
        )
        body = event_body(copy)
        assert parse_datetime(body["start"]) == two_am, body["start"]
        assert parse_datetime(body["end"]) == two_am + timedelta(hours=1), body["end"]
    plain = event_body(replace(copy, starts_at=datetime(2026, 10, 26, 8, 0, tzinfo=UTC)))
    assert plain["start"]["timeZone"] == "W. Europe Standard Time", "the person's zone otherwise"


async def test_a_hiresync_edit_after_an_update_whose_status_was_lost_reaches_outlook(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Found by the kill test: Outlook changed by our own unrecorded update and the row
    edited again looked like an edit on both sides (row 9), which the remote won: the
    second move made in hiresync was undone."""
    stack, mail = sync_stack, sync_team.mails["update"]
    rng = random.Random(SEED + 8)
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, rng, 2)
    await synced(runtime, ours.calendar.id)
    uid = ours.live()[0]
    await ours.move(runtime, uid, slot(rng))
    await update_unrecorded(runtime, ours, uid)
    await ours.move(runtime, uid, slot(rng))
    assert await until_quiet(runtime, ours.calendar.id) <= 3
    problems = await mismatches(runtime, stack, mail, ours)
    assert not problems, "\n".join(problems)


async def test_the_sandbox_throttles_a_call_back_before_its_retry_after(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """The storm test's witness: a client that comes back before the Retry-After it was
    given is counted (and with ``throttle_early`` throttled again), one that waits is not."""
    sandbox, mail = sync_stack.sandbox, sync_team.mails["storm"]
    key = f"{CONTOSO_ID}/{mailbox(sync_stack, mail).id}"
    async with runtime.db.sessions() as session:
        connection = await directory.live_connection(session, sync_team.org.id)
    assert connection is not None

    async def impatient(seconds: float) -> None:
        await asyncio.sleep(seconds / 10)

    def client(sleep: Any) -> GraphClient:
        return GraphClient(
            graph_url=runtime.settings.microsoft_graph_url,
            get_token=connections.token_for(runtime, connection),
            retry=RetryPolicy(max_retries=2),
            sleep=sleep,
        )

    path = user_path(mail, "calendar")
    storm = {"fail_next": 1, "fail_status": 429, "retry_after": 1, "throttle_early": True}
    sandbox.set_faults(CONTOSO_ID, **NO_FAULTS | storm)
    try:
        before = sandbox.stats.early[key]
        async with client(impatient) as hasty:
            with pytest.raises(RateLimited):
                await hasty.request("GET", path)
        assert sandbox.stats.early[key] - before == 2, "both retries came back early"
        await asyncio.sleep(1.1)
        sandbox.set_faults(CONTOSO_ID, fail_next=1)
        before = sandbox.stats.early[key]
        async with client(asyncio.sleep) as patient:
            assert await patient.request("GET", path)
        assert sandbox.stats.early[key] == before
    finally:
        sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)


async def test_reading_back_what_was_recorded_asks_outlook_nothing_more(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """The version an event was written from is fetched only for events a run may have
    written without recording it: none in the steady state."""
    stack, mail = sync_stack, sync_team.mails["steady"]
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    await ours.add(runtime, random.Random(SEED + 9), 5)
    await synced(runtime, ours.calendar.id)  # pushed and recorded
    fetched = stack.sandbox.stats.by_route["getEvent"]
    uid = ours.live()[0]
    await ours.move(runtime, uid, slot(random.Random(SEED + 10)))
    assert await until_quiet(runtime, ours.calendar.id) <= 3
    assert stack.sandbox.stats.by_route["getEvent"] == fetched
    assert not await mismatches(runtime, stack, mail, ours)


async def test_a_run_throttled_for_longer_than_the_client_waits_comes_back_as_told(
    sync_stack: SyncFaultStack, sync_team: Team, runtime: Runtime
) -> None:
    """Found writing the storm test: a Retry-After longer than the client waits in place
    (``RateLimited``) failed the job, which the engine retried after its own backoff (5 s),
    long before the server said, and into a run already waiting (a stuck job)."""
    stack, mail = sync_stack, sync_team.mails["later"]
    ours = Ours(await start_sync(runtime, sync_team.org, mail))
    throttled = {"fail_next": 1, "fail_status": 429, "retry_after": 600}
    stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS | throttled)
    try:
        report = await calendar_sync.sync_calendar(runtime, ours.calendar.id)
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
    assert report is not None and report.outcome == "throttled", report
    async with await psycopg.AsyncConnection.connect(stack.database_uri) as conn:
        rows = await (
            await conn.execute(
                "SELECT scheduled_at - now() FROM procrastinate_jobs WHERE status = 'todo' "
                "AND task_name = ANY(%s) AND args->>'calendar_id' = %s",
                [list(SYNC_TASKS), str(ours.calendar.id)],
            )
        ).fetchall()
        await conn.execute(  # not for this session's worker to run
            "DELETE FROM procrastinate_jobs WHERE status = 'todo' AND args->>'calendar_id' = %s",
            [str(ours.calendar.id)],
        )
        await conn.commit()
    assert [r[0] > timedelta(seconds=590) for r in rows] == [True], rows
    async with runtime.db.sessions() as session:
        row = await session.get(SyncedCalendar, ours.calendar.id)
    assert row is not None and row.failures == 1 and row.last_error
