"""Values the sync engine works with: items as each side sees them, the status of every
pair from the last successful sync, the rules of a run, and the actions of a plan.

Two numbers describe an item's version, because neither is enough alone:

- ``etag`` is the side's opaque version. It changes whenever the side rewrites the item,
  which some servers do without any change of content ("unstable etags"), so a new etag
  only says the item *may* have changed.
- ``digest`` is a hash of the item's normalized content, computed the same way for both
  sides. It tells a real change from an etag-only one, and two sides holding the same
  content apart from an etag.

An item counts as changed when both its etag and its digest differ from the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    LOCAL = "local"
    REMOTE = "remote"

    @property
    def other(self) -> Side:
        return Side.REMOTE if self is Side.LOCAL else Side.LOCAL


class Direction(StrEnum):
    """Which sides a run may write. A one-way run treats the other side as read-only."""

    BOTH = "both"
    PULL = "pull"  # remote -> local only: the remote is read-only (external meetings)
    PUSH = "push"  # local -> remote only: hiresync's copy is read-only


class ConflictPolicy(StrEnum):
    """Who wins when both sides changed an item differently (see ``planner``)."""

    REMOTE_WINS = "remote_wins"  # default: the calendar belongs to the remote person
    LOCAL_WINS = "local_wins"
    LATEST = "latest"  # newer ``modified`` wins; remote wins when either lacks one or they tie


class SyncError(Exception):
    """Base for the errors a ``SyncSide`` raises for the executor to understand."""


class PreconditionFailed(SyncError):
    """The item's etag no longer matches: it changed underneath us. Left for the next run."""


class NotFound(SyncError):
    """The item is not there. A delete counts as done; an update is left for the next run."""


@dataclass(frozen=True, slots=True)
class Version:
    """One side's half of a pair, as it stood after the last successful sync."""

    ident: str
    etag: str | None
    digest: str


@dataclass(frozen=True, slots=True)
class Item:
    """An item as one side reports it.

    ``ident`` is the side's own id (Graph id, CalDAV href, our row id); ``uid`` is the
    identity both sides share (iCalendar UID, our key in an extended property), so an
    item written by a run whose status was never saved is recognised, not doubled.
    ``payload`` is the content in the form both adapters read and write (a domain
    event, say); the engine never looks into it. ``outbound`` is meaningful on the local
    side only: False for items that must never be written to the remote (imported into
    the platform, not owned by the user). ``modified`` feeds ``ConflictPolicy.LATEST``.
    ``written_from`` (when the side can tell): the (etag, digest) of the other side's item
    this engine last wrote this one from, for a write whose status may have been lost (see
    the planner's rows 4 and 9).
    """

    ident: str
    uid: str
    etag: str | None
    digest: str
    payload: Any = field(default=None, compare=False, repr=False)
    outbound: bool = True
    modified: datetime | None = None
    written_from: tuple[str, str] | None = None

    @property
    def version(self) -> Version:
        return Version(self.ident, self.etag, self.digest)


@dataclass(frozen=True, slots=True)
class PairStatus:
    """What both sides held for one uid after the last successful sync."""

    uid: str
    local: Version
    remote: Version

    def half(self, side: Side) -> Version:
        return self.local if side is Side.LOCAL else self.remote

    @classmethod
    def of(cls, uid: str, side: Side, mine: Version, theirs: Version) -> PairStatus:
        """The pair where ``mine`` is ``side``'s half and ``theirs`` the other's."""
        if side is Side.LOCAL:
            return cls(uid, mine, theirs)
        return cls(uid, theirs, mine)


Snapshot = Mapping[str, Item]  # uid -> item, everything one side holds for this pair
Status = Mapping[str, PairStatus]  # uid -> pair, as of the last successful sync


# --- actions: what the executor does ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Create:
    """Write ``source`` (an item of the other side) as a new item on ``side``."""

    side: Side
    source: Item

    @property
    def uid(self) -> str:
        return self.source.uid


@dataclass(frozen=True, slots=True)
class Update:
    """Overwrite ``target`` on ``side`` with ``source``'s content, if its etag still matches."""

    side: Side
    target: Item
    source: Item

    @property
    def uid(self) -> str:
        return self.target.uid


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete ``target`` on ``side``, if its etag still matches; then forget the pair."""

    side: Side
    target: Item

    @property
    def uid(self) -> str:
        return self.target.uid


@dataclass(frozen=True, slots=True)
class RecordStatus:
    """Save a pair's status without writing to either side (same content, new etags)."""

    pair: PairStatus

    @property
    def uid(self) -> str:
        return self.pair.uid


@dataclass(frozen=True, slots=True)
class DropStatus:
    """Forget a pair that is gone from both sides."""

    uid: str


Action = Create | Update | Delete | RecordStatus | DropStatus
Write = Create | Update | Delete


# --- notes: why the plan looks the way it does ------------------------------------------


@dataclass(frozen=True, slots=True)
class ConflictResolved:
    """Both sides changed ``uid`` differently; ``winner``'s version was kept."""

    uid: str
    winner: Side
    reason: str


@dataclass(frozen=True, slots=True)
class Withheld:
    """A change was not written to ``side`` because the run may not write it there."""

    uid: str
    side: Side
    reason: str


Note = ConflictResolved | Withheld


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions of one run, in order (status only, then local writes, then remote)."""

    actions: tuple[Action, ...] = ()
    notes: tuple[Note, ...] = ()

    @property
    def writes(self) -> tuple[Write, ...]:
        return tuple(a for a in self.actions if isinstance(a, Create | Update | Delete))

    @property
    def is_empty(self) -> bool:
        """Nothing to write and no status to change (notes may remain: they repeat)."""
        return not self.actions

    def count(self, kind: type[Write], side: Side) -> int:
        return sum(isinstance(a, kind) and a.side is side for a in self.writes)
