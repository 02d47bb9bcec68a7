"""Benchmark (issue #6): a person's Outlook calendar of 5,000 events synced into hiresync
through the Microsoft sandbox's ``calendarView/delta``, against the bare work it needs.

The sandbox runs in its own process (this file with ``--sandbox``): one mailbox holding
``--events`` instances over the coming eight months: meetings with three attendees, a location
and a body, one in ten a weekly series of ten (so delta sends masters and stubs too), and 50 ms
on every Graph call as in the other Graph benchmarks (``--latency-ms 0`` is the harshest
case: nothing of ours hides behind Graph's time). hiresync runs here on the embedded
PostgreSQL (or HIRESYNC_DATABASE_URL).

Timed, turn about, median of ``--runs``:

* **ours**: ``calendar_sync.sync_calendar`` from an empty copy: the delta round through the
  company connection, mapping to copies, the plan, and storing rows, statuses and the cursor;
* **bare**: what cannot be avoided: the same delta round with the same client and page size
  and a ready token, every event mapped to an item (``sync_side.items_of``), and every row
  stored with one COPY in one transaction. No planning, no guards, no status;
* beside it, **bare reading as GraphRemote does** (the next page requested while this one is
  mapped), so what the engine and the store add shows on its own.

Target (issue #6): ours within 1.3x of bare.

    .venv/bin/python bench/graph_sync.py [--events 5000] [--runs 3] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import delete, func, select, update  # noqa: E402

from freebusy import bench_settings, free_port  # noqa: E402
from hiresync.providers.microsoft.client import GraphClient  # noqa: E402
from hiresync.providers.microsoft.sync_side import Round, Window, items_of, read_ahead  # noqa: E402
from hiresync.runtime import Runtime  # noqa: E402
from hiresync.services import calendar_sync, connections, team  # noqa: E402
from hiresync.store import migrate  # noqa: E402
from hiresync.store.tables import CalendarAccount, CalendarItem, SyncedCalendar  # noqa: E402
from hiresync.sync import Item  # noqa: E402

PAGE = 500  # GraphRemote's page size, for both


# -- the sandbox process ------------------------------------------------------------------------


def seed(sandbox: Any, tenant: str, user_id: str, events: int) -> None:
    """``events`` instances over the coming 250 days: meetings with three attendees, a
    location and a body; one in ten a weekly series of ten."""
    from hiresync.sandbox.microsoft.model import Attendee

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    weekly = {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "numbered"}}
    made, n = 0, 0
    while made < events:
        when = start + timedelta(hours=(n * 7) % (250 * 24))
        people = [Attendee(f"guest{(n + k) % 97}@fabrikam.example", f"Guest {k}") for k in range(3)]
        attrs = {
            "location": f"Room {n % 40}",
            "attendees": people,
            "body": f"<p>Agenda for meeting {n}: " + "discussion " * 40 + "</p>",
            "change_key": f"ck{n}",
        }
        if n % 10 == 0 and events - made >= 10:
            rule = weekly | {
                "range": weekly["range"]
                | {"startDate": when.date().isoformat(), "numberOfOccurrences": 10}
            }
            sandbox.add_event(
                tenant,
                user_id,
                subject=f"Series {n}",
                start=when,
                end=when + timedelta(minutes=30),
                recurrence=rule,
                **attrs,
            )
            made += 10
        else:
            sandbox.add_event(
                tenant,
                user_id,
                subject=f"Meeting {n}",
                start=when,
                end=when + timedelta(hours=1),
                **attrs,
            )
            made += 1
        n += 1


def serve_sandbox(port: int, events: int, latency_ms: int) -> None:
    import uvicorn

    from hiresync.sandbox.microsoft import MicrosoftSandbox, create_app
    from hiresync.sandbox.microsoft.seed import CONTOSO_ID

    sandbox = MicrosoftSandbox.seeded()
    sandbox.grant_admin_consent(CONTOSO_ID, sandbox.demo_client_id)
    user = sandbox.add_user(
        CONTOSO_ID,
        display_name="Bench Sync",
        mail="bench.sync@contoso.com",
        time_zone="Europe/Berlin",
    )
    seed(sandbox, CONTOSO_ID, user.id, events)
    sandbox.set_faults(CONTOSO_ID, latency_ms=latency_ms, mailbox_concurrency=4)
    ready = {
        "ready": True,
        "tenant": CONTOSO_ID,
        "client_id": sandbox.demo_client_id,
        "client_secret": sandbox.demo_client_secret,
        "user_id": user.id,
        "mail": user.mail,
        "people": [],
    }
    print(json.dumps(ready), flush=True)
    uvicorn.run(create_app(sandbox), host="127.0.0.1", port=port, log_level="warning")


def start_sandbox(port: int, events: int, latency_ms: int) -> tuple[subprocess.Popen[str], dict]:
    import httpx

    args = [sys.executable, __file__, "--sandbox", str(port), str(events), str(latency_ms)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc, ready
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("sandbox did not start")


# -- hiresync's side ------------------------------------------------------------------------------


async def connect(runtime: Runtime, ready: dict) -> tuple[uuid.UUID, uuid.UUID, object]:
    """A team member whose Outlook calendar syncs through the company connection; and a
    second calendar row the bare loop stores into."""
    async with runtime.db.transaction() as session:
        org = await team.create_organization(session, "Bench", f"bench-{time.time_ns()}")
        user = await team.add_user(
            session, org.id, team.NewUser("Bench", ready["mail"], "recruiter", "UTC")
        )
        connection = await connections.activate_connection(
            session, org.id, ready["tenant"], "worldwide", "admin", None
        )
        ids = []
        for n in range(2):
            account = CalendarAccount(
                organization_id=org.id,
                user_id=user.id,
                provider="microsoft" if n == 0 else "bench",
                scope="company",
                connection_id=connection.id,
                address=ready["mail"],
                username=ready["user_id"],
                status="active",
            )
            session.add(account)
            await session.flush()
            calendar = SyncedCalendar(
                organization_id=org.id,
                account_id=account.id,
                user_id=user.id,
                remote_id=f"calendar-{n}",
                name="Calendar",
                role="primary",
                direction="both",
                state="initial",
                failures=0,
                initial_done=0,
            )
            session.add(calendar)
            await session.flush()
            ids.append(calendar.id)
    return ids[0], ids[1], connection


async def emptied(runtime: Runtime, *calendar_ids: uuid.UUID) -> None:
    async with runtime.db.transaction() as session:
        for calendar_id in calendar_ids:
            await session.execute(
                delete(CalendarItem).where(CalendarItem.calendar_id == calendar_id)
            )
            await session.execute(
                update(SyncedCalendar)
                .where(SyncedCalendar.id == calendar_id)
                .values(cursor=None, state="initial", initial_total=None, initial_done=0)
            )


async def ours(runtime: Runtime, calendar_id: uuid.UUID) -> tuple[float, int]:
    await emptied(runtime, calendar_id)
    started = time.perf_counter()
    report = await calendar_sync.sync_calendar(runtime, calendar_id)
    elapsed = time.perf_counter() - started
    assert report is not None and report.outcome == "synced" and not report.failed, report
    return elapsed, report.read


COLUMNS = (
    "id",
    "organization_id",
    "calendar_id",
    "uid",
    "remote_ident",
    "remote_etag",
    "remote_digest",
    "version",
    "digest",
    "origin",
    "owned",
    "summary",
    "starts_at",
    "ends_at",
    "all_day",
    "time_zone",
    "busy",
    "status",
    "recurring",
    "data",
    "deleted",
)


async def fetched_plain(client: GraphClient, ready: dict) -> list[Item]:
    """The round as a bare loop reads it: every page, then every event mapped."""
    begin, end = window()
    events: dict[str, dict] = {}
    async for page in client.iter_calendar_view_delta(ready["user_id"], begin, end, page_size=PAGE):
        for event_id in page.removed:
            events.pop(event_id, None)
        events.update((e["id"], e) for e in page.events)
    masters = {i: e for i, e in events.items() if e.get("type") == "seriesMaster"}
    return items_of(events, masters, ready["mail"])[0]


async def fetched_ahead(client: GraphClient, ready: dict) -> list[Item]:
    """The round as ``GraphRemote.read`` reads it: the next page on its way while this one
    is mapped, each page's JSON let go once mapped."""
    begin, end = window()
    found = Round(ready["mail"])
    pages = client.iter_calendar_view_delta(ready["user_id"], begin, end, page_size=PAGE)
    async for page in read_ahead(pages):
        found.take(page)
    return found.results({})[0]


