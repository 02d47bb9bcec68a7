"""Issue #5's exactly-once proof for Zoom: about 40 Zoom interviews on five hosts (each with a
Zoom account of their own, Pro or Business, and an Outlook mailbox) are confirmed,
rescheduled once or twice and some cancelled, while ``hiresync worker`` is SIGKILLed at
random moments and Zoom answers with 429s (with Retry-After), 503s, lost answers to
committed writes and slow answers. Afterwards each live interview has exactly one Zoom
meeting on its host's account, at its final time and duration, whose link, ID and passcode
are the interview's and in its one Outlook event; a cancelled one has no meeting and no
live event; no meeting belongs to no interview.

The crash that matters is the one between Zoom's answer and our commit: Zoom made the
meeting, hiresync never recorded it. A slow answer (``slow_rate``: the meeting is made, its
answer held back ``slow_ms``) keeps that window open long enough for a kill to land in it;
half the kills wait for such a moment (an interview whose meeting row is ``writing`` with no
id while Zoom already has its meeting), the others land anywhere. Recovery must find the
meeting again (``zoom_meeting_relinked``), never create a second.

Reuses the Microsoft fault test's pieces (``Workers``, ``worker_env``, ``drain``): a database,
sandboxes and API server of its own, no in-process worker, the dead worker's jobs put back
at once after each kill. Seeded: ``HIRESYNC_FAULT_SEED=n`` replays a run's plan, kills and
faults (the moments the kills land still vary with the machine's pace).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import procrastinate
import psycopg
import pytest

from hiresync.api.app import create_app
from hiresync.config import Settings
from hiresync.sandbox.microsoft import MicrosoftSandbox
from hiresync.sandbox.microsoft import create_app as microsoft_app
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.sandbox.zoom import ZoomSandbox
from hiresync.sandbox.zoom import create_app as zoom_app
from hiresync.sandbox.zoom.model import Account, Meeting, User
from hiresync.services import team as team_service
from hiresync.store.db import Database
from tests.conftest import MailDrop, Org, Stack, org_factory, run_async, stack_settings
from tests.integration.browser import IT_ADMIN, Browser, connect_as, wait_for
from tests.integration.test_interview_faults import (
    WORK_TASKS,
    FaultStack,
    Workers,
    drain,
    drive,
    organizer_events,
    own_database,
    worker_env,
)
from tests.integration.test_meeting_accounts import connect_zoom, logged_in
from tests.servers import free_port, serve_in_thread

SEED = int(os.environ.get("HIRESYNC_FAULT_SEED", "5005"))
INTERVIEWS = 40
HOSTS = 5
OPS_SECONDS = 20.0  # how long the changes are spread over, while the worker is killed
ZOOM_TIMEOUT_SECONDS = 5.0  # longer than a slow answer: it arrives, late
ZOOM_FAULTS = {
    "latency_ms": 60,
    "throttle_rate": 0.06,
    "unavailable_rate": 0.04,
    "retry_after": 1,
    "slow_rate": 0.15,
    "slow_ms": 1500,
    "slow_write_applied": 0.8,
}
ZOOM_NO_FAULTS = {
    "latency_ms": 0,
    "throttle_rate": 0.0,
    "unavailable_rate": 0.0,
    "slow_rate": 0.0,
    "drop_response_after_commit_next": 0,
}
KEY = re.compile(r"hiresync:([0-9a-f-]{36})")
_WRITING = (
    "SELECT m.interview_id::text FROM interview_meetings m JOIN interviews i "
    "ON i.id = m.interview_id WHERE m.state = 'writing' AND m.external_meeting_id IS NULL "
    "AND i.status IN ('confirmed', 'rescheduled')"
)


# -- the stack -------------------------------------------------------------------------------


@dataclass
class ZoomFaultStack(FaultStack):
    zoom: ZoomSandbox


@pytest.fixture(scope="module")
def zoom_fault_stack(
    pg_admin_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZoomFaultStack]:
    """A database, both sandboxes and an API server of this test's own; no worker."""
    with own_database(pg_admin_uri, "zoomcrash") as uri:
        yield from _stack(uri, tmp_path_factory)


