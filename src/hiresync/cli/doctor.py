"""``hiresync doctor``: check configuration, database, job workers and provider reachability,
and say what to fix for each problem."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import typer
from rich.table import Table

from hiresync.cli import app, out, settings
from hiresync.config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _config_checks(s: Settings) -> list[Check]:
    from hiresync.runtime import load_keyring

    checks = [
        Check(
            "Microsoft app registration",
            bool(s.microsoft_client_id and s.microsoft_client_secret),
            "client id and secret set"
            if s.microsoft_client_id
            else "HIRESYNC_MICROSOFT_CLIENT_ID is empty",
            "Register a multi-tenant app in Entra ID with application permissions Calendars.ReadWrite and "
            "User.Read.All, then set HIRESYNC_MICROSOFT_CLIENT_ID and HIRESYNC_MICROSOFT_CLIENT_SECRET.",
        ),
        Check(
            "Public base URL",
            s.base_url.startswith(("http://", "https://")),
            s.base_url,
            "Set HIRESYNC_BASE_URL to the address browsers use, e.g. https://hiresync.example.com.",
        ),
    ]
    try:
        ring = load_keyring(s)
        checks.append(
            Check("Encryption keys", True, f"{len(ring.keys)} key(s), active {ring.active}")
        )
    except Exception as exc:  # report any key problem, never crash the doctor
        checks.append(
            Check(
                "Encryption keys",
                False,
                str(exc),
                "Fix HIRESYNC_ENCRYPTION_KEYS (kid:base64 of 32 bytes, comma-separated).",
            )
        )
    return checks


def _database_checks(s: Settings) -> list[Check]:
    import psycopg

    from hiresync.store import migrate
    from hiresync.store.db import resolve_database_uri

    where = "external server" if s.database_url else f"embedded under {s.data_dir}"
    try:
        uri = resolve_database_uri(s)
        with psycopg.connect(uri, connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            workers = (
                conn.execute(
                    "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '60 seconds'"
                ).fetchone()
                if not migrate.pending(uri)
                else (0,)
            )
    except Exception as exc:  # the doctor reports, it does not crash
        return [
            Check(
                "Database",
                False,
                f"{where}: {exc}".strip(),
                "Check HIRESYNC_DATABASE_URL, that the server runs and accepts this user.",
            )
        ]
    left = migrate.pending(uri)
    return [
        Check("Database", True, f"PostgreSQL {version[0] if version else '?'} ({where})"),
        Check(
            "Migrations",
            not left,
            "current" if not left else f"{len(left)} pending",
            "Run `hiresync migrate`.",
        ),
        Check(
            "Job workers",
            bool(workers and workers[0]),
            f"{workers[0] if workers else 0} alive",
            "Start `hiresync serve` (runs a worker) or `hiresync worker`.",
        ),
    ]


def _provider_checks(s: Settings) -> list[Check]:
    checks = []
    targets = [
        (
            "Microsoft identity",
            f"{s.microsoft_login_url}/common/v2.0/.well-known/openid-configuration",
        ),
        ("Microsoft Graph", f"{s.microsoft_graph_url}/v1.0/"),
    ]
    for name, url in targets:
        try:
            response = httpx.get(url, timeout=5)
            checks.append(
                Check(name, response.status_code < 500, f"{url} answered {response.status_code}")
            )
        except httpx.HTTPError as exc:
            checks.append(
                Check(
                    name,
                    False,
                    f"{url}: {exc.__class__.__name__}",
                    "Allow outbound HTTPS to this host, or fix the URL setting.",
                )
            )
    return checks


@app.command()
def doctor() -> None:
    """Check that this installation can work, and print what to fix."""
    s = settings()
    checks = _config_checks(s) + _database_checks(s) + _provider_checks(s)
    table = Table("check", "", "detail", "how to fix")
    for c in checks:
        table.add_row(
            c.name, "[green]ok[/]" if c.ok else "[red]problem[/]", c.detail, "" if c.ok else c.fix
        )
    out.print(table)
    problems = sum(not c.ok for c in checks)
    if problems:
        out.print(f"[red]{problems} problem(s) found[/]")
        raise typer.Exit(1)
    out.print("[green]all good[/]")
