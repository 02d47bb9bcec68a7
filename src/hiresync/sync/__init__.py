"""The two-way sync engine: snapshots of both sides and the last-known status in, actions out.

``planner`` decides (pure), ``guards`` refuse plans that would suddenly empty a side
(pure), ``executor`` carries a plan out through two ``SyncSide`` adapters and a
``StatusStore``, saving the status after each action. Nothing here imports from
services, store, providers, api or web; only the standard library (and, if ever
needed, ``hiresync.domain``). Adapters translate their provider errors into this
package's ``PreconditionFailed`` and ``NotFound`` at the edge.
"""

from hiresync.sync.executor import Failure, Result, StatusStore, SyncSide, execute
from hiresync.sync.guards import Limits, SyncGuardTripped, check_plan
from hiresync.sync.model import (
    Action,
    ConflictPolicy,
    ConflictResolved,
    Create,
    Delete,
    Direction,
    DropStatus,
    Item,
    Note,
    NotFound,
    PairStatus,
    Plan,
    PreconditionFailed,
    RecordStatus,
    Side,
    Snapshot,
    Status,
    SyncError,
    Update,
    Version,
    Withheld,
)
from hiresync.sync.planner import plan

__all__ = [
    "Action",
    "ConflictPolicy",
    "ConflictResolved",
    "Create",
    "Delete",
    "Direction",
    "DropStatus",
    "Failure",
    "Item",
    "Limits",
    "NotFound",
    "Note",
    "PairStatus",
    "Plan",
    "PreconditionFailed",
    "RecordStatus",
    "Result",
    "Side",
    "Snapshot",
    "Status",
    "StatusStore",
    "SyncError",
    "SyncGuardTripped",
    "SyncSide",
    "Update",
    "Version",
    "Withheld",
    "check_plan",
    "execute",
    "plan",
]