def _stack(uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZoomFaultStack]:
    microsoft, zoom = MicrosoftSandbox.seeded(seed=SEED), ZoomSandbox.seeded(seed=SEED)
    zoom.limits.qps_retry_after = True  # the 429s this test injects say when to come back
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("zoom-crashes")
    settings = stack_settings(base, uri, data_dir, microsoft, zoom=zoom).model_copy(
        update={"run_worker": False}
    )
    env = worker_env(settings, uri) | {
        "HIRESYNC_ZOOM_CLIENT_ID": settings.zoom_client_id,
        "HIRESYNC_ZOOM_CLIENT_SECRET": settings.zoom_client_secret,
        "HIRESYNC_ZOOM_OAUTH_URL": settings.zoom_oauth_url,
        "HIRESYNC_ZOOM_API_URL": settings.zoom_api_url,
        "HIRESYNC_ZOOM_WEBHOOK_SECRET": settings.zoom_webhook_secret,
        "HIRESYNC_ZOOM_TIMEOUT_SECONDS": str(ZOOM_TIMEOUT_SECONDS),
        "HIRESYNC_LOG_LEVEL": "INFO",  # each meeting made, found again, deleted: for ``history``
    }
    mounts = {"/sandbox/microsoft": microsoft_app(microsoft), "/sandbox/zoom": zoom_app(zoom)}
    app = create_app(settings, mounts=mounts)
    with serve_in_thread(app, port=port) as url:
        yield ZoomFaultStack(url, microsoft, uri, MailDrop(), env, data_dir, zoom)


@dataclass
class Host:
    """A scheduler whose own Zoom account makes their interviews' meetings."""

    mailbox: str
    account: Account
    zoom_user: User


