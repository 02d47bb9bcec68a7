"""Benchmark (issue #2): free/busy for 1,000 matched people over 4 weeks.

The Microsoft sandbox runs in its own process with 50 ms latency on every Graph call and
Outlook's limit of 4 concurrent requests per mailbox. hiresync runs as ``hiresync serve``
in a process of its own (so its peak memory is read from the kernel, untouched by this
script), on the embedded PostgreSQL (or HIRESYNC_DATABASE_URL), and is asked over HTTP.

"Ideal" is the same ceil(N/100) getSchedule calls, each on a mailbox of its own batch, all
sent at once by a bare httpx client with a ready token, reading the bodies and nothing
more: the schedule the limits allow, with none of our work. The two are timed turn about,
so that both see the same drift in the sandbox's pace. Targets: wall time within 1.3x of
ideal, peak memory under 150 MB.

    .venv/bin/python bench/freebusy.py [--people 1000] [--weeks 4] [--runs 11]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from hiresync.config import Settings
from hiresync.runtime import Runtime
from hiresync.services import apikeys, connections, team
from hiresync.store import migrate
from hiresync.store.tables import User

HERE = Path(__file__).parent


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(
    port: int, people: int, latency_ms: int, weeks: int
) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "sandbox_server.py"),
            "--port",
            str(port),
            "--people",
            str(people),
            "--latency-ms",
            str(latency_ms),
            "--weeks",
            str(weeks),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc, ready
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("sandbox did not start")


async def prepare(settings: Settings, ready: dict, people: int) -> tuple[Runtime, str]:
    """An organization with ``people`` team members, connected, directory read."""
    runtime = Runtime.build(settings)
    migrate.upgrade(runtime.db.uri)
    await runtime.start()
    async with runtime.db.transaction() as session:
        org = await team.create_organization(
            session, "Bench", f"bench-{os.getpid()}-{time.time_ns()}"
        )
        session.add_all(
            User(
                organization_id=org.id,
                name=mail,
                email=mail,
                email_key=mail.lower(),
                role="interviewer",
                time_zone="UTC",
            )
            for mail, _ in ready["people"][:people]
        )
        _, key = await apikeys.create(session, org.id, "bench")
        await connections.activate_connection(
            session, org.id, ready["tenant"], "worldwide", "admin", None
        )
    started = time.perf_counter()
    size = await connections.refresh_directory(runtime, org.id)
    print(f"directory: {size} people read and matched in {time.perf_counter() - started:.2f} s")
    return runtime, key


def bench_settings(ready: dict, base: str) -> Settings:
    """Settings for a throw-away data directory, talking to the sandbox at ``base``."""
    return Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="hiresync-bench-")),
        base_url="http://127.0.0.1:1",
        run_worker=False,
        encryption_keys="bench:" + base64.b64encode(os.urandom(32)).decode(),
        microsoft_client_id=ready["client_id"],
        microsoft_client_secret=ready["client_secret"],
        microsoft_login_url=base,
        microsoft_graph_url=f"{base}/graph",
    )


def process_env(settings: Settings, database_uri: str) -> dict[str, str]:
    """The environment that gives a ``hiresync`` process these settings."""
    return {
        **os.environ,
        "HIRESYNC_DATABASE_URL": database_uri,
        "HIRESYNC_DATA_DIR": str(settings.data_dir),
        "HIRESYNC_ENCRYPTION_KEYS": settings.encryption_keys,
        "HIRESYNC_MICROSOFT_CLIENT_ID": settings.microsoft_client_id,
        "HIRESYNC_MICROSOFT_CLIENT_SECRET": settings.microsoft_client_secret,
        "HIRESYNC_MICROSOFT_LOGIN_URL": settings.microsoft_login_url,
        "HIRESYNC_MICROSOFT_GRAPH_URL": settings.microsoft_graph_url,
        "HIRESYNC_LOG_LEVEL": "WARNING",
    }


def start_server(port: int, settings: Settings, database_uri: str) -> subprocess.Popen[bytes]:
    """``hiresync serve`` with the same settings, in its own process."""
    env = process_env(settings, database_uri)
    exe = Path(sys.executable).with_name("hiresync")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--no-worker"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("hiresync serve did not become ready")


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def api_round(url: str, key: str, body: dict) -> Callable[[], Awaitable[tuple[float, bytes]]]:
    """One ``POST /v1/free-busy`` over HTTP, timed to its last byte."""
    client = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    )

    async def once() -> tuple[float, bytes]:
        started = time.perf_counter()
        response = await client.post("/v1/free-busy", json=body)
        raw = response.content
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, raw

    return once


async def ideal_round(
    runtime: Runtime, ready: dict, graph: str, body: dict
) -> Callable[[], Awaitable[tuple[float, bytes]]]:
    """The same getSchedule calls, all at once, by a bare client with a ready token."""
    token = (
        await runtime.calendar("microsoft").app_token(ready["tenant"], force_refresh=True)
    ).access_token
    ids = dict(ready["people"])
    mailboxes = sorted(p["email"] for p in body["people"])
    batches = [mailboxes[i : i + 100] for i in range(0, len(mailboxes), 100)]
    window = {
        "startTime": {"dateTime": body["start"][:19], "timeZone": "UTC"},
        "endTime": {"dateTime": body["end"][:19], "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    }
    client = httpx.AsyncClient(
        base_url=graph + "/v1.0",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_connections=100),
    )

    async def call(batch: list[str]) -> int:
        r = await client.post(
            f"/users/{ids[batch[0]]}/calendar/getSchedule",
            json={"schedules": batch, **window},
            headers={"Prefer": 'outlook.timezone="UTC"'},
        )
        r.raise_for_status()
        return len(r.content)

    async def once() -> tuple[float, bytes]:
        started = time.perf_counter()
        await asyncio.gather(*(call(b) for b in batches))
        return time.perf_counter() - started, b""

    return once


async def alternate(
    api: Callable[[], Awaitable[tuple[float, bytes]]],
    ideal: Callable[[], Awaitable[tuple[float, bytes]]],
    runs: int,
) -> tuple[list[float], list[float], dict]:
    """Both, turn about, after a warm-up round each: the sandbox's own speed drifts over a
    run, and alternating makes both series see the same drift."""
    _, raw = await api()
    await ideal()
    api_times, ideal_times = [], []
    for _ in range(runs):
        api_times.append((await api())[0])
        ideal_times.append((await ideal())[0])
    return api_times, ideal_times, json.loads(raw)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()

    port = free_port()
    sandbox, ready = start_sandbox(port, args.people, args.latency_ms, args.weeks)
    base = f"http://127.0.0.1:{port}"
    settings = bench_settings(ready, base)
    server = None
    try:
        runtime, key = await prepare(settings, ready, args.people)
        start = datetime.fromisoformat(ready["start"])
        body = {
            "people": [{"email": m} for m, _ in ready["people"][: args.people]],
            "start": start.isoformat(),
            "end": (start + timedelta(weeks=args.weeks)).isoformat(),
        }
        server_port = free_port()
        server = start_server(server_port, settings, runtime.db.uri)
        api, ideal, answer = await alternate(
            api_round(f"http://127.0.0.1:{server_port}", key, body),
            await ideal_round(runtime, ready, f"{base}/graph", body),
            args.runs,
        )
        server_peak = peak_rss_mb(server.pid)
        await runtime.close()
    finally:
        for proc in (server, sandbox):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    report(args, api, ideal, answer, server_peak)


def report(
    args: argparse.Namespace, api: list[float], ideal: list[float], answer: dict, peak_mb: float
) -> None:
    people = answer["people"]
    errors = sum(1 for p in people if p["error"])
    blocks = sum(len(p["busy"]) for p in people)
    calls = math.ceil(args.people / 100) * math.ceil(args.weeks * 7 / 62)
    api_median, ideal_median = statistics.median(api), statistics.median(ideal)
    ratio = api_median / ideal_median
    print(
        f"\nfree/busy: {args.people} people x {args.weeks} weeks, {args.latency_ms} ms per Graph call, "
        f"4 concurrent per mailbox, {args.runs} runs (median)"
    )
    print(
        f"answer: {len(people)} people, {errors} per-person errors, {blocks} busy blocks, {calls} getSchedule calls each"
    )
    rows = [
        ("POST /v1/free-busy wall time (over HTTP)", f"{api_median * 1000:.0f} ms", ""),
        (
            "ideal schedule (bare concurrent calls)",
            f"{ideal_median * 1000:.0f} ms",
            f"lower bound {args.latency_ms} ms latency x 1 wave",
        ),
        (
            "ratio to ideal",
            f"{ratio:.2f}x",
            "target <= 1.30x " + ("PASS" if ratio <= 1.3 else "FAIL"),
        ),
        (
            "peak memory of the hiresync process (VmHWM)",
            f"{peak_mb:.0f} MB",
            "target < 150 MB " + ("PASS" if peak_mb < 150 else "FAIL"),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>9}  {target}")
    print(
        "  samples (ms): api "
        + " ".join(f"{t * 1000:.0f}" for t in api)
        + " | ideal "
        + " ".join(f"{t * 1000:.0f}" for t in ideal)
    )
    if errors:
        print("WARNING: some people could not be read; the figures are not comparable")


if __name__ == "__main__":
    asyncio.run(main())
