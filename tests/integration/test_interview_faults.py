"""Issue #4's fault test: 200 interviews are confirmed, rescheduled, edited and cancelled
while ``hiresync worker`` is SIGKILLed at random moments and the Microsoft sandbox answers
with 429s, 503s, timeouts and lost answers to committed writes. Afterwards each interview
is in each calendar exactly once with its final time (cancelled ones in none), every
meeting message Microsoft sent leaves each attendee with the final version, and every
e-mail hiresync owed a candidate reached the SMTP server once.

Its own database, sandbox, SMTP server and API server (no in-process worker), so the only
worker is the subprocess this test kills. After each kill the dead worker's jobs are put
back at once with the calls the ``retry_stalled_jobs`` task makes (``get_stalled_jobs``,
``retry_job``), instead of waiting the task's 30 s: no worker is alive at that moment, so
every job still "doing" is one the kill interrupted.

SMTP has no idempotency key: a kill after the server accepted an e-mail and before hiresync
recorded it sends it again, with the same Message-ID, UID and SEQUENCE (which mail and
calendar clients take as the same message; ``services.candidate_mail``). Such a second copy
is allowed only for an e-mail whose job a kill interrupted; any other is a failure.

Seeded: ``HIRESYNC_FAULT_SEED=n`` replays a failing run's plan, kills and faults (the
moments the kills land still vary with the machine's pace).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import psycopg
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status
from psycopg import sql

from hiresync.api.app import create_app
from hiresync.config import Settings
from hiresync.sandbox.microsoft import MicrosoftSandbox
from hiresync.sandbox.microsoft import create_app as sandbox_app
from hiresync.sandbox.microsoft.model import Event, SentMessage
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.store import migrate
from hiresync.store.embedded import with_database
from tests.conftest import MailDrop, Org, Stack, org_factory
from tests.integration.browser import IT_ADMIN, Browser, connect_as, wait_for
from tests.servers import free_port, serve_in_thread

SEED = int(os.environ.get("HIRESYNC_FAULT_SEED", "4004"))
INTERVIEWS = 200
OPS_SECONDS = 30.0  # how long the changes are spread over, while the worker is killed
DRAIN_SECONDS = 90.0
TIMEOUT_SECONDS = 1.0  # the worker's Graph timeout; slow answers come later than this
FAULTS = {
    "throttle_rate": 0.06,
    "unavailable_rate": 0.04,
    "slow_rate": 0.03,
    "slow_ms": 1500,
    "slow_write_applied": 0.5,
    "retry_after": 1,
}
NO_FAULTS = {
    "throttle_rate": 0.0,
    "unavailable_rate": 0.0,
    "slow_rate": 0.0,
    "drop_response_after_commit_next": 0,
}
WORK_TASKS = ("hiresync:push_interview", "hiresync:send_candidate_email")
POOLS = 2  # a worker process runs one Procrastinate worker per queue (jobs.worker)


# -- the stack -------------------------------------------------------------------------------


@dataclass
class FaultStack:
    url: str
    sandbox: MicrosoftSandbox
    database_uri: str
    mail: MailDrop
    env: dict[str, str]
    logs: Path


def worker_env(settings: Settings, database_uri: str) -> dict[str, str]:
    """The environment that gives ``hiresync worker`` the server's settings."""
    return {
        **os.environ,
        "HIRESYNC_DATABASE_URL": database_uri,
        "HIRESYNC_DATA_DIR": str(settings.data_dir),
        "HIRESYNC_BASE_URL": settings.base_url,
        "HIRESYNC_ENCRYPTION_KEYS": settings.encryption_keys,
        "HIRESYNC_SESSION_SECRET": settings.session_secret,
        "HIRESYNC_MICROSOFT_CLIENT_ID": settings.microsoft_client_id,
        "HIRESYNC_MICROSOFT_CLIENT_SECRET": settings.microsoft_client_secret,
        "HIRESYNC_MICROSOFT_LOGIN_URL": settings.microsoft_login_url,
        "HIRESYNC_MICROSOFT_GRAPH_URL": settings.microsoft_graph_url,
        "HIRESYNC_MICROSOFT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "HIRESYNC_SMTP_HOST": settings.smtp_host,
        "HIRESYNC_SMTP_PORT": str(settings.smtp_port),
        "HIRESYNC_SMTP_STARTTLS": "false",
        "HIRESYNC_MAIL_FROM": settings.mail_from,
        "HIRESYNC_MAIL_FROM_NAME": settings.mail_from_name,
        "HIRESYNC_LOG_LEVEL": "WARNING",
        "HIRESYNC_LOG_JSON": "true",
    }