def add_hosts(database_uri: str, org: Org, mailboxes: list[str]) -> dict[str, str]:
    """Team members who can log in (to connect Zoom); their passwords by mailbox."""
    passwords = {m: secrets.token_urlsafe(12) for m in mailboxes}

    async def create() -> None:
        database = Database.connect(database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                for mail, password in passwords.items():
                    new = team_service.NewUser(
                        mail.split("@")[0], mail, "recruiter", "Europe/London", password
                    )
                    await team_service.add_user(session, org.id, new)
        finally:
            await database.dispose()

    run_async(create)
    return passwords


@pytest.fixture(scope="module")
def zoom_team(
    zoom_fault_stack: ZoomFaultStack,
) -> Iterator[tuple[Org, list[Host], list[str], Workers]]:
    """Five hosts, each connected to a Zoom account of their own (Pro or Business), and four
    interviewers, all with Outlook mailboxes; the calendar connected; a worker running."""
    stack, microsoft, zoom = zoom_fault_stack, zoom_fault_stack.sandbox, zoom_fault_stack.zoom
    mailboxes = [f"host{i}.{SEED}@contoso.com" for i in range(HOSTS)]
    panel = [f"panelist{i}.{SEED}@contoso.com" for i in range(4)]
    for mail in mailboxes + panel:
        microsoft.add_user(
            CONTOSO_ID, display_name=mail.split("@")[0], mail=mail, time_zone="Europe/London"
        )
    shared = Stack(stack.url, Settings(), microsoft, stack.database_uri)  # for the helpers
    make = org_factory(shared)
    org: Org = next(make)([(m.split("@")[0], m) for m in panel])
    passwords = add_hosts(stack.database_uri, org, mailboxes)
    workers = Workers(stack)
    workers.start()
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    wanted = len(mailboxes) + len(panel)
    matched = wait_for(
        lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= wanted, timeout=60
    )
    assert matched, workers.log_tail()
    hosts = []
    for i, mailbox in enumerate(mailboxes):
        account = zoom.add_account(f"Host {i} {SEED}", "pro" if i % 2 == 0 else "business")
        user = zoom.add_user(account.id, email=f"host{i}.{SEED}@zoom-users.test", first_name="Host")
        browser = logged_in(shared, mailbox, passwords[mailbox])
        try:
            assert connect_zoom(browser, user.id).status_code in (200, 303)
        finally:
            browser.close()
        hosts.append(Host(mailbox, account, user))
    try:
        yield org, hosts, panel, workers
    finally:
        workers.stop()
        make.close()


# -- the plan --------------------------------------------------------------------------------


@dataclass
class Story:
    """One interview as the test drives it: what it should end as, and what was done."""

    n: int
    host: Host
    interviewer: str
    start: datetime
    minutes: int
    ops: deque[tuple[str, dict[str, Any]]]
    id: str = ""
    status: str = "draft"  # draft | live | cancelled
    done: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"[#{self.n}]"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


def clock() -> str:
    """Now, as the workers' logs and the interview's history say it (UTC, milliseconds)."""
    return datetime.now(UTC).strftime("%H:%M:%S.%f")[:12]


def slot(rng: random.Random) -> tuple[datetime, int]:
    """A start in the coming weeks (so Zoom lists the meeting as upcoming) and a length."""
    day = datetime.now(UTC).date() + timedelta(days=rng.randint(3, 40))
    start = datetime(
        day.year, day.month, day.day, rng.randint(8, 16), 15 * rng.randint(0, 3), tzinfo=UTC
    )
    return start, rng.choice((30, 45, 60))


def plan(n: int, rng: random.Random, hosts: list[Host], panel: list[str]) -> Story:
    """Confirmed, then moved once or twice; about a third cancelled, some of them soon after
    the confirm (while its meeting may still be in limbo)."""
    start, minutes = slot(rng)
    story = Story(n, hosts[n % len(hosts)], rng.choice(panel), start, minutes, deque())
    cancelled = rng.random() < 0.35
    moves = rng.choice((0, 1)) if cancelled else rng.choice((1, 1, 2))
    story.ops.append(("confirm", {}))
    for _ in range(moves):
        later, minutes = slot(rng)
        story.ops.append(("reschedule", {"start": later, "minutes": minutes}))
    if cancelled:
        story.ops.append(("cancel", {}))
    return story


def interleave(stories: list[Story], rng: random.Random) -> list[tuple[Story, str, dict[str, Any]]]:
    """Every story's steps in order, the stories' steps shuffled together."""
    pending, order = [s for s in stories if s.ops], []
    while pending:
        story = rng.choice(pending)
        order.append((story, *story.ops.popleft()))
        if not story.ops:
            pending.remove(story)
    return order


async def create_drafts(api: httpx.AsyncClient, stories: list[Story]) -> None:
    """Every interview as a Zoom draft: no meeting and no job yet."""
    gate = asyncio.Semaphore(4)

    async def one(story: Story) -> None:
        async with gate:
            made = await api.post(
                "/v1/interviews",
                json={
                    "title": f"{story.tag} Zoom interview",
                    "candidate": {
                        "name": f"Candidate {story.n}",
                        "email": f"c{story.n}@example.org",
                    },
                    "interviewers": [{"email": story.interviewer}],
                    "organizer": {"email": story.host.mailbox},
                    "start": story.start.isoformat(),
                    "end": story.end.isoformat(),
                    "time_zone": "Europe/London",
                    "meeting": {"type": "zoom"},
                },
            )
            assert made.status_code == 201, made.text
            story.id = made.json()["id"]

    await asyncio.gather(*(one(s) for s in stories))


async def step(api: httpx.AsyncClient, story: Story, kind: str, args: dict[str, Any]) -> str | None:
    """Make one change through the API; a problem, or None."""
    base, body = f"/v1/interviews/{story.id}", None
    if kind == "reschedule":
        story.start, story.minutes = args["start"], args["minutes"]
        body = {"start": story.start.isoformat(), "end": story.end.isoformat()}
    elif kind == "cancel":
        body = {"message": f"Cancelled {story.n}"}
    story.status = {"confirm": "live", "reschedule": "live", "cancel": "cancelled"}[kind]
    try:
        answer = await api.post(f"{base}/{kind}", json=body)
    except httpx.HTTPError as exc:
        story.done.append(f"{kind} -> {exc!r}")
        return f"{story.tag} {kind}: {exc!r}"
    sequence = answer.json().get("sequence") if answer.status_code == 200 else None
    story.done.append(
        f"{clock()} {kind} -> {answer.status_code} sequence {sequence} "
        f"{story.start:%m-%d %H:%M} {story.minutes} min"
    )
    return None if answer.status_code == 200 else f"{story.tag} {kind}: {answer.text[:300]}"


# -- the chaos -------------------------------------------------------------------------------


@dataclass
class Kills:
    """What the kills hit: how many landed while a meeting Zoom had made was unrecorded."""

    planned: int
    in_window: list[list[str]] = field(default_factory=list)  # per kill: interviews in limbo
    at: list[str] = field(default_factory=list)  # when each kill landed (UTC)

    @property
    def seen(self) -> set[str]:
        return {i for found in self.in_window for i in found}


async def unrecorded(
    conn: psycopg.AsyncConnection[Any], zoom: ZoomSandbox, seen: set[str]
) -> list[str]:
    """Live interviews whose create is begun but not recorded while Zoom already has the
    meeting: the moment between Zoom's answer and our commit (each counted once: a row a
    kill left so stays until the next worker finds its meeting)."""
    writing = [r[0] for r in await (await conn.execute(_WRITING)).fetchall()]
    if not writing:
        return []
    with zoom.lock:
        keys = {k for m in zoom.meetings.values() for k in KEY.findall(m.agenda)}
    return [i for i in writing if i in keys and i not in seen]


async def chaos(
    stack: ZoomFaultStack,
    workers: Workers,
    jobs: procrastinate.App,
    hosts: list[Host],
    rng: random.Random,
    kills: Kills,
) -> None:
    """Kill the worker a random moment after it starts taking jobs (every other time, the
    first moment a meeting Zoom made is not yet recorded, if one comes soon), put its jobs
    back, start another; each time, one host's Zoom loses the answers to its next writes."""
    async with await psycopg.AsyncConnection.connect(stack.database_uri, autocommit=True) as conn:
        for _ in range(kills.planned):
            await workers.registered(workers.live_id)
            stack.zoom.set_faults(
                rng.choice(hosts).account,
                drop_response_after_commit_next=rng.randint(1, 2),
                drop_response_status=rng.choice([0, 504]),
            )
            aimed, delay = rng.random() < 0.5, rng.uniform(0.3, 2.0)
            await asyncio.sleep(delay if not aimed else 0.3)
            deadline = time.monotonic() + (delay + 1.5 if aimed else 0.0)
            found = await unrecorded(conn, stack.zoom, kills.seen)
            while aimed and not found and time.monotonic() < deadline:
                await asyncio.sleep(0.03)
                found = await unrecorded(conn, stack.zoom, kills.seen)
            workers.kill()
            kills.in_window.append(found)
            kills.at.append(clock())
            await workers.put_back_stalled(jobs)
            workers.start()


async def bring_forward(database_uri: str) -> int:
    """Retries the job engine scheduled during the faults run now (the faults are over)."""
    async with await psycopg.AsyncConnection.connect(database_uri, autocommit=True) as conn:
        done = await conn.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() "
            "WHERE status = 'todo' AND scheduled_at > now() AND task_name = ANY(%s)",
            [list(WORK_TASKS)],
        )
        return done.rowcount


