"""Benchmark (issue #3): the availability engine alone, on the issue's workload.

N interviewers spread over New York, London and São Paulo, Mon-Fri 09-17 local, about
30 busy blocks of 30-90 minutes per person per week (seeded), 10-minute buffers,
30-minute slots every 30 minutes, 4 weeks from Monday 2026-03-02 (crossing the US
change on Mar 8 and the EU change on Mar 29); modes "all required" and "3 required
+ k of the rest" for k = 1 and 2. N = 200 runs over 12 weeks with 5 blocks a week.

Busy blocks are already in memory exactly as the free/busy API returns them (the
domain's ``BusyBlock``, which the engine reads as is: no conversion pass is hidden
outside the timing). The slot count is printed next to each time, so a fast wrong
answer shows. Then, unless ``--engine-only``, the whole ``POST /v1/availability`` for
N = 50 is timed against the sandbox (``bench/availability_api.py``), with where the
time goes.

    .venv/bin/python bench/availability.py [--runs 31] [--cold] [--engine-only]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hiresync.availability import (
    AvailabilityQuery,
    Group,
    Period,
    Person,
    Rules,
    WorkingWeek,
    find_availability,
)
from hiresync.availability.working_hours import working_intervals
from hiresync.domain.freebusy import BusyBlock, BusyStatus

ZONES = ("America/New_York", "Europe/London", "America/Sao_Paulo")
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
NOW = START - timedelta(days=1)
STATUSES = (BusyStatus.BUSY,) * 6 + (BusyStatus.TENTATIVE, BusyStatus.OOF, BusyStatus.FREE)


@dataclass(frozen=True)
class Case:
    name: str
    people: int
    weeks: int
    blocks_per_week: int
    target_ms: float


CASES = (
    Case("N=10, 4 weeks", 10, 4, 30, 2.0),
    Case("N=50, 4 weeks", 50, 4, 30, 6.0),
    Case("N=200, 12 weeks", 200, 12, 5, 30.0),
)


def provider_blocks(rng: random.Random, weeks: int, per_week: int) -> list[BusyBlock]:
    """Blocks of 30-90 min on random weekdays between 07:00 and 22:00 UTC."""
    out = []
    for week in range(weeks):
        for _ in range(per_week):
            day = START + timedelta(days=7 * week + rng.randrange(5))
            start = day + timedelta(minutes=rng.randrange(7 * 60, 21 * 60, 15))
            length = timedelta(minutes=rng.choice((30, 45, 60, 90)))
            out.append(BusyBlock(start, start + length, rng.choice(STATUSES)))
    return sorted(out, key=lambda b: b.start)


def team(case: Case, seed: int = 3) -> tuple[list[Person], int]:
    """The people of ``case`` (their free/busy blocks as the API returns them), and how
    many blocks they hold in all."""
    rng = random.Random(seed)
    hours = WorkingWeek.weekdays()
    raw = [provider_blocks(rng, case.weeks, case.blocks_per_week) for _ in range(case.people)]
    people = [Person(f"p{i:03d}", ZONES[i % 3], hours, tuple(raw[i])) for i in range(case.people)]
    return people, sum(map(len, raw))


def queries(case: Case, ids: list[str]) -> dict[str, AvailabilityQuery]:
    period = (Period(START, START + timedelta(weeks=case.weeks)),)
    rules = Rules(buffer_before=timedelta(minutes=10), buffer_after=timedelta(minutes=10))
    half_hour = timedelta(minutes=30)

    def query(*groups: Group) -> AvailabilityQuery:
        return AvailabilityQuery(groups, period, half_hour, half_hour, rules)

    return {
        "all required": query(Group(tuple(ids))),
        "3 + 1 of rest": query(Group(tuple(ids[:3])), Group(tuple(ids[3:]), 1)),
        "3 + 2 of rest": query(Group(tuple(ids[:3])), Group(tuple(ids[3:]), 2)),
    }


def time_engine(
    query: AvailabilityQuery, people: list[Person], runs: int, cold: bool
) -> tuple[float, int]:
    """Median milliseconds over ``runs`` after warm-up, and the slot count."""
    slots = find_availability(query, people, NOW)
    for _ in range(3):
        find_availability(query, people, NOW)
    samples = []
    for _ in range(runs):
        if cold:
            working_intervals.cache_clear()
        t0 = time.perf_counter_ns()
        find_availability(query, people, NOW)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1e6, len(slots)


def run_engine_bench(runs: int = 31, cold: bool = False) -> list[dict[str, object]]:
    """Every case and mode; one row per (case, mode) with the median and the verdict."""
    rows: list[dict[str, object]] = []
    for case in CASES:
        people, blocks = team(case)
        for mode, query in queries(case, [p.id for p in people]).items():
            ms, count = time_engine(query, people, runs, cold)
            rows.append(
                {
                    "case": case.name,
                    "mode": mode,
                    "median_ms": ms,
                    "target_ms": case.target_ms,
                    "ok": ms <= case.target_ms,
                    "slots": count,
                    "blocks": blocks,
                }
            )
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    print(
        f"{'case':<17} {'mode':<14} {'median ms':>9} {'target':>7} {'':>4} {'slots':>6}  busy blocks in"
    )
    for r in rows:
        verdict = "PASS" if r["ok"] else "FAIL"
        print(
            f"{r['case']:<17} {r['mode']:<14} {r['median_ms']:>9.2f} {r['target_ms']:>7.1f} "
            f"{verdict:>4} {r['slots']:>6}  {r['blocks']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=31, help="timed runs per case (median)")
    parser.add_argument(
        "--cold", action="store_true", help="clear the working-hours cache before each run"
    )
    parser.add_argument(
        "--engine-only", action="store_true", help="skip the HTTP timing against the sandbox"
    )
    args = parser.parse_args()
    rows = run_engine_bench(args.runs, args.cold)
    print_table(rows)
    if not args.engine_only:
        import asyncio
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent))
        import availability_api

        sys.argv = sys.argv[:1]
        asyncio.run(availability_api.main())
    raise SystemExit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