@contextmanager
def own_database(pg_admin_uri: str, prefix: str) -> Iterator[str]:
    """A migrated database of the caller's own (a fault test kills workers and floods
    queues: nothing shared with other tests), dropped afterwards; yields its URI."""
    name = f"hiresync_{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        uri = with_database(pg_admin_uri, name)
        migrate.upgrade(uri)
        yield uri
    finally:
        with psycopg.connect(pg_admin_uri, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def fault_stack(
    pg_admin_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    """A database, sandbox, SMTP server and API server of this test's own; no worker."""
    with own_database(pg_admin_uri, "faults") as uri:
        yield from _fault_stack(uri, tmp_path_factory)


def _fault_stack(uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    sandbox = MicrosoftSandbox.seeded(seed=SEED)
    drop = MailDrop()
    smtp = Controller(drop, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("faults")
    settings = Settings(
        data_dir=data_dir,
        database_url=uri,
        base_url=base,
        encryption_keys="faults:" + base64.b64encode(os.urandom(32)).decode(),
        session_secret=secrets.token_urlsafe(32),
        microsoft_client_id=sandbox.demo_client_id,
        microsoft_client_secret=sandbox.demo_client_secret,
        microsoft_login_url=f"{base}/sandbox/microsoft",
        microsoft_graph_url=f"{base}/sandbox/microsoft/graph",
        run_worker=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_from="interviews@hiresync.test",
        mail_from_name="Acme Hiring",
    )
    app = create_app(settings, mounts={"/sandbox/microsoft": sandbox_app(sandbox)})
    try:
        with serve_in_thread(app, port=port) as url:
            yield FaultStack(url, sandbox, uri, drop, worker_env(settings, uri), data_dir)
    finally:
        smtp.stop()


class Workers:
    """``hiresync worker`` processes, one at a time: started, SIGKILLed, replaced."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0
        self.kills = 0
        self.stalled: Counter[tuple[str, str]] = Counter()  # (task, args) put back after kills
        self.retry_errors: dict[str, None] = {}  # job put back in vain: why (ordered set)
        self.live_id = 0  # procrastinate's newest id of the running worker process
        self.live_ids: set[int] = set()  # the ids of its pools (one per queue: jobs.worker)
        self.superseded = 0  # stalled jobs closed, a newer one of their lock waiting

    def start(self) -> None:
        self.started += 1
        log = (self.stack.logs / f"worker-{self.started}.log").open("wb")
        exe = Path(sys.executable).with_name("hiresync")
        self.proc = subprocess.Popen(
            [str(exe), "worker", "--concurrency", "8", "--name", f"faults-{self.started}"],
            # Unbuffered: a SIGKILL must not take the log lines that say which faults it met.
            env={**self.stack.env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    async def registered(self, after: int, timeout: float = 30.0) -> int:
        """The newest id of a worker process registered later than ``after``, once each of
        its pools (``POOLS``: one per queue) is."""
        deadline = time.monotonic() + timeout
        async with await psycopg.AsyncConnection.connect(
            self.stack.database_uri, autocommit=True
        ) as conn:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"worker {self.started} exited: {self.log_tail()}")
                rows = await (
                    await conn.execute(
                        "SELECT id FROM procrastinate_workers WHERE id > %s ORDER BY id DESC",
                        (after,),
                    )
                ).fetchall()
                if len(rows) >= POOLS:
                    self.live_ids = {int(r[0]) for r in rows[:POOLS]}
                    self.live_id = max(self.live_ids)
                    return self.live_id
                await asyncio.sleep(0.05)
        raise AssertionError(f"worker {self.started} never registered: {self.log_tail()}")

    async def put_back_stalled(self, jobs: procrastinate.App) -> None:
        """What ``retry_stalled_jobs`` does 30 s after a worker dies, now. No worker is
        alive, so a heartbeat of any age marks the dead one's jobs. As there, a job whose
        queueing lock a newer waiting job holds is closed: that one does the same work."""
        manager = jobs.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=0):
            self.stalled[job.task_name, json.dumps(job.task_kwargs, sort_keys=True)] += 1
            try:
                await manager.retry_job(job, retry_at=datetime.now(UTC))
            except UniqueViolation:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                self.superseded += 1
            except Exception as exc:  # recorded: the drain then shows what it costs
                why = getattr(exc, "constraint_name", None) or str(exc).strip()
                key = f"job {job.id} {job.task_kwargs}: {type(exc).__name__} {why}"
                self.retry_errors[key] = None

    def log_tail(self, lines: int = 15) -> str:
        path = self.stack.logs / f"worker-{self.started}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def retry_reasons(self) -> Counter[str]:
        """Why the Graph client retried, over every worker's log: the faults it really met."""
        reasons: Counter[str] = Counter()
        for path in self.stack.logs.glob("worker-*.log"):
            for line in path.read_text(errors="replace").splitlines():
                # A killed worker's last line may be cut short.
                if line.startswith("{") and line.endswith("}") and '"graph.retry"' in line:
                    reasons[str(json.loads(line).get("reason"))] += 1
        return reasons


# -- the plan --------------------------------------------------------------------------------


@dataclass
class Story:
    """One interview as the test drives it: what it should end as, and what was done."""

    n: int
    by_email: bool
    organizer: str
    interviewers: list[str]
    title: str
    start: datetime
    ops: deque[tuple[str, dict[str, Any]]]
    id: str = ""
    status: str = "draft"  # draft | live | cancelled
    sent: bool = False
    message: str = ""  # to the candidate, in the invitation's body
    done: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"[#{self.n}]"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=45)

    @property
    def candidate(self) -> str:
        return f"candidate{self.n}.{SEED}@example.org"

    @property
    def attendees(self) -> list[str]:
        """Who the calendar invites: the candidate too, unless hiresync e-mails them."""
        return [*self.interviewers] if self.by_email else [*self.interviewers, self.candidate]


def _slot(rng: random.Random) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=rng.randint(3, 60))
    return datetime(
        day.year, day.month, day.day, rng.randint(8, 16), 15 * rng.randint(0, 3), tzinfo=UTC
    )


def plan(n: int, rng: random.Random, organizers: list[str], panel: list[str]) -> Story:
    """Half invite the candidate by e-mail; most are confirmed, then moved, edited,
    cancelled in a random order; a few never leave hiresync."""
    story = Story(
        n,
        by_email=n % 2 == 1,
        organizer=organizers[n % len(organizers)],
        interviewers=rng.sample(panel, 2),
        title=f"[#{n}] Interview",
        start=_slot(rng),
        ops=deque(),
    )
    if rng.random() < 0.04:
        if rng.random() < 0.5:
            story.ops.append(("cancel", {}))
        return story
    later: list[tuple[str, dict[str, Any]]] = []
    for chance in (0.55, 0.25):
        if rng.random() < chance:
            later.append(("reschedule", {"start": _slot(rng)}))
    if rng.random() < 0.4:
        kind = rng.choice(["title", "message", "swap", "notes"])
        joining = rng.choice([p for p in panel if p not in story.interviewers])
        later.append((kind, {"out": rng.choice(story.interviewers), "in": joining}))
    rng.shuffle(later)
    story.ops.extend([("confirm", {}), *later])
    if rng.random() < 0.25:
        story.ops.append(("cancel", {}))
    return story


def interleave(stories: list[Story], rng: random.Random) -> list[tuple[Story, str, dict[str, Any]]]:
    """Every story's steps in order, the stories' steps shuffled together."""
    pending = [s for s in stories if s.ops]
    order = []
    while pending:
        story = rng.choice(pending)
        order.append((story, *story.ops.popleft()))
        if not story.ops:
            pending.remove(story)
    return order


def change(story: Story, kind: str, args: dict[str, Any]) -> tuple[str, str, Any]:
    """The API call for one change (method, path, body); the story takes it on."""
    base = f"/v1/interviews/{story.id}"
    if kind == "confirm":
        story.status, story.sent = "live", True
        return "POST", f"{base}/confirm", None
    if kind == "reschedule":
        story.start = args["start"]
        times = {"start": story.start.isoformat(), "end": story.end.isoformat()}
        return "POST", f"{base}/reschedule", times
    if kind == "title":
        story.title = f"{story.tag} Interview, revised"
        return "PATCH", base, {"title": story.title}
    if kind == "message":
        story.message = f"See you soon, candidate {story.n}."
        return "PATCH", base, {"message_to_candidate": story.message}
    if kind == "swap":
        story.interviewers = [p for p in story.interviewers if p != args["out"]] + [args["in"]]
        return "PATCH", base, {"interviewers": [{"email": p} for p in story.interviewers]}
    if kind == "notes":
        return "PATCH", base, {"notes_for_interviewers": "Ask about queues."}
    story.status = "cancelled"
    return "POST", f"{base}/cancel", {"message": f"Cancelled {story.n}"}


async def step(api: httpx.AsyncClient, story: Story, kind: str, args: dict[str, Any]) -> str | None:
    """Make one change through the API; a problem, or None."""
    method, path, body = change(story, kind, args)
    try:
        answer = await api.request(method, path, json=body)
    except httpx.HTTPError as exc:
        story.done.append(f"{kind} -> {exc!r}")
        return f"{story.tag} {kind}: {exc!r}"
    sequence = answer.json().get("sequence") if answer.status_code == 200 else None
    story.done.append(
        f"{kind} -> {answer.status_code} sequence {sequence} {story.start:%m-%d %H:%M}"
    )
    if answer.status_code != 200:
        return f"{story.tag} {kind}: {answer.status_code} {answer.text[:300]}"
    return None


# -- checks ----------------------------------------------------------------------------------


def organizer_events(sandbox: MicrosoftSandbox, mailbox: str) -> list[Event]:
    user = sandbox.find_mailbox(CONTOSO_ID, mailbox)
    assert user is not None
    return [e for e in user.events if e.organizer.lower() == user.mail.lower()]


def copies(sandbox: MicrosoftSandbox, mailbox: str, ical_uid: str) -> list[Event]:
    user = sandbox.find_mailbox(CONTOSO_ID, mailbox)
    assert user is not None
    return [e for e in user.events if e.ical_uid == ical_uid and e.organizer.lower() != mailbox]


def check_calendars(
    story: Story,
    view: dict[str, Any],
    events: list[Event],
    sandbox: MicrosoftSandbox,
    sent: list[SentMessage],
) -> list[str]:
    """The organizer's calendar, the meeting messages, the interviewers' own calendars."""
    live, attendees = story.status == "live", story.attendees
    problems = check_event(story, view, events) if live else []
    mine = [e for e in events if story.id in {value for _, value in e.extended.values()}]
    if not live and mine:
        problems.append(f"{len(mine)} event(s) left in {story.organizer}'s calendar")
    if len({m.ical_uid for m in sent}) > 1:
        problems.append(f"{len({m.ical_uid for m in sent})} meetings were sent out, not 1")
    if live and not sent:
        problems.append("no meeting message went out")
    by_person: dict[str, list[SentMessage]] = defaultdict(list)
    for message in sent:
        by_person[message.to.lower()].append(message)
    if story.by_email and story.candidate in by_person:
        problems.append("Microsoft invited the candidate hiresync e-mails")
    final = (story.start, story.end, story.title)
    for person, messages in by_person.items():
        requests, last = sum(m.kind == "request" for m in messages), messages[-1]
        if requests != 1:
            problems.append(f"{person} got {requests} meeting requests")
        if live and person in attendees:
            if last.kind == "cancellation" or (last.start, last.end, last.subject) != final:
                problems.append(f"{person} last heard: {last.kind} {last.subject!r} {last.start}")
        elif last.kind != "cancellation":
            problems.append(f"{person} was never told it is off for them ({last.kind} last)")
        if person.endswith("@contoso.com"):
            theirs = [
                (c.start, c.end)
                for c in copies(sandbox, person, messages[0].ical_uid)
                if not c.is_cancelled
            ]
            if theirs != ([final[:2]] if live and person in attendees else []):
                problems.append(f"{person}'s own calendar shows it at {theirs}")
    return problems


def check_event(story: Story, view: dict[str, Any], events: list[Event]) -> list[str]:
    """A live interview: one event, at its final time, with its final attendees."""
    mine = [e for e in events if story.id in {value for _, value in e.extended.values()}]
    if len(mine) != 1:
        return [f"{len(mine)} events in {story.organizer}'s calendar, not 1"]
    event, problems = mine[0], []
    shown = (event.start, event.end, event.subject, event.is_cancelled)
    if shown != (story.start, story.end, story.title, False):
        problems.append(f"the event says {shown}")
    if story.message not in event.body:
        problems.append(f"the event's text lacks {story.message!r}")
    if sorted(a.address.lower() for a in event.attendees) != sorted(story.attendees):
        problems.append(f"the event's attendees are {[a.address for a in event.attendees]}")
    if [c["event_id"] for c in view["calendars"]] != [event.id]:
        problems.append(f"hiresync links {view['calendars']}, not {event.id}")
    return problems


def received_mail(drop: MailDrop) -> dict[str, list[tuple[str, Any]]]:
    """Arrived e-mails by candidate address: (Message-ID, VEVENT) in order of arrival."""
    found: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for _, recipients, raw in drop.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        calendar = Calendar.from_ical(part.get_content())
        event = calendar.walk("VEVENT")[0]
        event["X-METHOD"] = str(calendar["METHOD"])
        for recipient in recipients:
            found[recipient.lower()].append((str(message["Message-ID"]), event))
    return found


def check_mail(
    story: Story, view: dict[str, Any], arrived: list[tuple[str, Any]], redelivered: int
) -> list[str]:
    """One e-mail per row hiresync wrote for the candidate, the last one the final state."""
    owed = {(e["sequence"], e["kind"]) for e in view["candidate_emails"]}
    problems = [
        f"e-mail {e['kind']} {e['sequence']} is {e['status']}"
        for e in view["candidate_emails"]
        if e["status"] != "sent"
    ]
    if not story.by_email:
        return problems + (
            [f"{len(arrived)} e-mails to a candidate the calendar invites"] if arrived else []
        )
    kinds = {"REQUEST": ("invitation", "update"), "CANCEL": ("cancellation",)}
    got: dict[str, tuple[int, str]] = {}
    for message_id, event in arrived:
        sequence, method = int(event["SEQUENCE"]), event["X-METHOD"]
        kind = next((k for k in kinds[method] if (sequence, k) in owed), "unowed")
        if got.get(message_id, (sequence, kind)) != (sequence, kind):
            problems.append(f"Message-ID {message_id} reused for another version")
        got[message_id] = (sequence, kind)
        if not str(event["UID"]).startswith(story.id):
            problems.append(f"e-mail {sequence} has UID {event['UID']}")
    copies_of = Counter(message_id for message_id, _ in arrived)
    extra = sum(copies_of.values()) - len(copies_of)
    if extra > redelivered:
        problems.append(f"{extra} e-mail(s) arrived twice; kills interrupted only {redelivered}")
    if sorted(got.values()) != sorted(owed):
        problems.append(f"e-mails arrived {sorted(got.values())}, owed {sorted(owed)}")
    if story.sent and arrived:
        last = max((e for _, e in arrived), key=lambda e: int(e["SEQUENCE"]))
        if story.status == "cancelled":
            if last["X-METHOD"] != "CANCEL":
                problems.append("the last e-mail does not cancel it")
        elif (last["X-METHOD"], last["DTSTART"].dt, last["DTEND"].dt, str(last["SUMMARY"])) != (
            "REQUEST",
            story.start,
            story.end,
            story.title,
        ):
            problems.append(f"the last e-mail says {last['SUMMARY']} {last['DTSTART'].dt}")
    return problems


def owed_mail(story: Story) -> set[str]:
    """Kinds of e-mail the changes done must have owed (edits may owe more updates)."""
    if not story.by_email or not story.sent:
        return set()
    kinds = {"invitation"}
    if any(d.startswith("reschedule") for d in story.done):
        kinds.add("update")
    if story.status == "cancelled":
        kinds.add("cancellation")
    return kinds


STATUSES = {"draft": ("draft",), "live": ("confirmed", "rescheduled"), "cancelled": ("cancelled",)}


def check_hiresync(story: Story, view: dict[str, Any]) -> list[str]:
    """hiresync's own record: what was done, and its calendar link caught up with it."""
    problems = []
    times = (datetime.fromisoformat(view["start"]), datetime.fromisoformat(view["end"]))
    if view["status"] not in STATUSES[story.status] or view["title"] != story.title:
        problems.append(f"hiresync says {view['status']} {view['title']!r}")
    if times != (story.start, story.end):
        problems.append(f"hiresync says {times[0]}")
    links = view["calendars"]
    if story.sent and [(c["state"], c["synced_sequence"]) for c in links] != [
        ("synced", view["sequence"])
    ]:
        problems.append(f"calendar link {links} is not at sequence {view['sequence']}")
    if not story.sent and links:
        problems.append("a draft reached a calendar")
    owed = owed_mail(story) - {e["kind"] for e in view["candidate_emails"]}
    if owed:
        problems.append(f"no {sorted(owed)} e-mail is on record for the candidate")
    return problems


async def interrupted_mail(database_uri: str, workers: Workers) -> Counter[str]:
    """Per interview, how many of its e-mail jobs a kill interrupted (each may have been
    accepted by the SMTP server just before the kill, and so be sent again)."""
    async with await psycopg.AsyncConnection.connect(database_uri) as conn:
        rows = await (
            await conn.execute("SELECT id::text, interview_id::text FROM candidate_emails")
        ).fetchall()
    owner = dict(rows)
    found: Counter[str] = Counter()
    for (task, args), count in workers.stalled.items():
        if task == "hiresync:send_candidate_email":
            found[owner.get(json.loads(args)["email_id"], "")] += count
    return found


# -- the test --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def team(fault_stack: FaultStack) -> Iterator[tuple[Org, list[str], list[str], Workers]]:
    """Three organizers and eight interviewers with sandbox mailboxes, connected; a worker."""
    sandbox = fault_stack.sandbox
    organizers = [f"organizer{i}.{SEED}@contoso.com" for i in range(3)]
    panel = [f"interviewer{i}.{SEED}@contoso.com" for i in range(8)]
    for mail in organizers + panel:
        sandbox.add_user(
            CONTOSO_ID, display_name=mail.split("@")[0], mail=mail, time_zone="Europe/London"
        )
    stack = Stack(fault_stack.url, Settings(), sandbox, fault_stack.database_uri)
    make = org_factory(stack)
    org: Org = next(make)([(m.split("@")[0], m) for m in organizers + panel])
    workers = Workers(fault_stack)
    workers.start()
    browser = Browser(fault_stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = wait_for(
        lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 11, timeout=60
    )
    assert matched, workers.log_tail()
    try:
        yield org, organizers, panel, workers
    finally:
        workers.stop()
        make.close()


async def test_interviews_survive_killed_workers_and_a_faulty_microsoft(
    fault_stack: FaultStack, team: tuple[Org, list[str], list[str], Workers]
) -> None:
    org, organizers, panel, workers = team
    sandbox, rng = fault_stack.sandbox, random.Random(SEED)
    sandbox.random = random.Random(SEED)
    stories = [plan(n, rng, organizers, panel) for n in range(INTERVIEWS)]
    order = interleave(stories, rng)
    kills = rng.randint(8, 15)
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {org.api_key}"}
    async with httpx.AsyncClient(base_url=fault_stack.url, headers=headers, timeout=30) as api:
        await create_drafts(api, stories)
        sandbox.set_faults(CONTOSO_ID, **FAULTS)
        jobs = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=fault_stack.database_uri)
        )
        async with jobs.open_async():
            began = time.monotonic()
            await asyncio.gather(
                drive(api, order, problems), chaos(workers, jobs, sandbox, rng, kills)
            )
            chaos_s = time.monotonic() - began
            sandbox.set_faults(CONTOSO_ID, **NO_FAULTS)
            left = await drain(fault_stack.database_uri, workers)
        views = {s.n: (await api.get(f"/v1/interviews/{s.id}")).json() for s in stories}
    workers.stop()
    report = (
        f"seed {SEED} (HIRESYNC_FAULT_SEED), {workers.kills} kills, "
        f"{len(order)} changes in {chaos_s:.0f} s; stalled jobs put back: "
        f"{sum(workers.stalled.values())}, in vain: {list(workers.retry_errors)[:5]}"
    )
    refused = f"{len(problems)} changes refused:\n" + "\n".join(problems[:20])
    assert not problems, f"{report}\n{refused}"
    assert not left, f"{report}\njobs never done:\n" + "\n".join(left[:20])

    reasons = workers.retry_reasons()
    met = {
        "429": reasons["429"],
        "503": reasons["503"],
        # Answers later than the worker's timeout, counted where they were made: a timed-out
        # create is not retried in place (the job is), so the worker's log misses most.
        "timeout": sum(sandbox.stats.slow.values()),
        "lost answer": reasons["RemoteProtocolError"] + reasons["504"],
    }
    assert all(met.values()), f"{report}: the worker did not meet every fault: {met}"

    arrived = received_mail(fault_stack.mail)
    events = {m: organizer_events(sandbox, m) for m in organizers}
    outbox = sandbox.invitations(CONTOSO_ID)
    interrupted = await interrupted_mail(fault_stack.database_uri, workers)
    failures: dict[int, list[str]] = {}
    for story in stories:
        view = views[story.n]
        found = check_hiresync(story, view)
        sent = [m for m in outbox if story.tag in m.subject]
        found += check_calendars(story, view, events[story.organizer], sandbox, sent)
        mail = arrived.get(story.candidate, [])
        found += check_mail(story, view, mail, interrupted[story.id])
        if found:
            failures[story.n] = found
    ours = {s.id for s in stories}
    strays = [
        f"{mailbox}: {e.subject!r}"
        for mailbox, found_events in events.items()
        for e in found_events
        if not ours & {value for _, value in e.extended.values()}
    ]
    strays += [f"to {m.to}: {m.subject!r}" for m in outbox if "[#" not in m.subject]
    assert not strays, f"{report}\nevents of no interview: {strays[:10]}"
    shown = [history(stories[n], views[n], found) for n, found in list(failures.items())[:8]]
    assert not failures, f"{report}\n{len(failures)} interviews wrong:\n\n" + "\n\n".join(shown)


async def create_drafts(api: httpx.AsyncClient, stories: list[Story]) -> None:
    """Every interview as a draft (half invite the candidate by e-mail): no job yet."""
    gate = asyncio.Semaphore(4)

    async def one(story: Story) -> None:
        async with gate:
            made = await api.post(
                "/v1/interviews",
                json={
                    "title": story.title,
                    "candidate": {"name": f"Candidate {story.n}", "email": story.candidate},
                    "interviewers": [{"email": p} for p in story.interviewers],
                    "organizer": {"email": story.organizer},
                    "start": story.start.isoformat(),
                    "end": story.end.isoformat(),
                    "time_zone": "Europe/London",
                    "meeting": {"type": "custom_link", "url": f"https://meet.example/{story.n}"},
                },
            )
            assert made.status_code == 201, made.text
            story.id = made.json()["id"]
            if story.by_email:
                patched = await api.patch(
                    f"/v1/interviews/{story.id}", json={"candidate_invitations": "email"}
                )
                assert patched.status_code == 200, patched.text

    await asyncio.gather(*(one(s) for s in stories))


async def drive(
    api: httpx.AsyncClient,
    order: list[tuple[Any, str, dict[str, Any]]],
    problems: list[str],
    step: Callable[..., Awaitable[str | None]] = step,
    spread: float = OPS_SECONDS,
) -> None:
    """The changes, one after another (each made by ``step``), spread over ``spread`` s."""
    began = time.monotonic()
    for index, (story, kind, args) in enumerate(order):
        problem = await step(api, story, kind, args)
        if problem:
            problems.append(problem)
        ahead = began + spread * (index + 1) / len(order) - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def chaos(
    workers: Workers,
    jobs: procrastinate.App,
    sandbox: MicrosoftSandbox,
    rng: random.Random,
    kills: int,
) -> None:
    """Kill the worker a random moment after it starts taking jobs, put its jobs back,
    start another; each time, lose the answers to the next few writes."""
    for _ in range(kills):
        await workers.registered(workers.live_id)
        sandbox.set_faults(
            CONTOSO_ID,
            drop_response_after_commit_next=rng.randint(0, 2),
            drop_response_status=rng.choice([0, 504]),
        )
        await asyncio.sleep(rng.uniform(0.3, 2.5))
        workers.kill()
        await workers.put_back_stalled(jobs)
        workers.start()


async def drain(
    database_uri: str, workers: Workers, tasks: tuple[str, ...] = WORK_TASKS
) -> list[str]:
    """Wait until no job of ``tasks`` is waiting or running; what is left after DRAIN_SECONDS,
    or at once when a job is held by a dead worker (none will ever finish or free it)."""
    await workers.registered(workers.live_id)
    live = workers.live_ids
    deadline = time.monotonic() + DRAIN_SECONDS
    async with await psycopg.AsyncConnection.connect(database_uri, autocommit=True) as conn:
        while True:
            rows = await (
                await conn.execute(
                    "SELECT id, task_name, status::text, worker_id, attempts, args::text "
                    "FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                    "AND task_name = ANY(%s) ORDER BY id",
                    [list(tasks)],
                )
            ).fetchall()
            held = [r for r in rows if r[2] == "doing" and r[3] not in live]
            if held:
                return [f"{r} held by dead worker {r[3]}" for r in held] + [str(r) for r in rows]
            if not rows or time.monotonic() > deadline:
                return [str(r) for r in rows]
            if workers.proc is not None and workers.proc.poll() is not None:
                return [f"the last worker exited: {workers.log_tail()}"]
            await asyncio.sleep(0.2)


def history(story: Story, view: dict[str, Any], found: list[str]) -> str:
    """One interview's story, for the failure message."""
    lines = [f"{story.tag} {story.id} by_email={story.by_email} organizer={story.organizer}"]
    lines += [f"  wrong: {f}" for f in found]
    lines += [f"  did: {d}" for d in story.done]
    lines += [f"  history: {h['action']} {h['details']}" for h in view.get("history", [])]
    lines += [f"  calendar: {c}" for c in view.get("calendars", [])]
    lines += [f"  e-mail: {e}" for e in view.get("candidate_emails", [])]
    return "\n".join(lines)