# -- the checks ------------------------------------------------------------------------------


def meetings_with_key(zoom: ZoomSandbox, user: User, key: str) -> list[Meeting]:
    return [m for m in zoom.meetings_of(user) if key in KEY.findall(m.agenda)]


def check_live(
    story: Story, view: dict[str, Any], zoom: ZoomSandbox, events: list[Any]
) -> list[str]:
    """One meeting on the host's account, at the final time and length, whose details are
    the interview's and in its one, final Outlook event."""
    problems = []
    times = (datetime.fromisoformat(view["start"]), datetime.fromisoformat(view["end"]))
    if view["status"] not in ("confirmed", "rescheduled") or times != (story.start, story.end):
        problems.append(f"hiresync says {view['status']} {times[0]}–{times[1]}")
    if view["meeting"]["problem"]:
        problems.append(f"meeting problem: {view['meeting']['problem']}")
    links = [(c["state"], c["synced_sequence"]) for c in view["calendars"]]
    if links != [("synced", view["sequence"])]:
        problems.append(f"calendar link {view['calendars']} is not at sequence {view['sequence']}")
    found = meetings_with_key(zoom, story.host.zoom_user, story.id)
    if len(found) != 1:
        return [*problems, f"{len(found)} Zoom meetings carry its key, not 1"]
    meeting, got = found[0], view["meeting"]
    if (meeting.start_time, meeting.duration) != (story.start, story.minutes):
        problems.append(f"Zoom has it at {meeting.start_time} for {meeting.duration} min")
    link = f"/j/{meeting.id}?pwd={meeting.encrypted_password}"
    shown = (got["meeting_id"], got["passcode"], (got["url"] or "").endswith(link))
    if shown != (str(meeting.id), meeting.password, True):
        problems.append(f"the interview shows {got}, Zoom has {meeting.id} {meeting.password}")
    mine = [e for e in events if story.id in {v for _, v in e.extended.values()}]
    if len(mine) != 1:
        return [*problems, f"{len(mine)} Outlook events, not 1"]
    event = mine[0]
    if (event.start, event.end, event.is_cancelled) != (story.start, story.end, False):
        problems.append(f"the event says {event.start}–{event.end} cancelled={event.is_cancelled}")
    if not got["url"] or got["url"] not in event.body:
        problems.append("the event's body lacks the join URL")
    if [c["event_id"] for c in view["calendars"]] != [event.id]:
        problems.append(f"hiresync links {view['calendars']}, not {event.id}")
    return problems


