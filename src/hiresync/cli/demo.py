"""``hiresync demo``: the whole product on one machine, with sandbox providers and seed data."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from hiresync.cli import app, out, settings


def _team_from_sandbox(sandbox: object) -> tuple[list[object], object]:
    """Pick a hiring team from the Contoso tenant: matched every way, plus some strangers."""
    from hiresync.sandbox.microsoft.seed import CONTOSO_ID
    from hiresync.services.demo import DemoPerson

    tenant = sandbox.tenant(CONTOSO_ID)  # type: ignore[attr-defined]
    users = sorted(
        (u for u in tenant.users.values() if u.account_enabled and u.has_mailbox),
        key=lambda u: u.mail,
    )
    admin_user = next(u for u in users if u.mail == "pat.recruiter@contoso.com")
    admin = DemoPerson(admin_user.display_name, admin_user.mail, "admin", admin_user.time_zone)
    people = []
    for i, u in enumerate(u for u in users if u is not admin_user):
        if len(people) >= 24:
            break
        aliases = [p.split(":", 1)[1] for p in u.proxy_addresses if p.startswith("smtp:")]
        if i % 5 == 1 and aliases:
            email = aliases[0]  # matched by alias
        elif i % 5 == 2 and u.user_principal_name.lower() != u.mail.lower():
            email = u.user_principal_name  # matched by sign-in name
        elif i % 5 == 3:
            email = u.mail.upper()  # case must not matter
        else:
            email = u.mail
        role = "recruiter" if i % 6 == 0 else "interviewer"
        people.append(DemoPerson(u.display_name, email, role, u.time_zone))
    people += [
        DemoPerson(
            "Alex Contractor", "alex.contractor@gmail.example", "interviewer", "Europe/Berlin"
        ),
        DemoPerson("Jordan Typo", "jordan.doe@contosso.com", "interviewer", "America/Chicago"),
        DemoPerson("Casey Newhire", "casey.newhire@contoso.com", "interviewer", "America/New_York"),
    ]
    return people, admin


def _remember(path: Path, value: str | None = None) -> str | None:
    """The demo's login secrets live in private files of the data dir, so every run can
    print them; ``value`` is written when the file does not exist yet."""
    if path.exists():
        return path.read_text().strip()
    if value is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run everything (server, worker, Microsoft and Zoom sandboxes) on the embedded database,
    seeded."""
    import uvicorn

    from hiresync.api.app import create_app
    from hiresync.runtime import Runtime
    from hiresync.sandbox.microsoft import MicrosoftSandbox
    from hiresync.sandbox.microsoft import create_app as sandbox_app
    from hiresync.sandbox.zoom import DEMO_WEBHOOK_SECRET, ZoomSandbox
    from hiresync.sandbox.zoom import create_app as zoom_app
    from hiresync.services import demo as demo_seed
    from hiresync.store import migrate

    s = settings()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    s.base_url = f"http://{shown_host}:{port}"
    sandbox = MicrosoftSandbox.seeded()
    s.microsoft_login_url = f"{s.base_url}/sandbox/microsoft"
    s.microsoft_graph_url = f"{s.base_url}/sandbox/microsoft/graph"
    s.microsoft_client_id = sandbox.demo_client_id
    s.microsoft_client_secret = sandbox.demo_client_secret
    zoom = ZoomSandbox.seeded(webhook_url=f"{s.base_url}/webhooks/zoom")
    s.zoom_oauth_url = s.zoom_api_url = f"{s.base_url}/sandbox/zoom"
    s.zoom_client_id, s.zoom_client_secret = zoom.demo_client_id, zoom.demo_client_secret
    s.zoom_webhook_secret = DEMO_WEBHOOK_SECRET
    runtime = Runtime.build(s)
    migrate.upgrade(runtime.db.uri)
    people, admin = _team_from_sandbox(sandbox)

    async def seed() -> demo_seed.DemoLogin:
        async with runtime.db.transaction() as session:
            password = _remember(s.data_dir / "demo-password", secrets.token_urlsafe(9))
            login = await demo_seed.seed(session, people, admin, password)  # type: ignore[arg-type]
        await runtime.db.dispose()
        key = _remember(s.data_dir / "demo-api-key", login.api_key)
        return demo_seed.DemoLogin(login.email, login.password, key)

    login = asyncio.run(seed())
    _banner(s.base_url, login, sandbox)
    application = create_app(
        s, mounts={"/sandbox/microsoft": sandbox_app(sandbox), "/sandbox/zoom": zoom_app(zoom)}
    )
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=True)


def _banner(base_url: str, login: object, sandbox: object) -> None:
    out.rule("[bold]hiresync demo")
    out.print(f"Open   [bold cyan]{base_url}/[/]")
    out.print(f"Log in [bold]{login.email}[/] / password [bold]{login.password}[/]")  # type: ignore[attr-defined]
    if login.api_key:  # type: ignore[attr-defined]
        out.print(f"API key [bold]{login.api_key}[/]")  # type: ignore[attr-defined]
    out.print(
        "Then Settings › Calendar sync › Connect an Outlook admin account. In the Microsoft sandbox:"
    )
    for account in sandbox.sign_in_accounts("common")[:8]:  # type: ignore[attr-defined]
        kind = "Microsoft 365 admin" if account.is_admin else "not an admin"
        out.print(f"  · {account.user_principal_name:<34} {kind:<20} {account.tenant_name}")
    out.print(f"Sandbox: {base_url}/sandbox/microsoft/   API docs: {base_url}/docs")
    out.print(f"Zoom sandbox: {base_url}/sandbox/zoom/")
    out.rule()
