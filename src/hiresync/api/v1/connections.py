"""The company-wide calendar connection and its directory matches."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from sqlalchemy import select

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.api.v1.schemas import (
    ConnectionOut,
    ConsentLinkOut,
    DirectoryPersonOut,
    MatchReportOut,
)
from hiresync.api.v1.users import user_out
from hiresync.jobs.engine import defer_in_transaction
from hiresync.services import connections, directory
from hiresync.services.errors import NotConnected
from hiresync.store.tables import Connection

router = APIRouter(tags=["connections"])


def connection_out(c: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=c.id,
        provider=c.provider,
        status=c.status,
        tenant_id=c.tenant_id,  # type: ignore[arg-type]
        cloud=c.cloud,
        consented_via=c.consented_by,
        connected_at=c.connected_at,
        disconnected_at=c.disconnected_at,
        last_error=c.last_error,
        directory_refreshed_at=c.directory_refreshed_at,
        directory_size=c.directory_size,
    )


@router.get("/connections", response_model=list[ConnectionOut])
async def list_connections(org: OrgDep, session: SessionDep) -> list[ConnectionOut]:
    """The live connection first, then past ones."""
    rows = await session.scalars(
        select(Connection)
        .where(Connection.organization_id == org)
        .order_by(Connection.connected_at.desc())
    )
    return sorted((connection_out(c) for c in rows), key=lambda c: c.status == "disconnected")


@router.get("/connections/{connection_id}", response_model=ConnectionOut)
async def get_connection(
    connection_id: uuid.UUID, org: OrgDep, session: SessionDep
) -> ConnectionOut:
    return connection_out(await connections.get_connection(session, org, connection_id))


@router.delete("/connections/{connection_id}", response_model=ConnectionOut)
async def disconnect(connection_id: uuid.UUID, org: OrgDep, session: SessionDep) -> ConnectionOut:
    """Disconnect: the stored tokens and directory copy are deleted; the record stays."""
    connection = await connections.get_connection(session, org, connection_id)
    if connection.status == "disconnected":
        raise NotConnected("This connection is already disconnected.")
    await connections.tear_down(session, connection)
    return connection_out(connection)


@router.post("/connections/microsoft/consent-links", response_model=ConsentLinkOut, status_code=201)
async def consent_link(org: OrgDep, runtime: RuntimeDep, session: SessionDep) -> ConsentLinkOut:
    """A link for the company's Microsoft 365 admin: opening it and accepting connects the
    whole company."""
    return ConsentLinkOut(url=await connections.share_link(runtime, session, org, None))


@router.get("/directory/matches", response_model=MatchReportOut)
async def matches(
    org: OrgDep,
    session: SessionDep,
    limit: int = Query(200, ge=0, le=5000, description="Unmatched directory people listed."),
) -> MatchReportOut:
    report = await directory.report(session, org)
    return MatchReportOut(
        matched=[user_out(u, m) for u, m in report.matched],
        unmatched_team_members=[user_out(u, None) for u in report.unmatched_members],
        unmatched_directory_people=[
            DirectoryPersonOut(
                id=e.id,
                display_name=e.display_name,
                mail=e.mail,
                user_principal_name=e.user_principal_name,
            )
            for e in report.unmatched_directory[:limit]
        ],
        unmatched_directory_total=len(report.unmatched_directory),
        directory_size=report.directory_size,
    )


@router.post("/directory/refresh", status_code=202)
async def refresh(org: OrgDep, runtime: RuntimeDep, session: SessionDep) -> dict[str, bool]:
    """Queue a directory refresh now (it also runs by itself periodically)."""
    if await directory.live_connection(session, org) is None:
        raise NotConnected("No calendar system is connected.", hint="Connect one first.")
    job = await defer_in_transaction(
        runtime.jobs,
        session,
        "refresh_directory",
        args={"organization_id": str(org)},
        queueing_lock=f"directory:{org}",
        lock=f"directory:{org}",
    )
    return {"queued": job is not None}