def check_cancelled(
    story: Story, view: dict[str, Any], zoom: ZoomSandbox, events: list[Any]
) -> list[str]:
    """No meeting left in Zoom, no live event in Outlook."""
    problems = [] if view["status"] == "cancelled" else [f"hiresync says {view['status']}"]
    left = meetings_with_key(zoom, story.host.zoom_user, story.id)
    if left:
        problems.append(f"{len(left)} Zoom meeting(s) left: {[m.id for m in left]}")
    mine = [
        e for e in events if story.id in {v for _, v in e.extended.values()} and not e.is_cancelled
    ]
    if mine:
        problems.append(f"{len(mine)} live Outlook event(s) left")
    return problems


def history(
    story: Story,
    view: dict[str, Any],
    zoom: ZoomSandbox,
    found: list[str],
    said: list[str],
    kills: Kills,
) -> str:
    """One interview's story, for the failure message: what the test did, the kills that
    found its meeting unrecorded, what hiresync recorded and its workers logged, what Zoom
    holds."""
    lines = [f"{story.tag} {story.id} host={story.host.mailbox} final={story.status}"]
    lines += [f"  wrong: {f}" for f in found]
    lines += [f"  did: {d}" for d in story.done]
    lines += [
        f"  kill {k + 1} at {at} found its meeting made in Zoom, not yet recorded"
        for k, (at, limbo) in enumerate(zip(kills.at, kills.in_window, strict=True))
        if story.id in limbo
    ]
    lines += [f"  history: {h['at']} {h['action']} {h['details']}" for h in view["history"]]
    lines += [f"  calendar: {c}" for c in view["calendars"]]
    lines.append(f"  meeting: {view['meeting']}")
    lines += [f"  worker {line}" for line in said if story.id in line]
    lines += [
        f"  in Zoom: {m.id} created {m.created_at} at {m.start_time} for {m.duration} min"
        for m in meetings_with_key(zoom, story.host.zoom_user, story.id)
    ]
    return "\n".join(lines)


def worker_log(stack: ZoomFaultStack) -> tuple[Counter[str], list[str]]:
    """What the workers said: Zoom retries by reason and lost creates recovered, counted;
    every line, in order, as "n time event fields" (n: which worker)."""
    counted: Counter[str] = Counter()
    lines: list[tuple[str, str]] = []
    for path in stack.logs.glob("worker-*.log"):
        worker = path.stem.removeprefix("worker-")
        for line in path.read_text(errors="replace").splitlines():
            if not (line.startswith("{") and line.endswith("}")):  # a kill may cut the last
                continue
            entry = json.loads(line)
            event, at = entry.pop("event", ""), entry.pop("timestamp", "")
            if event == "zoom.retry":
                counted[f"retry {entry.get('reason')}"] += 1
            elif event == "zoom.create_answer_lost":
                counted[f"lost create recovered={entry.get('recovered')}"] += 1
            entry.pop("level", None)
            lines.append((at, f"{worker}: {at[11:23]} {event} {entry}"))
    return counted, [text for _, text in sorted(lines)]


