"""The sync planner: snapshots of both sides and the last-known status in, a plan out. Pure.

Every uid seen on either side or in the status is decided on its own, by the table
below. ``=`` is unchanged since the status: same etag, or a new etag with the same
digest (an *unstable etag*: the status is refreshed, nothing is written). ``changed``
is a new etag *and* a new digest. ``new`` is present without status, ``gone`` absent
with status, ``—`` absent. "Same/different content" compares the two sides' digests.

====  =======  =======  ======  ===========================================  ==========================
row   local    remote   status  what happened                                plan
====  =======  =======  ======  ===========================================  ==========================
1     new      —        —       created in hiresync                          create on the remote
2     —        new      —       created on the remote                        create in hiresync
3     new      new      —       first sync, or status lost; same content     record status (no double)
4     new      new      —       first sync, or status lost; different        conflict rule (*)
5     any      any      yes     same content on both                         record status if moved
6     =        =        yes     nothing changed                              nothing
7     changed  =        yes     changed in hiresync                          update the remote
8     =        changed  yes     changed on the remote                        update hiresync
9     changed  changed  yes     changed on both, differently                 conflict rule (*)
10    =        gone     yes     deleted on the remote                        delete in hiresync
11    changed  gone     yes     deleted remotely, changed in hiresync        re-create on the remote
12    gone     =        yes     deleted in hiresync                          delete on the remote
13    gone     changed  yes     deleted in hiresync, changed remotely        re-create in hiresync
14    gone     gone     yes     deleted on both                              drop the status
====  =======  =======  ======  ===========================================  ==========================

(*) Rows 4 and 9 after a lost status (the run that wrote the remote died before saving
it): when the remote item says which local version it was last written from
(``Item.written_from``, set by a side that can tell, e.g. Graph's extended property) and
the status does not know that version, it stands in for the status: a local item changed
since is written out again (its edit came after the write), an unchanged one takes the
remote's content (the remote's rendering of the write, or a change made there since).
Otherwise the conflict rule decides.

Rows 11 and 13: a change beats a deletion, because re-creating loses nothing and a
deletion can be repeated; the other way round would destroy someone's edit.

**Conflict rule** (rows 4 and 9). ``ConflictPolicy.REMOTE_WINS`` (the default: a
person's calendar is theirs), ``LOCAL_WINS``, or ``LATEST``: the side whose
``modified`` is later wins; when either side gives none or they are equal, the remote
wins. The loser is overwritten with the winner's content and a ``ConflictResolved``
note says who won and why. Equal digests are never a conflict (row 5).

**Closed sides.** A side is *closed* for a uid when this run may not write it there:
the remote when the run is ``Direction.PULL`` or the local item has ``outbound=False``
(imported into the platform, not owned by the user), hiresync when the run is
``Direction.PUSH``. A closed side is never overruled: it wins conflicts, and a change
the table would write into it is undone on the open side instead (the open side is
put back as the closed side has it), with a ``Withheld`` note. An item that was never
synced (rows 1, 2) is not undone: it stays on its side alone, with a ``Withheld``
note. So a one-way run still converges, and nothing is ever sent out that must not be.
A local deletion cannot carry ``outbound``: a local side must not delete items it
holds read-only, or the run must be a pull.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    PairStatus,
    Plan,
    RecordStatus,
    Side,
    Snapshot,
    Status,
    Update,
    Withheld,
)


def plan(
    local: Snapshot,
    remote: Snapshot,
    status: Status,
    policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS,
    direction: Direction = Direction.BOTH,
) -> Plan:
    """Decide every uid by the table above; actions come status first, then hiresync's
    writes, then the remote's (pull before push), each group in uid order."""
    out = _Builder()
    for uid in sorted(set(local) | set(remote) | set(status)):
        case = _Case(uid, local.get(uid), remote.get(uid), status.get(uid), direction)
        _decide(case, policy, out)
    return out.build()


@dataclass(frozen=True, slots=True)
class _Case:
    """Everything known about one uid."""

    uid: str
    local: Item | None
    remote: Item | None
    status: PairStatus | None
    direction: Direction

    def item(self, side: Side) -> Item | None:
        return self.local if side is Side.LOCAL else self.remote

    def open(self, side: Side) -> bool:
        """May this run write ``side`` for this uid?"""
        if side is Side.LOCAL:
            return self.direction is not Direction.PUSH
        return self.direction is not Direction.PULL and (self.local is None or self.local.outbound)

    def why_closed(self, side: Side) -> str:
        if side is Side.LOCAL:
            return "the run is one-way (push): hiresync's copy is read-only"
        if self.direction is Direction.PULL:
            return "the run is one-way (pull): the remote is read-only"
        return "this item does not sync out"

    def changed(self, side: Side) -> bool:
        """New etag (or none to compare) *and* new digest since the last sync."""
        item = self.item(side)
        assert item is not None and self.status is not None
        seen = self.status.half(side)
        etag_moved = item.etag is None or seen.etag is None or item.etag != seen.etag
        return etag_moved and item.digest != seen.digest


@dataclass(slots=True)
class _Builder:
    status: list[Action] = field(default_factory=list)
    writes: dict[Side, list[Action]] = field(default_factory=lambda: {s: [] for s in Side})
    notes: list[Note] = field(default_factory=list)

    def act(self, action: Action) -> None:
        if isinstance(action, Create | Update | Delete):
            self.writes[action.side].append(action)
        else:
            self.status.append(action)

    def build(self) -> Plan:
        actions = self.status + self.writes[Side.LOCAL] + self.writes[Side.REMOTE]
        return Plan(tuple(actions), tuple(self.notes))


