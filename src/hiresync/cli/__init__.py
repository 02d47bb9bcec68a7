"""The ``hiresync`` command: demo, serve, worker, migrate, and admin chores.

Every command reads the same settings (``HIRESYNC_*``), prints what went wrong and how
to fix it, and exits non-zero on failure, never with a traceback for an expected error.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from hiresync.config import Settings, get_settings
from hiresync.logging import configure
from hiresync.services.errors import ServiceError

app = typer.Typer(
    help="hiresync: calendar integrations for hiring platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
apikey_app = typer.Typer(help="Organization API keys.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
user_app = typer.Typer(help="Hiring-team members.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    if hint:
        err.print(f"[yellow]fix:[/] {hint}")
    raise typer.Exit(code)


def settings() -> Settings:
    s = get_settings()
    configure(s.log_level, json=s.log_json)
    return s


def run_with_runtime(work: Callable[..., Awaitable[T]]) -> T:
    """Open the runtime (database, keys, jobs), run ``work(runtime)``, close it."""
    from hiresync.runtime import Runtime

    async def main() -> T:
        runtime = Runtime.build(settings())
        await runtime.start()
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        fail(exc.message, exc.hint)
        raise  # unreachable


@app.command()
def migrate() -> None:
    """Apply database migrations (our tables and the job engine's)."""
    from hiresync.store import migrate as m
    from hiresync.store.db import resolve_database_uri

    uri = resolve_database_uri(settings())
    left = m.pending(uri)
    m.upgrade(uri)
    out.print(f"database is current ({len(left)} migration(s) applied)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Run a job worker in the same process.")] = True,
) -> None:
    """Serve the API and pages (and, by default, a job worker)."""
    import uvicorn

    from hiresync.api.app import create_app
    from hiresync.runtime import load_keyring
    from hiresync.store.db import resolve_database_uri

    s = settings()
    s.run_worker = worker
    # Said here, plainly, rather than as a traceback from the server's startup.
    resolve_database_uri(s)
    load_keyring(s)
    app = create_app(s)
    # Everything imported so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise walk it in the middle of large answers.
    gc.freeze()
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="warning")


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs other than calendar syncs run at once by this process.")
    ] = 4,
    calendar_concurrency: Annotated[
        int,
        typer.Option(
            help="Calendar syncs run at once by this process (their own slots: a slow "
            "calendar server never delays interviews)."
        ),
    ] = 2,
    name: Annotated[str, typer.Option(help="Worker name shown in logs.")] = "worker",
) -> None:
    """Run a standalone job worker; start as many as you like, on any machine sharing the database."""
    from hiresync.jobs.worker import supervise_worker

    if concurrency < 1 or calendar_concurrency < 1:
        raise typer.BadParameter("--concurrency and --calendar-concurrency must be at least 1")

    async def work(runtime: object) -> None:
        await supervise_worker(
            runtime,  # type: ignore[arg-type]
            concurrency=concurrency,
            calendar_concurrency=calendar_concurrency,
            name=name,
        )

    run_with_runtime(work)


def explain(exc: BaseException) -> tuple[str, str] | None:
    """What an operator should read for an error of the installation, not of hiresync:
    an unreachable database, a malformed setting, unusable keys. None for anything else,
    which is a bug and keeps its traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, OperationalError

    from hiresync.store.crypto import SecretError
    from hiresync.store.db import DatabaseUnreachable

    if isinstance(exc, DatabaseUnreachable):
        return (
            f"Cannot use the database: {exc}",
            "Start PostgreSQL, or fix HIRESYNC_DATABASE_URL "
            "(unset it to use the embedded server under HIRESYNC_DATA_DIR).",
        )
    if isinstance(exc, OperationalError):
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return (
            f"Cannot reach the database: {reason}",
            "Start PostgreSQL, or fix HIRESYNC_DATABASE_URL "
            "(unset it to use the embedded server under HIRESYNC_DATA_DIR).",
        )
    if isinstance(exc, ArgumentError):
        return (
            f"HIRESYNC_DATABASE_URL is not a database URL: {exc}",
            "Write it like postgresql://user:password@host:5432/dbname.",
        )
    if isinstance(exc, SecretError):
        return (
            f"Encryption keys unusable: {exc}",
            "Set HIRESYNC_ENCRYPTION_KEYS to kid:base64(32 bytes)[,kid:...], or unset it to "
            "use the key generated in the data directory.",
        )
    if isinstance(exc, ValidationError):
        fields = "; ".join(
            f"HIRESYNC_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        return f"Invalid setting: {fields}", "Fix the environment variable named above."
    return None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        explained = explain(exc)
        if explained is None:
            raise
        err.print(f"[bold red]error:[/] {explained[0]}")
        err.print(f"[yellow]fix:[/] {explained[1]}")
        sys.exit(2)


# Commands living in submodules register themselves on ``app`` when imported.
from hiresync.cli import admin, demo, doctor  # noqa: E402,F401