# -- the test --------------------------------------------------------------------------------


async def test_zoom_meetings_are_made_exactly_once_through_crashes_and_faults(
    zoom_fault_stack: ZoomFaultStack, zoom_team: tuple[Org, list[Host], list[str], Workers]
) -> None:
    org, hosts, panel, workers = zoom_team
    stack, zoom, rng = zoom_fault_stack, zoom_fault_stack.zoom, random.Random(SEED)
    zoom.random = random.Random(SEED)
    stories = [plan(n, rng, hosts, panel) for n in range(INTERVIEWS)]
    order = interleave(stories, rng)
    kills = Kills(rng.randint(6, 10))
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {org.api_key}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=30) as api:
        await create_drafts(api, stories)
        for host in hosts:
            zoom.set_faults(host.account, **ZOOM_FAULTS)
        jobs = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=stack.database_uri)
        )
        async with jobs.open_async():
            began = time.monotonic()
            await asyncio.gather(
                drive(api, order, problems, step, OPS_SECONDS),
                chaos(stack, workers, jobs, hosts, rng, kills),
            )
            chaos_s = time.monotonic() - began
            for host in hosts:
                zoom.set_faults(host.account, **ZOOM_NO_FAULTS)
            forward = await bring_forward(stack.database_uri)
            left = await drain(stack.database_uri, workers)
        views = {s.n: (await api.get(f"/v1/interviews/{s.id}")).json() for s in stories}
    workers.stop()

    stats = zoom.stats
    met = {
        "429": sum(stats.throttled.values()),
        "503": sum(stats.unavailable.values()),
        "lost answer": sum(stats.dropped.values()),
        "slow answer": sum(stats.slow.values()),
    }
    counted, said = worker_log(stack)
    relinked = sum(
        h["action"] == "zoom_meeting_relinked" for v in views.values() for h in v["history"]
    )
    report = (
        f"seed {SEED} (HIRESYNC_FAULT_SEED): {workers.kills} kills, "
        f"{sum(map(bool, kills.in_window))} while a meeting Zoom made was not yet recorded "
        f"({len(kills.seen)} such meetings); "
        f"{len(order)} changes in {chaos_s:.0f} s; Zoom faults {met}; "
        f"meetings found again (zoom_meeting_relinked): {relinked}; worker saw {dict(counted)}; "
        f"stalled jobs put back: {sum(workers.stalled.values())}, in vain: "
        f"{list(workers.retry_errors)[:5]}; retries brought forward: {forward}"
    )
    print(report)
    assert not problems, f"{report}\n{len(problems)} changes refused:\n" + "\n".join(problems[:20])
    assert not left, f"{report}\njobs never done:\n" + "\n".join(left[:20])
    met["found again"] = relinked  # zoom_meeting_relinked: a crash (or lost answer) recovered
    assert all(met.values()), f"{report}\nnot every fault was met: {met}"
    assert workers.kills == kills.planned

    events = {h.mailbox: organizer_events(stack.sandbox, h.mailbox) for h in hosts}
    failures: dict[int, list[str]] = {}
    for story in stories:
        check = check_live if story.status == "live" else check_cancelled
        found = check(story, views[story.n], zoom, events[story.host.mailbox])
        if found:
            failures[story.n] = found
    host_of = {s.id: s.host.zoom_user.id for s in stories}
    strays = [
        f"meeting {m.id} {m.topic!r} of {m.host_id}, keys {KEY.findall(m.agenda)}"
        for m in list(zoom.meetings.values())
        if not any(host_of.get(key) == m.host_id for key in KEY.findall(m.agenda))
    ]
    shown = [
        history(stories[n], views[n], zoom, found, said, kills)
        for n, found in list(failures.items())[:8]
    ]
    assert not failures and not strays, (
        f"{report}\nkills at {kills.at}\nZoom meetings of no interview: {strays[:10]}\n"
        f"{len(failures)} interviews wrong:\n\n" + "\n\n".join(shown)
    )