def _decide(c: _Case, policy: ConflictPolicy, out: _Builder) -> None:
    has_local, has_remote, known = c.local is not None, c.remote is not None, c.status is not None
    if has_local and has_remote:
        _both_present(c, policy, out)  # rows 3-9
    elif has_local or has_remote:
        here = Side.LOCAL if has_local else Side.REMOTE
        if known:
            _gone_from(c, here.other, out)  # rows 10-13
        else:
            # rows 1, 2: new on one side -> copy it to the other
            _converge(c, src=here, dst=here.other, out=out)
    else:
        # row 14: deleted on both sides -> nothing to write, forget the pair
        out.act(DropStatus(c.uid))


def _both_present(c: _Case, policy: ConflictPolicy, out: _Builder) -> None:
    assert c.local is not None and c.remote is not None
    if c.local.digest == c.remote.digest:
        # rows 3, 5: same content on both (first sync after a lost status, a create whose
        # status was never saved, both made the same edit, or only etags moved) -> no
        # write, no double; just remember the versions if they moved
        _record(c, out)
        return
    written = c.remote.written_from
    if c.status is None:
        if written is not None:
            # row 4 after a lost status, the version written known: it stands in for the
            # status -> a local item changed since goes out again, else the remote comes in
            _since_written(c, written, out)
            return
        # row 4: first sync or status lost, and the contents differ -> conflict rule
        _resolve_conflict(c, policy, out)
        return
    local_changed, remote_changed = c.changed(Side.LOCAL), c.changed(Side.REMOTE)
    if local_changed and remote_changed and written and written[1] != c.status.local.digest:
        # row 9 after the status of an update was lost: the remote holds a local version
        # the status does not know -> it stands in for the status, as in row 4
        _since_written(c, written, out)
    elif local_changed and remote_changed:
        # row 9: changed on both, differently -> conflict rule
        _resolve_conflict(c, policy, out)
    elif local_changed:
        # row 7: changed in hiresync only -> update the remote
        _converge(c, src=Side.LOCAL, dst=Side.REMOTE, out=out)
    elif remote_changed:
        # row 8: changed on the remote only -> update hiresync
        _converge(c, src=Side.REMOTE, dst=Side.LOCAL, out=out)
    else:
        # row 6: nothing really changed -> refresh the versions if an etag moved
        _record(c, out)


def _since_written(c: _Case, written: tuple[str, str], out: _Builder) -> None:
    """The local item changed (new etag and digest) since the version the remote was last
    written from goes out; else the remote's version comes in."""
    assert c.local is not None
    etag, digest = written
    changed = (c.local.etag is None or c.local.etag != etag) and c.local.digest != digest
    src = Side.LOCAL if changed else Side.REMOTE
    _converge(c, src=src, dst=src.other, out=out)


def _gone_from(c: _Case, gone: Side, out: _Builder) -> None:
    kept = gone.other
    if c.changed(kept):
        # rows 11, 13: deleted on one side, changed on the other -> the change wins and
        # is re-created where it was deleted (nothing lost)
        _converge(c, src=kept, dst=gone, out=out)
    else:
        # rows 10, 12: deleted on one side, untouched on the other -> delete it there too
        _converge(c, src=gone, dst=kept, out=out)


def _resolve_conflict(c: _Case, policy: ConflictPolicy, out: _Builder) -> None:
    winner, reason = _winner(c, policy)
    out.notes.append(ConflictResolved(c.uid, winner, reason))
    _converge(c, src=winner, dst=winner.other, out=out)


def _winner(c: _Case, policy: ConflictPolicy) -> tuple[Side, str]:
    """The documented conflict rule; a closed side always wins (it cannot be written)."""
    for side in Side:
        if not c.open(side) and c.open(side.other):
            return side, f"{side} cannot be written: {c.why_closed(side)}"
    if policy is ConflictPolicy.LOCAL_WINS:
        return Side.LOCAL, "local_wins policy"
    if policy is ConflictPolicy.LATEST:
        assert c.local is not None and c.remote is not None
        mine, theirs = c.local.modified, c.remote.modified
        if mine is not None and theirs is not None and mine != theirs:
            side = Side.LOCAL if mine > theirs else Side.REMOTE
            return side, f"latest policy: {side} was modified later"
        return Side.REMOTE, "latest policy without two different modification times: remote wins"
    return Side.REMOTE, "remote_wins policy"


def _converge(c: _Case, *, src: Side, dst: Side, out: _Builder) -> None:
    """Make ``dst`` like ``src``; if ``dst`` is closed, put ``src`` back as ``dst`` has it."""
    if c.open(dst):
        _make_like(c, target=dst, model=src, out=out)
        return
    why = c.why_closed(dst)
    if c.status is not None and c.open(src):
        out.notes.append(Withheld(c.uid, dst, f"{why}; {src} was put back as {dst} has it"))
        _make_like(c, target=src, model=dst, out=out)
    else:
        out.notes.append(Withheld(c.uid, dst, why))


def _make_like(c: _Case, *, target: Side, model: Side, out: _Builder) -> None:
    source, current = c.item(model), c.item(target)
    if source is None:
        assert current is not None
        out.act(Delete(target, current))
    elif current is None:
        out.act(Create(target, source))
    else:
        out.act(Update(target, current, source))


def _record(c: _Case, out: _Builder) -> None:
    assert c.local is not None and c.remote is not None
    pair = PairStatus(c.uid, c.local.version, c.remote.version)
    if pair != c.status:
        out.act(RecordStatus(pair))
