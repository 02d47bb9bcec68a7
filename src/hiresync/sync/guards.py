"""Guards that refuse a run which would suddenly empty a side. Pure.

A side that answers "I hold nothing" is far more often broken (a wrong calendar, a
lost permission scope, a server bug, a half-finished migration) than truly emptied,
and the planner would faithfully delete everything on the other side. So before a
plan is executed, ``check_plan`` compares it with what the status remembers:

- **emptied side**: a side that held at least ``Limits.min_items`` synced items at the
  last sync now lists none;
- **mass deletion**: the plan deletes at least ``Limits.min_items`` items of one side
  and more than ``Limits.max_delete_share`` of what that side holds now.

Either raises ``SyncGuardTripped`` with a sentence for the user. When the change is
intended, the caller runs again with ``force=True``. Small calendars (fewer than
``min_items``) are never held up: deleting the last two events is ordinary.
"""

from __future__ import annotations

from dataclasses import dataclass

from hiresync.sync.model import Delete, Plan, Side, Snapshot, Status


@dataclass(frozen=True, slots=True)
class Limits:
    min_items: int = 5
    max_delete_share: float = 0.5

    def __post_init__(self) -> None:
        if self.min_items < 1:
            raise ValueError("min_items must be at least 1")
        if not 0.0 <= self.max_delete_share <= 1.0:
            raise ValueError("max_delete_share must be between 0 and 1")


class SyncGuardTripped(Exception):
    """A run was refused because it would suddenly empty ``side`` (or most of it).

    ``had`` is how many items ``side`` held (synced items for an emptied side, current
    items for a mass deletion), ``would_delete`` how many the plan deletes there.
    """

    def __init__(self, message: str, *, side: Side, had: int, would_delete: int) -> None:
        super().__init__(message)
        self.message = message
        self.side = side
        self.had = had
        self.would_delete = would_delete


def check_plan(
    plan: Plan,
    local: Snapshot,
    remote: Snapshot,
    status: Status,
    limits: Limits = Limits(),
    *,
    force: bool = False,
    names: tuple[str, str] = ("hiresync", "the remote calendar"),
    noun: str = "events",
) -> None:
    """Raise ``SyncGuardTripped`` if ``plan`` would suddenly empty a side, unless ``force``.

    ``names`` are how the message calls the local and the remote side.
    """
    if force:
        return
    label = {Side.LOCAL: names[0], Side.REMOTE: names[1]}
    snapshots = {Side.LOCAL: local, Side.REMOTE: remote}
    for side in Side:
        _check_emptied(plan, side, len(snapshots[side]), len(status), limits, label, noun)
    for side in Side:
        _check_deletions(plan, side, len(snapshots[side]), limits, label, noun)


def _check_emptied(
    plan: Plan,
    side: Side,
    now: int,
    had: int,
    limits: Limits,
    label: dict[Side, str],
    noun: str,
) -> None:
    if now or had < limits.min_items:
        return
    other = side.other
    deletes = plan.count(Delete, other)
    message = (
        f"{label[side]} now lists 0 of the {had} {noun} it had at the last sync; "
        f"refusing to delete them in {label[other]} ({deletes} would go). "
        f"If that is intended, run the sync again with force."
    )
    raise SyncGuardTripped(message, side=other, had=had, would_delete=deletes)


def _check_deletions(
    plan: Plan,
    side: Side,
    now: int,
    limits: Limits,
    label: dict[Side, str],
    noun: str,
) -> None:
    deletes = plan.count(Delete, side)
    if deletes < limits.min_items or deletes <= limits.max_delete_share * now:
        return
    share = round(100 * deletes / now)
    message = (
        f"this sync would delete {deletes} of the {now} {noun} in {label[side]} "
        f"({share}%, more than the {round(100 * limits.max_delete_share)}% allowed) because "
        f"they are gone from {label[side.other]}; refusing. "
        f"If that is intended, run the sync again with force."
    )
    raise SyncGuardTripped(message, side=side, had=now, would_delete=deletes)
