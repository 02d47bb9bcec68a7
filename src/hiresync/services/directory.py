"""Keep the connected directory and the team-to-mailbox matches current.

The directory read itself happens outside any transaction (it can take many pages);
``store_directory`` then replaces the stored copy and recomputes every match in one
transaction, so readers never see a half-refreshed directory.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.freebusy import DirectoryUser
from hiresync.domain.matching import Match, TeamMember, match_members, smtp_addresses
from hiresync.store.tables import Connection, DirectoryEntry, DirectoryMatch, User


async def live_connection(session: AsyncSession, org_id: uuid.UUID) -> Connection | None:
    """The organization's company-wide connection, unless it was disconnected."""
    return await session.scalar(
        select(Connection).where(
            Connection.organization_id == org_id, Connection.status != "disconnected"
        )
    )


def _as_domain(entry: DirectoryEntry) -> DirectoryUser:
    return DirectoryUser(
        id=str(entry.id),
        display_name=entry.display_name,
        mail=entry.mail,
        user_principal_name=entry.user_principal_name,
        proxy_addresses=tuple(f"smtp:{a}" for a in entry.addresses),
        account_enabled=entry.account_enabled,
    )


async def store_directory(
    session: AsyncSession, connection: Connection, users: list[DirectoryUser]
) -> None:
    """Replace the stored directory of ``connection`` with ``users`` and rematch everyone."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": connection.organization_id,
            "connection_id": connection.id,
            "external_id": u.id,
            "display_name": u.display_name,
            "mail": u.mail,
            "user_principal_name": u.user_principal_name,
            "addresses": smtp_addresses(u.proxy_addresses),
            "account_enabled": u.account_enabled,
            "seen_at": now,
        }
        for u in users
    ]
    for start in range(0, len(rows), 1000):
        stmt = insert(DirectoryEntry).values(rows[start : start + 1000])
        excluded = stmt.excluded
        await session.execute(
            stmt.on_conflict_do_update(
                constraint="uq_directory_conn_external",
                set_={
                    c: excluded[c]
                    for c in (
                        "display_name",
                        "mail",
                        "user_principal_name",
                        "addresses",
                        "account_enabled",
                        "seen_at",
                    )
                },
            )
        )
    await session.execute(
        delete(DirectoryEntry).where(
            DirectoryEntry.connection_id == connection.id, DirectoryEntry.seen_at < now
        )
    )
    connection.directory_refreshed_at = now
    connection.directory_size = len(users)
    await rematch(session, connection)


async def _entries(session: AsyncSession, connection: Connection) -> list[DirectoryEntry]:
    rows = await session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.connection_id == connection.id)
    )
    return list(rows)


async def rematch(session: AsyncSession, connection: Connection) -> None:
    """Recompute every match of the organization from the stored directory."""
    org_id = connection.organization_id
    users = list(await session.scalars(select(User).where(User.organization_id == org_id)))
    entries = await _entries(session, connection)
    result = match_members(
        [TeamMember(str(u.id), u.email) for u in users], [_as_domain(e) for e in entries]
    )
    await session.execute(delete(DirectoryMatch).where(DirectoryMatch.organization_id == org_id))
    session.add_all(_match_row(org_id, m) for m in result.matched)
    await session.flush()


def _match_row(org_id: uuid.UUID, match: Match) -> DirectoryMatch:
    return DirectoryMatch(
        organization_id=org_id,
        user_id=uuid.UUID(match.member.key),
        entry_id=uuid.UUID(match.user.id),
        matched_on=match.matched_on.value,
        mailbox=match.mailbox,
    )


async def match_user(session: AsyncSession, user: User) -> DirectoryMatch | None:
    """Match one (new or changed) team member against the stored directory, if connected."""
    await session.execute(delete(DirectoryMatch).where(DirectoryMatch.user_id == user.id))
    connection = await live_connection(session, user.organization_id)
    if connection is None:
        return None
    entries = await _entries(session, connection)
    result = match_members([TeamMember(str(user.id), user.email)], [_as_domain(e) for e in entries])
    if not result.matched:
        return None
    row = _match_row(user.organization_id, result.matched[0])
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class MatchReport:
    matched: list[tuple[User, DirectoryMatch]]
    unmatched_members: list[User]
    unmatched_directory: list[DirectoryEntry]
    directory_size: int


async def report(session: AsyncSession, org_id: uuid.UUID) -> MatchReport:
    """Who is matched, which team members are not, and which directory people are not.

    The directory is read before the matches: each statement sees the latest commit, and a
    refresh stores both at once, so a report read while the first refresh commits shows
    an empty directory (still loading), never a full one with nobody matched."""
    connection = await live_connection(session, org_id)
    entries = await _entries(session, connection) if connection else []
    users = list(
        await session.scalars(
            select(User).where(User.organization_id == org_id).order_by(User.name)
        )
    )
    matches = {
        m.user_id: m
        for m in await session.scalars(
            select(DirectoryMatch).where(DirectoryMatch.organization_id == org_id)
        )
    }
    taken = {m.entry_id for m in matches.values()}
    return MatchReport(
        matched=[(u, matches[u.id]) for u in users if u.id in matches],
        unmatched_members=[u for u in users if u.id not in matches],
        unmatched_directory=sorted(
            (e for e in entries if e.id not in taken and e.account_enabled),
            key=lambda e: (e.display_name or "", e.mail or ""),
        ),
        directory_size=len(entries),
    )
