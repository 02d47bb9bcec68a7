"""Shared fixtures: a real PostgreSQL (embedded, or the server in HIRESYNC_TEST_DATABASE_URL),
a fresh migrated database per test session, and the whole service on a real port: API,
pages, in-process worker, the Microsoft sandbox mounted at /sandbox/microsoft (as in the
demo)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from hiresync.api.app import create_app
from hiresync.config import Settings
from hiresync.sandbox.microsoft import MicrosoftSandbox
from hiresync.sandbox.microsoft import create_app as sandbox_app
from hiresync.sandbox.zoom import DEMO_WEBHOOK_SECRET, ZoomSandbox
from hiresync.sandbox.zoom import create_app as zoom_sandbox_app
from hiresync.services import apikeys, team
from hiresync.store import migrate
from hiresync.store.db import Database
from hiresync.store.embedded import start_embedded, with_database
from tests.servers import free_port, serve_in_thread


@pytest.fixture(scope="session")
def pg_admin_uri() -> str:
    """A server to create test databases on: external when configured, else embedded."""
    external = os.environ.get("HIRESYNC_TEST_DATABASE_URL")
    if external:
        return external
    data_dir = (
        Path(os.environ.get("HIRESYNC_TEST_DATA_DIR") or tempfile.gettempdir()) / "hiresync-test-pg"
    )
    return start_embedded(data_dir)


@pytest.fixture(scope="session")
def database_uri(pg_admin_uri: str) -> Iterator[str]:
    """A new database with every migration applied, dropped after the session."""
    name = f"hiresync_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    uri = with_database(pg_admin_uri, name)
    migrate.upgrade(uri)
    yield uri
    with psycopg.connect(pg_admin_uri, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass
class Stack:
    url: str
    settings: Settings
    sandbox: MicrosoftSandbox
    database_uri: str
    zoom: ZoomSandbox | None = None


@pytest.fixture(scope="session")
def sandbox() -> MicrosoftSandbox:
    return MicrosoftSandbox.seeded()


@pytest.fixture(scope="session")
def zoom_sandbox() -> ZoomSandbox:
    """Zoom, emulated; its webhooks are delivered when a test asks (``deliver_webhooks``)."""
    zoom = ZoomSandbox.seeded()
    zoom.limits.webhook_delivery = "manual"
    return zoom


class MailDrop:
    """A real SMTP server's inbox (aiosmtpd): what hiresync's e-mails look like on arrival."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def mail_drop() -> Iterator[tuple[MailDrop, int]]:
    from aiosmtpd.controller import Controller

    drop = MailDrop()
    controller = Controller(drop, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield drop, controller.port
    finally:
        controller.stop()


def stack_settings(
    base: str,
    database_uri: str,
    data_dir: Path,
    sandbox: MicrosoftSandbox,
    smtp_port: int = 0,
    zoom: ZoomSandbox | None = None,
) -> Settings:
    key = base64.b64encode(os.urandom(32)).decode()
    return Settings(
        data_dir=data_dir,
        database_url=database_uri,
        base_url=base,
        encryption_keys=f"test1:{key}",
        session_secret=secrets.token_urlsafe(32),
        microsoft_client_id=sandbox.demo_client_id,
        microsoft_client_secret=sandbox.demo_client_secret,
        microsoft_login_url=f"{base}/sandbox/microsoft",
        microsoft_graph_url=f"{base}/sandbox/microsoft/graph",
        run_worker=True,
        webhook_retry_seconds="1,1,1",  # seconds, not hours, between webhook attempts
        smtp_host="127.0.0.1" if smtp_port else "",
        smtp_port=smtp_port,
        smtp_starttls=False,
        mail_from="interviews@hiresync.test",
        mail_from_name="Acme Hiring",
        zoom_client_id=zoom.demo_client_id if zoom else "",
        zoom_client_secret=zoom.demo_client_secret if zoom else "",
        zoom_oauth_url=f"{base}/sandbox/zoom",
        zoom_api_url=f"{base}/sandbox/zoom",
        zoom_webhook_secret=DEMO_WEBHOOK_SECRET if zoom else "",
    )


@pytest.fixture(scope="session")
def stack(
    database_uri: str,
    sandbox: MicrosoftSandbox,
    tmp_path_factory: pytest.TempPathFactory,
    mail_drop: tuple[MailDrop, int],
    zoom_sandbox: ZoomSandbox,
) -> Iterator[Stack]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("data")
    settings = stack_settings(
        base, database_uri, data_dir, sandbox, smtp_port=mail_drop[1], zoom=zoom_sandbox
    )
    zoom_sandbox.configure_webhooks(f"{base}/webhooks/zoom", DEMO_WEBHOOK_SECRET)
    app = create_app(
        settings,
        mounts={
            "/sandbox/microsoft": sandbox_app(sandbox),
            "/sandbox/zoom": zoom_sandbox_app(zoom_sandbox),
        },
    )
    with serve_in_thread(app, port=port) as url:
        yield Stack(url, settings, sandbox, database_uri, zoom_sandbox)


@pytest.fixture(autouse=True)
def _caldav_accounts_end_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test's CalDAV server stops with the test: its accounts are disconnected then too,
    or the stack's shared worker would keep polling (and retrying) a server that is gone,
    and later tests' jobs would wait behind those runs."""
    yield
    if "stack" not in request.fixturenames:
        return
    uri = request.getfixturevalue("stack").database_uri
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(
            "UPDATE calendar_accounts SET status = 'disconnected', disconnected_at = now() "
            "WHERE provider = 'caldav' AND status <> 'disconnected'"
        )


@pytest.fixture(scope="session")
async def db(database_uri: str) -> AsyncIterator[Database]:
    database = Database.connect(database_uri, pool_size=2)
    yield database
    await database.dispose()


@dataclass
class Org:
    id: object
    slug: str
    admin_email: str
    password: str
    api_key: str
    api: httpx.Client


def run_async(make_coroutine: Any) -> Any:
    """Run a coroutine to completion from any test, sync or async (in its own thread and loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make_coroutine()).result()


@pytest.fixture
def make_org(stack: Stack) -> Iterator[Any]:
    """Creates a hiring organization with an admin who can log in, and an API client."""
    yield from org_factory(stack)


@pytest.fixture(scope="module")
def make_org_module(stack: Stack) -> Iterator[Any]:
    """``make_org`` for organizations a whole test module shares."""
    yield from org_factory(stack)


def org_factory(stack: Stack) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    async def create(
        slug: str, password: str, admin_email: str, members: Sequence[tuple[str, str]]
    ) -> tuple[Any, str]:
        database = Database.connect(stack.database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                org = await team.create_organization(session, f"Org {slug}", slug)
                await team.add_user(
                    session,
                    org.id,
                    team.NewUser("Hiring Admin", admin_email, "admin", "Europe/London", password),
                )
                for name, email in members:
                    await team.add_user(
                        session,
                        org.id,
                        team.NewUser(name, email, "interviewer", "America/New_York"),
                    )
                _, key = await apikeys.create(session, org.id, "tests")
            return org.id, key
        finally:
            await database.dispose()

    def make(members: Sequence[tuple[str, str]] = (), admin_email: str | None = None) -> Org:
        slug = f"org-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        admin_email = admin_email or f"admin@{slug}.example"
        org_id, key = run_async(lambda: create(slug, password, admin_email, members))
        api = httpx.Client(
            base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        clients.append(api)
        return Org(org_id, slug, admin_email, password, key, api)

    yield make
    for client in clients:
        client.close()
