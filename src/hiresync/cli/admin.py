"""Admin chores: organizations, team members, API keys, key rotation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hiresync.cli import apikey_app, app, fail, org_app, out, run_with_runtime, settings, user_app


@org_app.command("create")
def org_create(
    name: str, slug: Annotated[str | None, typer.Option(help="URL-safe id.")] = None
) -> None:
    """Create an organization (a hiring company)."""
    from hiresync.services import team

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.transaction() as session:
            org = await team.create_organization(session, name, slug)
            return org.slug, org.id

    slug_, org_id = run_with_runtime(work)
    out.print(f"created organization [bold]{slug_}[/] ({org_id})")


@org_app.command("list")
def org_list() -> None:
    """List organizations."""
    from sqlalchemy import select

    from hiresync.store.tables import Organization

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.sessions() as session:
            return list(await session.scalars(select(Organization).order_by(Organization.name)))

    table = Table("slug", "name", "id")
    for org in run_with_runtime(work):
        table.add_row(org.slug, org.name, str(org.id))
    out.print(table)


@user_app.command("add")
def user_add(
    org: Annotated[str, typer.Option(help="Organization slug or id.")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, recruiter or interviewer.")] = "interviewer",
    time_zone: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    password: Annotated[
        str | None, typer.Option(help="Lets the person log in to the pages.")
    ] = None,
) -> None:
    """Add a hiring-team member (matched to their mailbox at once when connected)."""
    from hiresync.services import team

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.transaction() as session:
            organization = await team.get_organization(session, org)
            user = await team.add_user(
                session, organization.id, team.NewUser(name, email, role, time_zone, password)
            )
            return user.id

    out.print(f"added {email} ({run_with_runtime(work)})")


@apikey_app.command("create")
def apikey_create(
    org: Annotated[str, typer.Option(help="Organization slug or id.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    from hiresync.services import apikeys, team

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.transaction() as session:
            organization = await team.get_organization(session, org)
            _, plaintext = await apikeys.create(session, organization.id, name)
            return plaintext

    plaintext = run_with_runtime(work)
    out.print("[bold]API key[/] (store it now; it is not shown again):")
    print(plaintext)


@apikey_app.command("list")
def apikey_list(org: Annotated[str, typer.Option(help="Organization slug or id.")]) -> None:
    """List an organization's keys (prefixes only)."""
    from hiresync.services import apikeys, team

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.sessions() as session:
            organization = await team.get_organization(session, org)
            return await apikeys.list_keys(session, organization.id)

    table = Table("prefix", "name", "created", "last used", "revoked")
    for key in run_with_runtime(work):
        table.add_row(
            key.prefix,
            key.name,
            f"{key.created_at:%Y-%m-%d}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never",
            f"{key.revoked_at:%Y-%m-%d}" if key.revoked_at else "",
        )
    out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    prefix: str, org: Annotated[str, typer.Option(help="Organization slug or id.")]
) -> None:
    """Revoke a key by its prefix; calls with it fail from now on."""
    from hiresync.services import apikeys, team

    async def work(runtime):  # type: ignore[no-untyped-def]
        async with runtime.db.transaction() as session:
            organization = await team.get_organization(session, org)
            await apikeys.revoke(session, organization.id, prefix)

    run_with_runtime(work)
    out.print(f"revoked {prefix}")


@app.command("rotate-key")
def rotate_key(
    reseal_only: Annotated[
        bool,
        typer.Option(
            help="Do not create a key; re-encrypt with the first key of HIRESYNC_ENCRYPTION_KEYS."
        ),
    ] = False,
) -> None:
    """Make a new encryption key active and re-encrypt every stored secret with it."""
    from hiresync.services import secrets_rotation

    s = settings()
    if s.encryption_keys and not reseal_only:
        fail(
            "Keys come from HIRESYNC_ENCRYPTION_KEYS, which this command cannot edit.",
            "Put a new key first in that variable (kid:base64 of 32 bytes), keep the old ones after it, "
            "then run `hiresync rotate-key --reseal-only`.",
        )
    work = secrets_rotation.reseal_all if reseal_only else secrets_rotation.rotate
    count = run_with_runtime(work)
    out.print(f"re-encrypted {count} secret(s); the active key is now in use for all of them")
