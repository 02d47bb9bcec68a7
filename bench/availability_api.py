"""Benchmark (issue #3, whole request): ``POST /v1/availability`` for 50 interviewers over
4 weeks against the Microsoft sandbox, and where the time goes.

The sandbox runs in its own process with 50 ms latency per Graph call and Outlook's
4-per-mailbox limit; hiresync runs as ``hiresync serve`` in its own process, on the
embedded PostgreSQL (or HIRESYNC_DATABASE_URL). The answer's ``Server-Timing`` header
splits the server's time into reading (team from the database, calendars from Graph)
and solving; the rest is validation, serialization and HTTP.

    .venv/bin/python bench/availability_api.py [--people 50] [--weeks 4] [--runs 9]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from freebusy import bench_settings, free_port, peak_rss_mb, prepare, start_sandbox, start_server


def question(people: list[str], start: datetime, weeks: int, k: int | None) -> dict:
    """All of the first three, plus all (or k) of the rest; 60-minute interviews."""
    required = [{"email": m} for m in people[:3]]
    pool = [{"email": m} for m in people[3:]]
    groups = [{"members": required, "required": "all"}]
    if pool:
        groups.append({"members": pool, "required": k if k else "all"})
    return {
        "participants": groups,
        "required_duration": {"minutes": 60},
        "query_periods": [
            {"start": start.isoformat(), "end": (start + timedelta(weeks=weeks)).isoformat()}
        ],
        "start_interval": {"minutes": 30},
        "buffer": {"before": {"minutes": 10}, "after": {"minutes": 10}},
        "max_results": 5000,
    }


def server_timing(header: str) -> dict[str, float]:
    return {m[0]: float(m[1]) for m in re.findall(r"(\w+);dur=([\d.]+)", header)}


async def measure(url: str, key: str, body: dict, runs: int) -> tuple[list[dict], int]:
    rows: list[dict] = []
    slots = 0
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        for i in range(runs + 1):
            started = time.perf_counter()
            response = await client.post("/v1/availability", json=body)
            total = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i == 0:  # warms connections and the token
                slots = len(response.json()["available_slots"])
                continue
            rows.append({"total": total, **server_timing(response.headers["server-timing"])})
    return rows, slots


def report(label: str, rows: list[dict], slots: int) -> None:
    total = statistics.median(r["total"] for r in rows)
    read = statistics.median(r["read"] for r in rows)
    engine = statistics.median(r["engine"] for r in rows)
    rest = total - read - engine
    print(
        f"  {label:<28} {total:7.1f} ms total = read {read:6.1f} + engine {engine:5.1f}"
        f" + http/json {rest:5.1f}   ({slots} slots)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    port = free_port()
    sandbox, ready = start_sandbox(port, max(args.people, 250), args.latency_ms, args.weeks)
    base = f"http://127.0.0.1:{port}"
    settings = bench_settings(ready, base)
    server = None
    try:
        runtime, key = await prepare(settings, ready, args.people)
        server_port = free_port()
        server = start_server(server_port, settings, runtime.db.uri)
        url = f"http://127.0.0.1:{server_port}"
        people = [m for m, _ in ready["people"][: args.people]]
        # Next Monday onwards, so that no slot is in the past.
        start = datetime.fromisoformat(ready["start"]) + timedelta(weeks=1)
        print(
            f"\nPOST /v1/availability: {args.people} people, {args.weeks} weeks, "
            f"{args.latency_ms} ms per Graph call, {args.runs} runs (median)"
        )
        for label, k in (("3 required + all the rest", None), ("3 required + 1 of the rest", 1)):
            rows, slots = await measure(url, key, question(people, start, args.weeks, k), args.runs)
            report(label, rows, slots)
        print(f"  peak memory of the hiresync process: {peak_rss_mb(server.pid):.0f} MB")
        print(
            f"  lower bound for 'read': one wave of getSchedule calls at {args.latency_ms} ms "
            "plus the sandbox's own work"
        )
        await runtime.close()
    finally:
        for proc in (server, sandbox):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
