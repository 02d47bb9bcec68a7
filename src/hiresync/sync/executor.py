"""The executor: carries a plan out through two side adapters, saving status as it goes.

The only I/O is through the two Protocols below. The status of a pair is saved right
after its action succeeds, so a run that crashes or fails halfway loses nothing and
doubles nothing on the next run:

- an action that never happened is planned again;
- a write that happened but whose status was not saved (the process died, the status
  store failed, the answer was lost) is found again by uid: a create or an update
  shows up on both sides with the same content, which the planner records without
  writing (rows 3 and 5);
- a delete that happened shows up as gone from both sides (row 14).

One window is left to the conflict rule: a write whose answer was lost, then an edit
of its source before the next run. That run sees the target changed (by our own write)
and the source changed (by the user), and the conflict rule decides, so with
``remote_wins`` a hiresync edit made in that window can be overwritten. Saving an
intent before each write would close it, at the cost of a second status write.

An etag mismatch (``PreconditionFailed``) means someone changed the item after the
snapshot: the pair is left as it is and the next run decides again (``deferred``).
Any other error is recorded in ``failed`` and does not stop the other actions, except
errors of the types in ``stop_on`` (a revoked token, say), which end the run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from hiresync.sync.model import (
    Action,
    Create,
    Delete,
    DropStatus,
    Item,
    Note,
    NotFound,
    PairStatus,
    Plan,
    PreconditionFailed,
    RecordStatus,
    Side,
    Update,
    Version,
)


class SyncSide(Protocol):
    """One side's writes, as an adapter (CalDAV, Graph, hiresync's store) offers them.

    ``source`` is the item being copied from the other side: write ``source.payload``
    under ``source.uid`` (deterministic href, extended property) so a write whose status
    is lost can be found again. Etags may be ``None`` when the side does not return one.
    Raise ``PreconditionFailed`` on an etag mismatch and ``NotFound`` for a missing item.
    """

    async def create(
        self, source: Item
    ) -> tuple[str, str | None] | tuple[str, str | None, str | None]:
        """Create the item; return its new ``(ident, etag)``, and the digest of what the
        side now holds when its representation differs from the source's (a server that
        rewrites what it is given): the next read then sees no change."""
        ...

    async def update(
        self, ident: str, etag: str | None, source: Item
    ) -> str | tuple[str | None, str | None] | None:
        """Overwrite ``ident`` if its etag is still ``etag``; return the new etag (and, as
        for ``create``, the digest of what the side now holds)."""
        ...

    async def delete(self, ident: str, etag: str | None) -> None:
        """Delete ``ident`` if its etag is still ``etag``."""
        ...


class StatusStore(Protocol):
    """Where pair statuses live between runs (a table, in production)."""

    async def set(self, pair: PairStatus) -> None: ...

    async def drop(self, uid: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Failure:
    uid: str
    action: Action
    error: Exception


@dataclass(frozen=True, slots=True)
class Result:
    """What a run did. ``deferred`` pairs changed underneath us and wait for the next run."""

    applied: tuple[Action, ...]
    deferred: tuple[Failure, ...]
    failed: tuple[Failure, ...]
    notes: tuple[Note, ...] = ()

    @property
    def clean(self) -> bool:
        """Everything planned was done: the two sides are in step."""
        return not self.deferred and not self.failed


async def execute(
    plan: Plan,
    local: SyncSide,
    remote: SyncSide,
    status_store: StatusStore,
    *,
    stop_on: tuple[type[Exception], ...] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Apply ``plan``'s actions in order, one at a time, saving each pair's status as soon
    as its action succeeds. ``progress(done, total)`` is called after every action."""
    sides: Mapping[Side, SyncSide] = {Side.LOCAL: local, Side.REMOTE: remote}
    applied: list[Action] = []
    deferred: list[Failure] = []
    failed: list[Failure] = []
    for done, action in enumerate(plan.actions, start=1):
        try:
            await _apply(action, sides, status_store)
        except stop_on:
            raise
        except (PreconditionFailed, NotFound) as error:
            deferred.append(Failure(action.uid, action, error))
        except Exception as error:
            failed.append(Failure(action.uid, action, error))
        else:
            applied.append(action)
        if progress is not None:
            progress(done, len(plan.actions))
    return Result(tuple(applied), tuple(deferred), tuple(failed), plan.notes)


async def _apply(action: Action, sides: Mapping[Side, SyncSide], store: StatusStore) -> None:
    match action:
        case RecordStatus(pair=pair):
            await store.set(pair)
        case DropStatus(uid=uid):
            await store.drop(uid)
        case Create(side=side, source=source):
            ident, etag, *digest = await sides[side].create(source)
            await store.set(_written(side, source, ident, etag, *digest))
        case Update(side=side, target=target, source=source):
            answer = await sides[side].update(target.ident, target.etag, source)
            etag, *digest = answer if isinstance(answer, tuple) else (answer,)
            await store.set(_written(side, source, target.ident, etag, *digest))
        case Delete(side=side, target=target):
            with suppress(NotFound):  # already gone: that is what we wanted
                await sides[side].delete(target.ident, target.etag)
            await store.drop(target.uid)


def _written(
    side: Side, source: Item, ident: str, etag: str | None, digest: str | None = None
) -> PairStatus:
    """The pair after ``source`` was written to ``side``: both now hold its content, in
    the side's own representation when it says what that is (``digest``)."""
    mine = Version(ident, etag, digest or source.digest)
    return PairStatus.of(source.uid, side, mine, source.version)
