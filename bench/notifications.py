"""Benchmark (issue #6): Graph change notifications acknowledged by one server process.

``hiresync serve --no-worker`` runs in a process of its own on the embedded PostgreSQL (or
HIRESYNC_DATABASE_URL), with ``--calendars`` synced Microsoft calendars subscribed (their
clientState hashes stored as ``calendar_subscriptions.subscribe`` stores them). This script
POSTs genuine notifications at ``/webhooks/microsoft/calendar`` over keep-alive connections
(a bare asyncio HTTP/1.1 client: the client must not be what is measured), each naming a
random calendar, as Graph would: ``--per-post`` notifications to a POST (Graph batches them;
1 is the hardest case).

Two runs:

* **open loop at the target rate** (2,000 notifications/s for ``--seconds``): every POST has a
  scheduled time, and its latency is counted from that time (so a stall is not hidden by the
  client waiting for it: no coordinated omission);
* **closed loop** (``--connections`` POSTs in flight, as fast as answered): the ceiling.

Then every notification answered 202 must be a row in ``calendar_notifications``, and every
calendar notified must have its sync queued (one waiting job each). Targets: ≥ 2,000
notifications/s acknowledged, p99 < 50 ms, none lost.

    .venv/bin/python bench/notifications.py [--per-post 1] [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select, text  # noqa: E402

from freebusy import free_port, peak_rss_mb, start_server  # noqa: E402
from hiresync.config import Settings  # noqa: E402
from hiresync.runtime import Runtime  # noqa: E402
from hiresync.services import calendar_subscriptions, team  # noqa: E402
from hiresync.services.calendar_subscriptions import NOTIFY_PATH  # noqa: E402
from hiresync.store import migrate  # noqa: E402
from hiresync.store.tables import (  # noqa: E402
    CalendarAccount,
    CalendarNotification,
    SyncedCalendar,
)
from interviews import cpu_seconds  # noqa: E402


@dataclass(frozen=True)
class Subscription:
    id: str
    client_state: str
    user: str


async def subscribed(runtime: Runtime, count: int) -> tuple[uuid.UUID, list[Subscription]]:
    """An organization with ``count`` people whose Outlook calendars are synced and subscribed."""
    subs = []
    async with runtime.db.transaction() as session:
        org = await team.create_organization(session, "Bench", f"bench-{time.time_ns()}")
        for n in range(count):
            user = await team.add_user(
                session, org.id, team.NewUser(f"P{n}", f"p{n}@contoso.com", "interviewer", "UTC")
            )
            account = CalendarAccount(
                organization_id=org.id,
                user_id=user.id,
                provider="microsoft",
                scope="company",
                address=user.email,
                username=str(uuid.uuid4()),
                status="active",
            )
            session.add(account)
            await session.flush()
            sub = Subscription(
                str(uuid.uuid4()), base64.b64encode(os.urandom(36)).decode(), account.username
            )
            session.add(
                SyncedCalendar(
                    organization_id=org.id,
                    account_id=account.id,
                    user_id=user.id,
                    remote_id=f"cal-{n}",
                    name="Calendar",
                    role="primary",
                    direction="both",
                    state="ready",
                    failures=0,
                    initial_done=0,
                    subscription_id=sub.id,
                    client_state_hash=calendar_subscriptions.state_hash(sub.client_state),
                )
            )
            subs.append(sub)
    return org.id, subs


def request(port: int, subs: list[Subscription], per_post: int, rng: random.Random) -> bytes:
    items = []
    for _ in range(per_post):
        sub = rng.choice(subs)
        event = base64.urlsafe_b64encode(os.urandom(30)).decode()
        resource = f"Users/{sub.user}/Events/{event}"
        items.append(
            {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000Z",
                "clientState": sub.client_state,
                "changeType": rng.choice(("created", "updated", "updated", "deleted")),
                "resource": resource,
                "tenantId": "bench-tenant",
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": 'W/"DwAAABYAAAC9"',
                    "id": event,
                },
            }
        )
    body = orjson.dumps({"value": items})
    head = (
        f"POST {NOTIFY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, per POST
    acknowledged: int = 0  # notifications answered 202
    errors: dict[int, int] = field(default_factory=dict)


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read the whole answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def send(self, raw: bytes) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def open_loop(
    port: int, subs: list[Subscription], per_post: int, rate: float, seconds: float, pool: int
) -> tuple[Tally, float]:
    """POSTs on a fixed schedule (``rate`` notifications/s); latency from the scheduled time."""
    rng, tally = random.Random(1), Tally()
    posts = int(rate * seconds / per_post)
    interval = per_post / rate
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    connections = [Connection(port) for _ in range(pool)]
    for c in connections:
        await c.open()

    async def worker(conn: Connection) -> None:
        while True:
            due, raw = await queue.get()
            status = await conn.send(raw)
            tally.latencies.append(time.perf_counter() - due)
            record(tally, status, per_post)
            queue.task_done()

    workers = [asyncio.create_task(worker(c)) for c in connections]
    bodies = [request(port, subs, per_post, rng) for _ in range(min(posts, 20_000))]
    started = time.perf_counter()
    for n in range(posts):
        due = started + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, bodies[n % len(bodies)]))
    await queue.join()
    elapsed = time.perf_counter() - started
    for w in workers:
        w.cancel()
    for c in connections:
        c.close()
    return tally, elapsed


async def closed_loop(
    port: int, subs: list[Subscription], per_post: int, seconds: float, pool: int
) -> tuple[Tally, float]:
    """``pool`` POSTs always in flight, for ``seconds``."""
    rng, tally = random.Random(2), Tally()
    bodies = [request(port, subs, per_post, rng) for _ in range(5_000)]
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        conn = Connection(port)
        await conn.open()
        n = k
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            status = await conn.send(bodies[n % len(bodies)])
            tally.latencies.append(time.perf_counter() - sent)
            record(tally, status, per_post)
            n += pool
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(pool)))
    return tally, time.perf_counter() - started


def record(tally: Tally, status: int, per_post: int) -> None:
    if status == 202:
        tally.acknowledged += per_post
    else:
        tally.errors[status] = tally.errors.get(status, 0) + 1


async def stored(runtime: Runtime, org_id: uuid.UUID) -> tuple[int, int, int]:
    """Rows stored, calendars notified, and sync jobs waiting for those calendars."""
    async with runtime.db.sessions() as session:
        rows = await session.scalar(
            select(func.count()).where(CalendarNotification.organization_id == org_id)
        )
        notified = await session.scalar(
            select(func.count(func.distinct(CalendarNotification.calendar_id))).where(
                CalendarNotification.organization_id == org_id
            )
        )
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'hiresync:sync_calendar'"
                " AND status = 'todo' AND queueing_lock IN (SELECT 'calendar-sync:' || id::text"
                " FROM synced_calendars WHERE organization_id = :org)"
            ),
            {"org": org_id},
        )
    return int(rows or 0), int(notified or 0), int(waiting or 0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def line(label: str, tally: Tally, elapsed: float, target: str) -> None:
    rate = tally.acknowledged / elapsed
    print(
        f"  {label:<34} {rate:8.0f} /s acknowledged   p50 {pct(tally.latencies, 0.5):6.1f} ms"
        f"   p99 {pct(tally.latencies, 0.99):6.1f} ms   max {max(tally.latencies) * 1000:6.1f} ms"
        f"   errors {tally.errors or 0}   {target}"
    )


@dataclass
class Figures:
    fixed: Tally
    fixed_s: float
    most: Tally
    most_s: float
    stored: int  # rows stored by the timed runs
    notified: int
    waiting: int
    cpu_s: float  # the server's CPU time over the timed runs
    peak_mb: float


async def measure(args: argparse.Namespace, runtime: Runtime, port: int, pid: int) -> Figures:
    org_id, subs = await subscribed(runtime, args.calendars)
    await closed_loop(port, subs, args.per_post, 2.0, args.connections)  # warm up
    base = (await stored(runtime, org_id))[0]
    cpu = cpu_seconds(pid)
    pool = args.connections * 2
    fixed, fixed_s = await open_loop(port, subs, args.per_post, args.rate, args.seconds, pool)
    most, most_s = await closed_loop(port, subs, args.per_post, args.seconds, args.connections)
    cpu = cpu_seconds(pid) - cpu
    rows, notified, waiting = await stored(runtime, org_id)
    return Figures(
        fixed, fixed_s, most, most_s, rows - base, notified, waiting, cpu, peak_rss_mb(pid)
    )


def report(args: argparse.Namespace, f: Figures) -> None:
    print(
        f"\nGraph notifications into one `hiresync serve` process: {args.calendars} "
        f"calendars, {args.per_post} notification(s) per POST, embedded PostgreSQL, "
        f"{os.cpu_count()} CPUs shared by server, database and this client"
    )
    line(f"open loop at {args.rate:.0f}/s", f.fixed, f.fixed_s, "target ≥ 2000/s, p99 < 50 ms")
    line(f"closed loop, {args.connections} in flight", f.most, f.most_s, "(the ceiling)")
    answered = f.fixed.acknowledged + f.most.acknowledged
    verdict = "none lost" if f.stored == answered else f"{answered - f.stored} LOST"
    print(
        f"  stored: {f.stored} rows for {answered} notifications answered 202 ({verdict}); "
        f"{f.notified} calendars notified, {f.waiting} with their sync waiting"
    )
    per = f.cpu_s / max(1, answered) * 1e6
    print(
        f"  server CPU: {per:.0f} µs a notification (one core alone: {1e6 / per:.0f}/s); "
        f"load average now {os.getloadavg()[0]:.1f}; server peak memory {f.peak_mb:.0f} MB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calendars", type=int, default=200)
    parser.add_argument("--per-post", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    keys = "bench:" + base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory(prefix="hiresync-bench-notify-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            base_url="http://127.0.0.1:1",
            run_worker=False,
            encryption_keys=keys,
            database_url=os.environ.get("HIRESYNC_DATABASE_URL") or None,
        )
        runtime = Runtime.build(settings)
        migrate.upgrade(runtime.db.uri)
        await runtime.start()
        port = free_port()
        server = start_server(port, settings, runtime.db.uri)
        try:
            figures = await measure(args, runtime, port, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
            await runtime.close()
    report(args, figures)


if __name__ == "__main__":
    asyncio.run(main())