def window() -> tuple[datetime, datetime]:
    frame = Window()
    begin = frame.starting(datetime.now(UTC))
    return begin, begin + frame.past + frame.ahead + timedelta(days=1)


async def bare(
    runtime: Runtime,
    fetch: Callable[[], Awaitable[list[Item]]],
    org_id: uuid.UUID,
    calendar_id: uuid.UUID,
) -> tuple[float, int]:
    """The delta round read by ``fetch``, its rows stored with one COPY."""
    await emptied(runtime, calendar_id)
    started = time.perf_counter()
    items = await fetch()
    await copy_in(runtime, items, org_id, calendar_id)
    return time.perf_counter() - started, len(items)


async def copy_in(
    runtime: Runtime, items: list[Item], org_id: uuid.UUID, calendar_id: uuid.UUID
) -> None:
    from psycopg.types.json import Jsonb

    from hiresync.jobs.engine import raw_connection

    async with runtime.db.transaction() as session:
        conn = await raw_connection(session)
        columns = ", ".join(COLUMNS)
        async with conn.cursor().copy(f"COPY calendar_items ({columns}) FROM STDIN") as copy:
            for item in items:
                c = item.payload
                await copy.write_row(
                    (
                        uuid.uuid4(),
                        org_id,
                        calendar_id,
                        item.uid,
                        item.ident,
                        item.etag,
                        item.digest,
                        1,
                        item.digest,
                        "remote",
                        c.owned,
                        c.summary,
                        c.starts_at,
                        c.ends_at,
                        c.all_day,
                        c.time_zone,
                        c.busy,
                        c.status,
                        c.recurring,
                        Jsonb(c.data),
                        False,
                    )
                )


