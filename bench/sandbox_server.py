"""Run the Microsoft sandbox in its own process for a benchmark, so that its CPU and memory
are not counted as hiresync's. Prints one JSON line when ready, then serves until killed.

    python bench/sandbox_server.py --port 8765 --people 1000 --latency-ms 50
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from datetime import UTC, datetime, timedelta

import uvicorn

from hiresync.sandbox.microsoft import MicrosoftSandbox, create_app
from hiresync.sandbox.microsoft.seed import CONTOSO_ID


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=4)
    args = parser.parse_args()

    # A few seeded accounts are disabled: grow the tenant a little past the target.
    sandbox = MicrosoftSandbox.seeded(extra_users=max(0, args.people - 250 + 10))
    sandbox.grant_admin_consent(CONTOSO_ID, sandbox.demo_client_id)
    monday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    sandbox.warm_calendars(monday, monday + timedelta(weeks=args.weeks), tenant=CONTOSO_ID)
    sandbox.set_faults(CONTOSO_ID, latency_ms=args.latency_ms, mailbox_concurrency=4)
    tenant = sandbox.tenant(CONTOSO_ID)
    people = sorted(
        (u.mail, u.id) for u in tenant.users.values() if u.account_enabled and u.has_mailbox
    )
    ready = {
        "ready": True,
        "tenant": CONTOSO_ID,
        "client_id": sandbox.demo_client_id,
        "client_secret": sandbox.demo_client_secret,
        "start": monday.isoformat(),
        "people": people,
    }
    # The seeded tenant lives as long as the process: keep it out of full collections, so
    # the emulated Graph answers at a steady pace and the ideal it sets is repeatable.
    gc.freeze()
    print(json.dumps(ready), flush=True)
    sys.stdout.flush()
    uvicorn.run(create_app(sandbox), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
