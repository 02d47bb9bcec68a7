"""Benchmark (issue #4): confirm 1,000 interviews into Outlook (sandbox) calendars.

Each interview has three interviewers and a candidate, and all are organised from one
mailbox (the "shared interviews mailbox" setting), which is what Outlook's limit of 4
concurrent requests per mailbox bounds. The Microsoft sandbox runs in its own process
with 50 ms latency on every Graph call; the interviews are confirmed first (their push
jobs wait in the database), then ``hiresync worker`` is started in a process of its own
and timed until every interview's event is written.

"Ideal" is what the limit allows, measured: the same number of event creations (same
bodies, one organizer mailbox) sent by a bare httpx client, 4 at a time, with a ready
token; the lower bound (calls x 50 ms / 4) is printed beside it. Targets: wall time
within 1.5x of ideal, every event written exactly once, peak memory of the worker
under 200 MB.

    .venv/bin/python bench/interviews.py [--interviews 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from freebusy import (
    bench_settings,
    free_port,
    peak_rss_mb,
    prepare,
    process_env,
    start_sandbox,
)
from hiresync.config import Settings
from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.runtime import Runtime
from hiresync.services import interviews
from hiresync.services.freebusy import PersonRef
from hiresync.store.tables import CalendarLink, Organization


async def confirm_all(runtime: Runtime, people: list[str], count: int) -> float:
    """``count`` interviews confirmed (their push jobs queued), 50 to a transaction."""
    async with runtime.db.sessions() as session:
        org_id = (
            await session.scalars(select(Organization.id).order_by(Organization.created_at.desc()))
        ).first()
    organizer, pool = people[0], people[1:]
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    started = time.perf_counter()
    for batch in range(0, count, 50):
        async with runtime.db.transaction() as session:
            for n in range(batch, min(batch + 50, count)):
                start = first + timedelta(hours=n)
                panel = tuple(PersonRef(email=pool[(n * 3 + k) % len(pool)]) for k in range(3))
                new = interviews.NewInterview(
                    title=f"Interview {n}",
                    candidate=interviews.CandidateIn(f"Candidate {n}", f"candidate{n}@example.org"),
                    interviewers=panel,
                    organizer=PersonRef(email=organizer),
                    start=start,
                    end=start + timedelta(minutes=45),
                    time_zone="Europe/London",
                    meeting=Meeting(MeetingType.CUSTOM_LINK, url=f"https://meet.example/{n}"),
                    confirm=True,
                )
                await interviews.create(runtime, session, org_id, new, "bench", datetime.now(UTC))
    return time.perf_counter() - started


def start_worker(
    settings: Settings, database_uri: str, concurrency: int
) -> subprocess.Popen[bytes]:
    env = process_env(settings, database_uri)
    exe = Path(sys.executable).with_name("hiresync")
    return subprocess.Popen([str(exe), "worker", "--concurrency", str(concurrency)], env=env)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used, from the kernel."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def synced(runtime: Runtime) -> int:
    async with runtime.db.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(CalendarLink).where(CalendarLink.state == "synced")
            )
            or 0
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interviews", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()

    port = free_port()
    sandbox, ready = start_sandbox(port, 250, args.latency_ms, 1)
    base = f"http://127.0.0.1:{port}"
    settings = bench_settings(ready, base)
    worker = None
    try:
        runtime, _ = await prepare(settings, ready, 40)
        people = [m for m, _ in ready["people"][:40]]
        confirm_s = await confirm_all(runtime, people, args.interviews)
        async with httpx.AsyncClient(base_url=base) as control:
            before = (await control.get("/_control/stats")).json()["total_requests"]
        started = time.perf_counter()
        worker = start_worker(settings, runtime.db.uri, args.concurrency)
        while await synced(runtime) < args.interviews:
            if worker.poll() is not None:
                raise RuntimeError("the worker stopped")
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - started
        peak = peak_rss_mb(worker.pid)
        cpu = cpu_seconds(worker.pid)
        async with httpx.AsyncClient(base_url=base) as control:
            stats = (await control.get("/_control/stats")).json()
            tenant = ready["tenant"]
            sent = len((await control.get(f"/_control/tenants/{tenant}/invitations")).json())
        ideal = await ideal_run(runtime, ready, base, people, args.interviews)
        await runtime.close()
    finally:
        for proc in (worker, sandbox):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    report(args, wall, ideal, confirm_s, stats, before, sent, peak)
    print(
        f"  worker CPU time                              {cpu:7.1f} s   ({1000 * cpu / args.interviews:.1f} ms an interview)"
    )


async def ideal_run(
    runtime: Runtime, ready: dict, base: str, people: list[str], count: int
) -> float:
    """The same creations by a bare client, 4 at a time on one other organizer mailbox."""
    issued = await runtime.calendar("microsoft").app_token(ready["tenant"], force_refresh=True)
    organizer = dict(ready["people"])[people[-1]]
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=400)
    gate = asyncio.Semaphore(4)
    headers = {"Authorization": f"Bearer {issued.access_token}"}
    async with httpx.AsyncClient(
        base_url=f"{base}/graph/v1.0", headers=headers, timeout=60
    ) as client:

        async def create(n: int) -> None:
            start = first + timedelta(hours=n)
            end = start + timedelta(minutes=45)
            panel = [*people[(n * 3) % 30 : (n * 3) % 30 + 3], f"ideal{n}@example.org"]
            body = {
                "subject": f"Ideal {n}",
                "body": {"contentType": "html", "content": "<p>Interview</p>"},
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in panel],
                "transactionId": f"ideal-{n}",
            }
            async with gate:
                (await client.post(f"/users/{organizer}/events", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(create(n) for n in range(count)))
        return time.perf_counter() - started


def report(
    args: argparse.Namespace,
    wall: float,
    ideal: float,
    confirm_s: float,
    stats: dict,
    before: int,
    sent: int,
    peak: float,
) -> None:
    calls = stats["total_requests"] - before
    bound = calls * args.latency_ms / 1000 / 4
    ratio = wall / ideal
    creates = stats["by_route"].get("createEvent", 0)
    print(
        f"\n{args.interviews} interviews confirmed (3 interviewers + a candidate each), one organizer mailbox, {args.latency_ms} ms per Graph call"
    )
    print(f"  confirmed in hiresync (jobs queued)          {confirm_s:7.1f} s")
    print(
        f"  written by `hiresync worker --concurrency {args.concurrency}` {wall:7.1f} s   ({args.interviews / wall:.0f} interviews/s)"
    )
    print(
        f"  Graph calls made                             {calls:7d}   (createEvent {creates}, one per interview: {'PASS' if creates == args.interviews else 'FAIL'})"
    )
    throttled = sum(stats.get("throttled", {}).values())
    print(f"  requests the sandbox throttled (429)         {throttled:7d}")
    print(
        f"  invitations Microsoft sent                   {sent:7d}   (expected {args.interviews * 4})"
    )
    print(
        f"  ideal: bare client, 4 at a time              {ideal:7.1f} s   (lower bound calls x latency / 4: {bound:.1f} s)"
    )
    print(
        f"  ratio to ideal                               {ratio:7.2f}x  target <= 1.50x {'PASS' if ratio <= 1.5 else 'FAIL'}"
    )
    print(
        f"  peak memory of the worker process (VmHWM)    {peak:7.0f} MB  target < 200 MB {'PASS' if peak < 200 else 'FAIL'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