async def stored(runtime: Runtime, calendar_id: uuid.UUID) -> int:
    async with runtime.db.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(CalendarItem.calendar_id == calendar_id)
        )
    return int(count or 0)


async def measure(args: argparse.Namespace, runtime: Runtime, ready: dict) -> dict:
    calendar_id, scratch_id, connection = await connect(runtime, ready)
    org_id = connection.organization_id
    token = (
        await runtime.calendar("microsoft").app_token(ready["tenant"], force_refresh=True)
    ).access_token

    async def ready_token(force_refresh: bool = False) -> str:
        return token

    client = GraphClient(graph_url=runtime.settings.microsoft_graph_url, get_token=ready_token)
    f: dict = {"ours": [], "bare": [], "ahead": []}
    await ours(runtime, calendar_id)  # untimed: the sandbox expands the mailbox once
    try:
        for _ in range(args.runs):
            seconds, f["read"] = await ours(runtime, calendar_id)
            f["ours"].append(seconds)
            seconds, f["mapped"] = await bare(
                runtime, lambda: fetched_plain(client, ready), org_id, scratch_id
            )
            f["bare"].append(seconds)
            seconds, _ = await bare(
                runtime, lambda: fetched_ahead(client, ready), org_id, scratch_id
            )
            f["ahead"].append(seconds)
        f["rows"], f["bare_rows"] = (
            await stored(runtime, calendar_id),
            await stored(runtime, scratch_id),
        )
    finally:
        await client.aclose()
    return f


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()

    port = free_port()
    sandbox, ready = start_sandbox(port, args.events, args.latency_ms)
    settings = bench_settings(ready, f"http://127.0.0.1:{port}")
    if os.environ.get("HIRESYNC_DATABASE_URL"):
        settings.database_url = os.environ["HIRESYNC_DATABASE_URL"]
    runtime = Runtime.build(settings)
    migrate.upgrade(runtime.db.uri)
    await runtime.start()
    try:
        figures = await measure(args, runtime, ready)
    finally:
        await runtime.close()
        sandbox.terminate()
        sandbox.wait(timeout=10)
    report(args, figures)


def report(args: argparse.Namespace, f: dict) -> None:
    med = statistics.median
    print(
        f"\nOutlook calendar into hiresync through the sandbox's calendarView/delta: {args.events} "
        f"events, {args.latency_ms} ms per Graph call, pages of {PAGE}, embedded PostgreSQL, "
        f"median of {args.runs}"
    )
    lines = [
        ("initial sync, whole (calendar_sync.sync_calendar)", f"{med(f['ours']):.2f} s", ""),
        ("bare: fetch every page, map, one COPY", f"{med(f['bare']):.2f} s", ""),
        ("ratio", f"{med(f['ours']) / med(f['bare']):.2f}x", "≤ 1.3x"),
        ("bare reading as GraphRemote does (page ahead)", f"{med(f['ahead']):.2f} s", ""),
        (
            "  ratio to that (plan, status, engine, store)",
            f"{med(f['ours']) / med(f['ahead']):.2f}x",
            "",
        ),
        ("events read / rows stored (ours)", f"{f['read']} / {f['rows']}", f"{args.events}"),
        (
            "items mapped / rows stored (bare)",
            f"{f['mapped']} / {f['bare_rows']}",
            f"{args.events}",
        ),
    ]
    width = max(len(n) for n, _, _ in lines)
    print(f"{'figure':<{width}}  {'measured':>12}  target")
    for name, value, target in lines:
        print(f"{name:<{width}}  {value:>12}  {target}")
    runs = {k: ", ".join(f"{s:.2f}" for s in f[k]) for k in ("ours", "bare", "ahead")}
    print(f"runs (s): ours {runs['ours']}; bare {runs['bare']}; bare page ahead {runs['ahead']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sandbox":
        serve_sandbox(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        asyncio.run(main())
