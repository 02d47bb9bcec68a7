"""hiresync's copy of a synced calendar, as the sync engine's local side and status store.

Each ``calendar_items`` row is both the local item (``id`` as its ident, ``version`` as its
etag, ``digest``) and the status of its pair (``remote_ident``/``remote_etag``/
``remote_digest`` as of the last successful sync). A row deleted in hiresync stays as a
tombstone (``deleted``) until the remote copy is deleted too.

Writes are buffered and flushed in one transaction with the calendar's new cursor
(``CopyWriter.flush``): a row and the status of its pair are committed together, so the
engine's rule "status right after its write" holds for the local side, and a run that dies
before the flush leaves nothing half-saved (the next run repeats it; remote writes it made
are recognised by uid, never doubled). Thousands of rows cost a few statements, not one
round trip each: an initial sync of 5,000 events is one batched INSERT.

A local write is applied only if the row still has the version the run read; a row changed
meanwhile (an interview edited during the sync) keeps its change, and its pair is left for
the next run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import String, any_, bindparam, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.domain.calendar_copies import EventCopy, Origin, Quarantined
from hiresync.store.tables import CalendarItem, SyncedCalendar
from hiresync.sync import Item, PairStatus, Version
from hiresync.sync.model import NotFound, PreconditionFailed

# A quarantined row of the same uid (the server now sends it readable) is replaced.
_INSERT = insert(CalendarItem)
_UPSERT = _INSERT.on_conflict_do_update(
    constraint="uq_calendar_items_uid",
    set_={
        c: _INSERT.excluded[c]
        for c in (
            "id",
            "version",
            "digest",
            "origin",
            "deleted",
            "summary",
            "starts_at",
            "ends_at",
            "all_day",
            "time_zone",
            "busy",
            "status",
            "recurring",
            "owned",
            "modified_at",
            "data",
            "raw",
            "quarantine",
            "remote_ident",
            "remote_etag",
            "remote_digest",
            "synced_version",
            "synced_digest",
        )
    },
)


# From this many new rows on, they are sent with COPY (see ``CopyWriter._copy_in``).
_COPY_FROM = 200
_COPY_COLUMNS = (
    "id",
    "organization_id",
    "calendar_id",
    "uid",
    "version",
    "origin",
    "deleted",
    "digest",
    "summary",
    "starts_at",
    "ends_at",
    "all_day",
    "time_zone",
    "busy",
    "status",
    "recurring",
    "owned",
    "modified_at",
    "data",
    "raw",
    "quarantine",
    "remote_ident",
    "remote_etag",
    "remote_digest",
    "synced_version",
    "synced_digest",
)


@dataclass(slots=True)
class LocalState:
    """The local snapshot, the status of every pair, and hrefs back to uids."""

    items: dict[str, Item] = field(default_factory=dict)
    status: dict[str, PairStatus] = field(default_factory=dict)
    uid_of: dict[str, str] = field(default_factory=dict)  # remote ident -> uid
    versions: dict[uuid.UUID, int] = field(default_factory=dict)


async def load(session: AsyncSession, calendar_id: uuid.UUID) -> LocalState:
    """Everything the planner needs of the local side, in one query (no event bodies:
    those of the few items that will be written out are read by ``bodies``).

    Every run reads the status of every pair (5,000 for a big calendar), so the rows are
    fetched as the driver's plain tuples, past SQLAlchemy's result processing: a third of
    the time, which counts in an incremental sync (see ``bench/caldav_sync.py``)."""
    state = LocalState()
    items, status, uid_of, versions = state.items, state.status, state.uid_of, state.versions
    imported = Origin.IMPORTED.value
    for (
        row_id,
        ident,
        uid,
        version,
        digest,
        remote_ident,
        remote_etag,
        remote_digest,
        synced_version,
        synced_digest,
        origin,
        owned,
        deleted,
        modified,
    ) in await _status_rows(session, calendar_id):
        versions[row_id] = version
        etag = str(version)
        if not deleted:
            items[uid] = Item(
                ident, uid, etag, digest, None, origin != imported and owned, modified
            )
        if remote_ident is not None:
            synced = Version(
                ident,
                etag if synced_version is None else str(synced_version),
                synced_digest or digest,
            )
            status[uid] = PairStatus(
                uid, synced, Version(remote_ident, remote_etag, remote_digest or "")
            )
            uid_of[remote_ident] = uid
    return state


# The columns ``load`` reads, in its order (the id twice: as a UUID and as the ident text).
_LOAD = (
    "SELECT id, id::text, uid, version, digest, remote_ident, remote_etag, remote_digest,"
    " synced_version, synced_digest, origin, owned, deleted, modified_at"
    " FROM calendar_items WHERE calendar_id = %s AND quarantine IS NULL"
)


async def _status_rows(session: AsyncSession, calendar_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """``_LOAD`` on the session's connection, rows as the driver's tuples."""
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    async with driver.cursor() as cursor:
        await cursor.execute(_LOAD, (calendar_id,))
        return await cursor.fetchall()


async def bodies(session: AsyncSession, ids: list[uuid.UUID]) -> dict[str, EventCopy]:
    """The full copies of these rows (by ident), for the items a run writes out."""
    if not ids:
        return {}
    rows = await session.scalars(select(CalendarItem).where(CalendarItem.id.in_(ids)))
    return {str(r.id): copy_of(r) for r in rows}


def copy_of(row: CalendarItem) -> EventCopy:
    return EventCopy(
        uid=row.uid,
        digest=row.digest,
        summary=row.summary,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        all_day=row.all_day,
        time_zone=row.time_zone,
        busy=row.busy,
        status=row.status,
        recurring=row.recurring,
        owned=row.owned,
        modified=row.modified_at,
        data=dict(row.data or {}),
        raw=row.raw,
    )


def _fields(copy: EventCopy) -> dict[str, Any]:
    return {
        "digest": copy.digest,
        "summary": copy.summary,
        "starts_at": copy.starts_at,
        "ends_at": copy.ends_at,
        "all_day": copy.all_day,
        "time_zone": copy.time_zone,
        "busy": copy.busy,
        "status": copy.status,
        "recurring": copy.recurring,
        "owned": copy.owned,
        "modified_at": copy.modified,
        "data": copy.data,
        # The text is kept for series (availability expands them from it) and for events
        # hiresync writes out (their rows are made with it); a single event read from the
        # calendar is whole in the columns, and 5,000 of them would be 6 MB more to store.
        "raw": copy.raw if copy.recurring else None,
        "quarantine": None,
    }


def _uids(new: dict[str, Any]) -> Any:
    """The uids as one array parameter (``uid = ANY(:uids)``): a first sync's 5,000 would
    otherwise be 5,000 bound parameters, each compiled and sent on its own."""
    return bindparam("uids", list(new), type_=ARRAY(String))


class CopyWriter:
    """The local ``SyncSide`` and the ``StatusStore`` of one calendar, buffered until
    ``flush``. ``state`` is what ``load`` read for this run."""

    def __init__(self, org_id: uuid.UUID, calendar_id: uuid.UUID, state: LocalState) -> None:
        self._org, self._calendar, self._state = org_id, calendar_id, state
        self._new: dict[str, dict[str, Any]] = {}  # uid -> row to insert
        self._changed: dict[uuid.UUID, dict[str, Any]] = {}  # id -> new values
        self._expected: dict[uuid.UUID, int] = {}  # id -> version the run read
        self._gone: set[uuid.UUID] = set()
        self._status: dict[str, PairStatus] = {}
        self._dropped: set[str] = set()
        self.quarantined: list[Quarantined] = []

    # -- SyncSide ----------------------------------------------------------------------------

    async def create(self, source: Item) -> tuple[str, str | None]:
        copy = _copy(source)
        row_id = uuid.uuid4()
        self._new[source.uid] = {
            "id": row_id,
            "organization_id": self._org,
            "calendar_id": self._calendar,
            "uid": source.uid,
            "version": 1,
            "origin": Origin.REMOTE.value,
            "deleted": False,
            **_fields(copy),
            **_UNPAIRED,
        }
        return str(row_id), "1"

    async def update(self, ident: str, etag: str | None, source: Item) -> str | None:
        row_id = self._row(ident, etag)
        version = int(etag or self._state.versions[row_id]) + 1
        self._expected.setdefault(row_id, self._state.versions[row_id])
        self._changed[row_id] = {**_fields(_copy(source)), "version": version, "deleted": False}
        return str(version)

    async def delete(self, ident: str, etag: str | None) -> None:
        row_id = self._row(ident, etag, missing_ok=True)
        if row_id is not None:
            self._expected.setdefault(row_id, self._state.versions[row_id])
            self._gone.add(row_id)

    def _row(self, ident: str, etag: str | None, missing_ok: bool = False) -> Any:
        try:
            row_id = uuid.UUID(ident)
        except ValueError:
            row_id = None
        if row_id is None or row_id not in self._state.versions:
            if missing_ok:
                return None
            raise NotFound(f"no local event {ident}")
        if etag is not None and etag != str(self._state.versions[row_id]):
            raise PreconditionFailed(f"local event {ident} changed")
        return row_id

    # -- StatusStore -------------------------------------------------------------------------

    async def set(self, pair: PairStatus) -> None:
        self._dropped.discard(pair.uid)
        self._status[pair.uid] = pair

    async def drop(self, uid: str) -> None:
        self._status.pop(uid, None)
        self._dropped.add(uid)

    # -- the flush ---------------------------------------------------------------------------

    @property
    def writes(self) -> int:
        return len(self._new) + len(self._changed) + len(self._gone) + len(self._status)

    async def flush(self, session: AsyncSession) -> list[str]:
        """Apply everything in ``session`` (the caller's transaction, with the cursor);
        returns the uids left for the next run because their row changed meanwhile."""
        stale = await self._stale(session)
        left = [uid for uid, p in self._status.items() if uuid.UUID(p.local.ident) in stale]
        for uid in left:
            self._status[uid] = self._as_read(self._status[uid])
        await self._keep_unread_rows(session)
        for uid, row in self._new.items():
            pair = self._status.get(uid)
            if pair is not None:
                row.update(_pair_columns(pair))
        if len(self._new) >= _COPY_FROM:
            await self._copy_in(session)
        elif self._new:
            await session.execute(_UPSERT, list(self._new.values()))
        by_ident = {p.local.ident: p for p in self._status.values()}
        changes = [
            {"id": row_id, **values, **_pair_columns(by_ident.get(str(row_id)))}
            for row_id, values in self._changed.items()
            if row_id not in stale and row_id not in self._gone
        ]
        changes += self._status_only(stale)
        if changes:
            await session.execute(update(CalendarItem), changes)
        await self._delete_rows(session, stale)
        await self._store_quarantined(session)
        return left

    async def _keep_unread_rows(self, session: AsyncSession) -> None:
        """New rows whose uid a row this run did not read already holds: nothing is copied
        over it. A hiresync event pushed by a run that died before its flush, then deleted in
        hiresync, is such a row (a tombstone no status pairs): it comes back from the remote
        as new, and copying it would resurrect it (or break a first sync's COPY). The
        tombstone is paired with the remote copy instead, so the next run deletes that; a
        live row (made during the run) is left for the next run to pair."""
        if not self._new:
            return
        rows = await session.execute(
            select(CalendarItem.id, CalendarItem.uid, CalendarItem.version, CalendarItem.deleted)
            .where(
                CalendarItem.calendar_id == self._calendar,
                CalendarItem.quarantine.is_(None),
                CalendarItem.uid == any_(_uids(self._new)),
            )
            .with_for_update()
        )
        for row in rows:
            del self._new[row.uid]
            pair = self._status.pop(row.uid, None)
            if pair is not None and row.deleted:
                mine = Version(str(row.id), str(row.version), pair.local.digest)
                self._status[row.uid] = PairStatus(row.uid, mine, pair.remote)

    async def _copy_in(self, session: AsyncSession) -> None:
        """Many new rows (a first sync) in one COPY: ten times faster than an INSERT per row.
        The only rows of the same uid the run did not read are quarantined ones (the server
        now sends them readable): they go first, as the upsert would replace them."""
        rows = list(self._new.values())
        await session.execute(
            delete(CalendarItem).where(
                CalendarItem.calendar_id == self._calendar,
                CalendarItem.quarantine.is_not(None),
                CalendarItem.uid == any_(_uids(self._new)),
            )
        )
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        columns = ", ".join(_COPY_COLUMNS)
        statement = f"COPY calendar_items ({columns}) FROM STDIN"  # our constant column names
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row(
                    tuple(Jsonb(row[c]) if c == "data" else row[c] for c in _COPY_COLUMNS)
                )

    def _as_read(self, pair: PairStatus) -> PairStatus:
        """The status of a pair whose local write is not applied (its row changed during the
        run): the remote as the run read it, the row as the run read it. The cursor moves
        past what was read, so this keeps the remote in view (a remote deletion unpairs the
        row: see ``_status_only``); the next run sees the row changed and decides again. (A
        row whose version moved with no change of content reads as unchanged then.)"""
        row_id = uuid.UUID(pair.local.ident)
        item = self._state.items.get(pair.uid)
        read = Version(
            pair.local.ident, str(self._state.versions[row_id]), item.digest if item else ""
        )
        return PairStatus(pair.uid, read, pair.remote)

    async def _stale(self, session: AsyncSession) -> set[uuid.UUID]:
        """Rows the run writes whose version moved since it read them (locked for the rest
        of the transaction, so nothing moves them between this check and the write)."""
        if not self._expected:
            return set()
        rows = await session.execute(
            select(CalendarItem.id, CalendarItem.version)
            .where(CalendarItem.id.in_(list(self._expected)))
            .with_for_update()
        )
        return {r.id for r in rows if r.version != self._expected[r.id]}

    def _status_only(self, stale: set[uuid.UUID]) -> list[dict[str, Any]]:
        """Pairs whose status changed with no local write (a remote write, or a record)."""
        out = []
        for uid, pair in self._status.items():
            row_id = uuid.UUID(pair.local.ident)
            if uid in self._new or (row_id in self._changed and row_id not in stale):
                continue
            if row_id in self._gone and row_id not in stale:
                continue
            out.append({"id": row_id, **_pair_columns(pair)})
        for uid in self._dropped:
            old = self._state.status.get(uid)
            if old is not None and uuid.UUID(old.local.ident) not in self._gone - stale:
                out.append({"id": uuid.UUID(old.local.ident), **_UNPAIRED})
        return out

    async def _delete_rows(self, session: AsyncSession, stale: set[uuid.UUID]) -> None:
        """Rows the remote deleted, and tombstones whose remote copy is now deleted."""
        tombstones = {
            uuid.UUID(self._state.status[uid].local.ident)
            for uid in self._dropped
            if uid in self._state.status and uid not in self._state.items
        }
        doomed = (self._gone - stale) | tombstones
        if doomed:
            await session.execute(delete(CalendarItem).where(CalendarItem.id.in_(list(doomed))))

    async def _store_quarantined(self, session: AsyncSession) -> None:
        """What the server sent unreadable: its row says why (a known row keeps its copy)."""
        for bad in self.quarantined:
            known = await session.scalar(
                select(CalendarItem).where(
                    CalendarItem.calendar_id == self._calendar, CalendarItem.uid == bad.uid
                )
            )
            if known is not None:
                known.quarantine = bad.reason
                continue
            session.add(
                CalendarItem(
                    organization_id=self._org,
                    calendar_id=self._calendar,
                    uid=bad.uid,
                    remote_ident=bad.ident,
                    digest="",
                    origin=Origin.REMOTE.value,
                    raw=bad.raw,
                    quarantine=bad.reason,
                )
            )


def _copy(source: Item) -> EventCopy:
    if not isinstance(source.payload, EventCopy):
        raise TypeError(f"item {source.uid} carries no event copy")
    return source.payload


_UNPAIRED: dict[str, Any] = dict.fromkeys(
    ("remote_ident", "remote_etag", "remote_digest", "synced_version", "synced_digest")
)


def _pair_columns(pair: PairStatus | None) -> dict[str, Any]:
    """The status columns of a pair: its remote half, and its local half as synced."""
    if pair is None:
        return {}
    return {
        "remote_ident": pair.remote.ident,
        "remote_etag": pair.remote.etag,
        "remote_digest": pair.remote.digest,
        "synced_version": int(pair.local.etag) if pair.local.etag else None,
        "synced_digest": pair.local.digest,
    }


# -- availability from the copy -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopiedBusy:
    """A busy event of someone's synced calendars that may reach into a window: a single
    event that overlaps it, or a series that began before its end (``raw`` holds its
    rules, for the caller to expand)."""

    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None
    recurring: bool
    raw: str | None


async def busy_in(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> tuple[set[uuid.UUID], list[CopiedBusy]]:
    """Who has a synced calendar hiresync has read (the copy answers for them), and their
    busy events over ``start``–``end``. Disabled calendars and unread ones do not count."""
    if not user_ids:
        return set(), []
    calendars = (
        select(SyncedCalendar.id, SyncedCalendar.user_id)
        .where(
            SyncedCalendar.organization_id == org_id,
            SyncedCalendar.user_id.in_(user_ids),
            SyncedCalendar.state != "disabled",
            SyncedCalendar.last_synced_at.is_not(None),
        )
        .subquery()
    )
    covered = set(await session.scalars(select(calendars.c.user_id)))
    if not covered:
        return set(), []
    rows = await session.execute(
        select(
            calendars.c.user_id,
            CalendarItem.starts_at,
            CalendarItem.ends_at,
            CalendarItem.recurring,
            case((CalendarItem.recurring, CalendarItem.raw)).label("raw"),
        )
        .join(calendars, calendars.c.id == CalendarItem.calendar_id)
        .where(
            CalendarItem.busy.is_(True),
            CalendarItem.deleted.is_(False),
            CalendarItem.quarantine.is_(None),
            CalendarItem.starts_at < end,
            or_(CalendarItem.recurring.is_(True), CalendarItem.ends_at > start),
        )
    )
    return covered, [CopiedBusy(*row) for row in rows]
