"""Two in-memory sides, random edits, deletes, unstable etags, failing and racing writes,
lost status and syncs in every direction: after any clean sync the sides hold the same
events, nothing is lost, nothing is doubled, and a second sync plans nothing. Then the
executor's crash and failure cases, one example each."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from hiresync.sync import (
    ConflictPolicy,
    Create,
    Delete,
    Direction,
    Item,
    NotFound,
    PairStatus,
    Plan,
    PreconditionFailed,
    Result,
    Side,
    SyncGuardTripped,
    check_plan,
    execute,
    plan,
)

T = TypeVar("T")
EPOCH = datetime(2026, 3, 2, tzinfo=UTC)


def digest(content: str) -> str:
    return f"d:{content}"


Touch = tuple[str | None, int]  # a user's last content (None: deleted) and its clock tick


@dataclass
class Stored:
    uid: str
    content: str
    etag: str
    outbound: bool
    modified: datetime


class MemorySide:
    """A calendar in memory that keys items by its own ids, as servers do: it would
    happily hold two items with one uid, so a doubling engine would be caught.

    ``faults`` is consumed one per write: ``before`` fails without writing, ``after``
    writes and then fails (the answer is lost), ``race`` lets a user edit the target
    first (so the write meets a stale etag). When it runs out, writes succeed again.
    """

    def __init__(self, name: str, clock: list[int]) -> None:
        self.name, self.clock = name, clock
        self.items: dict[str, Stored] = {}
        self.faults: list[str] = []
        self.counter = 0
        self.touched: dict[str, Touch] = {}  # uid -> what a user did last, and when

    # --- what users do ---------------------------------------------------------------

    def user_create(self, uid: str, content: str, outbound: bool = True) -> None:
        self.items[self._new_id()] = Stored(uid, content, self._etag(), outbound, self._now())
        self.touched[uid] = (content, self.clock[0])

    def user_edit(self, uid: str, content: str) -> None:
        ident = self.ident_of(uid)
        self.items[ident] = replace(
            self.items[ident], content=content, etag=self._etag(), modified=self._now()
        )
        self.touched[uid] = (content, self.clock[0])

    def user_delete(self, uid: str) -> None:
        del self.items[self.ident_of(uid)]
        self.touched[uid] = (None, self._now_tick())

    def bump_etag(self, uid: str) -> None:
        ident = self.ident_of(uid)
        self.items[ident] = replace(self.items[ident], etag=self._etag())

    # --- what the engine sees and does -------------------------------------------------

    def snapshot(self) -> dict[str, Item]:
        return {
            s.uid: Item(i, s.uid, s.etag, digest(s.content), s.content, s.outbound, s.modified)
            for i, s in self.items.items()
        }

    async def create(self, source: Item) -> tuple[str, str | None]:
        fault = self._fault()
        ident = self._new_id()
        self.items[ident] = Stored(source.uid, source.payload, self._etag(), True, self._now())
        self._after(fault)
        return ident, self.items[ident].etag

    async def update(self, ident: str, etag: str | None, source: Item) -> str | None:
        fault = self._fault()
        self._check(ident, etag, fault)
        stored = self.items[ident]
        self.items[ident] = replace(
            stored, content=source.payload, etag=self._etag(), modified=self._now()
        )
        self._after(fault)
        return self.items[ident].etag

    async def delete(self, ident: str, etag: str | None) -> None:
        fault = self._fault()
        self._check(ident, etag, fault)
        del self.items[ident]
        self._after(fault)

    # --- helpers ---------------------------------------------------------------------

    def uids(self) -> list[str]:
        return sorted({s.uid for s in self.items.values()})

    def ident_of(self, uid: str) -> str:
        return next(i for i, s in self.items.items() if s.uid == uid)

    def _check(self, ident: str, etag: str | None, fault: str) -> None:
        if fault == "race" and ident in self.items:
            self.user_edit(self.items[ident].uid, f"race{self.counter}")
        if ident not in self.items:
            raise NotFound(ident)
        if self.items[ident].etag != etag:
            raise PreconditionFailed(ident)

    def _fault(self) -> str:
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "before":
            raise RuntimeError(f"{self.name}: injected failure before the write")
        return fault

    def _after(self, fault: str) -> None:
        if fault == "after":
            raise RuntimeError(f"{self.name}: the write happened but its answer was lost")

    def _new_id(self) -> str:
        self.counter += 1
        return f"{self.name}-id{self.counter}"

    def _etag(self) -> str:
        self.counter += 1
        return f"{self.name}-etag{self.counter}"

    def _now(self) -> datetime:
        return EPOCH + timedelta(seconds=self._now_tick())

    def _now_tick(self) -> int:
        self.clock[0] += 1
        return self.clock[0]


class MemoryStatus:
    def __init__(self) -> None:
        self.pairs: dict[str, PairStatus] = {}

    async def set(self, pair: PairStatus) -> None:
        self.pairs[pair.uid] = pair

    async def drop(self, uid: str) -> None:
        self.pairs.pop(uid, None)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run the executor to the end at once: the in-memory sides never wait on anything,
    so the coroutine finishes on its first step (and no event loop is needed)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("an in-memory side suspended")


class World:
    """Two sides, a status store and the sync that joins them."""

    def __init__(self) -> None:
        clock = [0]
        self.local, self.remote = MemorySide("l", clock), MemorySide("r", clock)
        self.status = MemoryStatus()

    def side(self, side: Side) -> MemorySide:
        return self.local if side is Side.LOCAL else self.remote

    def plan(self, policy: ConflictPolicy, direction: Direction = Direction.BOTH) -> Plan:
        snaps = self.local.snapshot(), self.remote.snapshot()
        return plan(*snaps, dict(self.status.pairs), policy, direction)

    def guard(self, p: Plan, force: bool = False) -> None:
        check_plan(p, self.local.snapshot(), self.remote.snapshot(), self.status.pairs, force=force)

    def execute(self, p: Plan) -> Result:
        return run(execute(p, self.local, self.remote, self.status))


SIDES = st.sampled_from(Side)
CONTENTS = st.sampled_from("abcde")
POLICIES = st.sampled_from(ConflictPolicy)
FAULTS = st.lists(st.sampled_from(["ok", "before", "after", "race"]), max_size=6)


def expected(last: dict[Side, Touch], policy: ConflictPolicy) -> str | None:
    """The content users should find: a change beats a deletion; two different changes
    go by the policy (``LATEST``: the later edit, as each edit stamps ``modified``)."""
    changes = {side: touch for side, touch in last.items() if touch[0] is not None}
    if len(changes) == 2 and changes[Side.LOCAL][0] != changes[Side.REMOTE][0]:
        if policy is ConflictPolicy.LATEST:
            return max(changes.values(), key=lambda touch: touch[1])[0]
        return changes[Side.LOCAL if policy is ConflictPolicy.LOCAL_WINS else Side.REMOTE][0]
    return next((content for content, _ in changes.values()), None)


class Convergence(RuleBasedStateMachine):
    """Users act on both sides between syncs; the model remembers enough to judge them.

    Every edit writes fresh content, so "changed" in the model means changed for the
    planner too. Between two clean syncs, every event users touched must end up as
    ``expected`` says: the change if one side changed it (even if the other deleted
    it), the policy's pick if both changed it, gone if only deleted. Not judged: events
    touched before a sync that failed (an edit made after a lost answer meets its own
    echo as a conflict: see the executor's docstring), and everything after the status
    was lost (every difference is a conflict then).
    """

    def __init__(self) -> None:
        super().__init__()
        self.w = World()
        self.next_uid = 0
        self.kept: set[str] = set()  # created and never deleted by a user on either side
        self.private: set[str] = set()  # created in hiresync with outbound=False
        self.uncertain: set[str] = set()
        self.status_lost = False

    def _uid(self) -> str:
        self.next_uid += 1
        return f"u{self.next_uid}"

    def _fresh(self) -> str:
        self.next_uid += 1
        return f"c{self.next_uid}"

    def _pick(self, data: st.DataObject) -> tuple[MemorySide, str]:
        side = data.draw(st.sampled_from([s for s in Side if self.w.side(s).items]))
        return self.w.side(side), data.draw(st.sampled_from(self.w.side(side).uids()))

    @initialize(n=st.integers(0, 8))
    def synced_calendar(self, n: int) -> None:
        for _ in range(n):
            self.create(Side.REMOTE, True)
        assert self._sync(ConflictPolicy.REMOTE_WINS, Direction.BOTH).clean
        self._checkpoint(ConflictPolicy.REMOTE_WINS, Direction.BOTH)

    @rule(side=SIDES, outbound=st.booleans())
    def create(self, side: Side, outbound: bool) -> None:
        uid = self._uid()
        outbound = outbound or side is Side.REMOTE
        self.w.side(side).user_create(uid, self._fresh(), outbound)
        self.kept.add(uid)
        if not outbound:
            self.private.add(uid)

    @rule(mine=CONTENTS, theirs=CONTENTS)
    def create_on_both_sides(self, mine: str, theirs: str) -> None:
        """The same event entered on both sides independently (e.g. an imported .ics)."""
        uid = self._uid()
        self.w.local.user_create(uid, mine)
        self.w.remote.user_create(uid, theirs)
        self.kept.add(uid)

    @precondition(lambda self: self.w.local.items or self.w.remote.items)
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        side, uid = self._pick(data)
        side.user_edit(uid, self._fresh())

    def _shared(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self._on_both())))

    def _on_both(self) -> set[str]:
        return set(self.w.local.uids()) & set(self.w.remote.uids())

    @precondition(lambda self: self._on_both())
    @rule(data=st.data(), same=st.booleans())
    def edit_on_both_sides(self, data: st.DataObject, same: bool) -> None:
        """Both sides change one event, to the same content or differently (a conflict)."""
        uid, content = self._shared(data), self._fresh()
        self.w.local.user_edit(uid, content)
        self.w.remote.user_edit(uid, content if same else self._fresh())

    @precondition(lambda self: self._on_both())
    @rule(data=st.data(), side=SIDES)
    def change_here_delete_there(self, data: st.DataObject, side: Side) -> None:
        uid = self._shared(data)
        self.w.side(side).user_edit(uid, self._fresh())
        self.w.side(side.other).user_delete(uid)
        self.kept.discard(uid)

    @precondition(lambda self: self.w.local.items or self.w.remote.items)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        side, uid = self._pick(data)
        side.user_delete(uid)
        self.kept.discard(uid)

    @rule(side=SIDES)
    def unstable_etags(self, side: Side) -> None:
        """The server rewrites every item (a migration, a reindex): new etags, same content."""
        for uid in self.w.side(side).uids():
            self.w.side(side).bump_etag(uid)

    @rule()
    def lose_status(self) -> None:
        self.w.status.pairs.clear()
        self.status_lost = True

    @rule(policy=POLICIES)
    def sync(self, policy: ConflictPolicy) -> None:
        result = self._sync(policy, Direction.BOTH)
        assert result.clean, (result.deferred, result.failed)
        self._checkpoint(policy, Direction.BOTH)

    @rule(policy=POLICIES, direction=st.sampled_from([Direction.PULL, Direction.PUSH]))
    def sync_one_way(self, policy: ConflictPolicy, direction: Direction) -> None:
        closed = self.w.side(Side.REMOTE if direction is Direction.PULL else Side.LOCAL)
        before = closed.snapshot()
        assert self._sync(policy, direction).clean
        assert closed.snapshot() == before
        self._checkpoint(policy, direction)

    @rule(policy=POLICIES, local_faults=FAULTS, remote_faults=FAULTS)
    def sync_with_failures(
        self, policy: ConflictPolicy, local_faults: list[str], remote_faults: list[str]
    ) -> None:
        self.w.local.faults, self.w.remote.faults = list(local_faults), list(remote_faults)
        result = self._sync(policy, Direction.BOTH)
        self.w.local.faults, self.w.remote.faults = [], []  # the sides recover
        if result.clean:
            event("faulty sync: clean")
            self._checkpoint(policy, Direction.BOTH)
        else:
            event("faulty sync: failed or deferred")
            self.uncertain |= self.w.local.touched.keys() | self.w.remote.touched.keys()

    def _sync(self, policy: ConflictPolicy, direction: Direction) -> Result:
        p = self.w.plan(policy, direction)
        try:
            self.w.guard(p)
        except SyncGuardTripped as tripped:
            self._check_trip_was_right(tripped, p)
            event("guard tripped; forced")
        return self.w.execute(p)

    def _check_trip_was_right(self, tripped: SyncGuardTripped, p: Plan) -> None:
        snaps = {Side.LOCAL: self.w.local.snapshot(), Side.REMOTE: self.w.remote.snapshot()}
        emptied = not snaps[tripped.side.other] and len(self.w.status.pairs) >= 5
        mass = tripped.would_delete * 2 > len(snaps[tripped.side]) and tripped.would_delete >= 5
        assert emptied or mass, tripped.message

    def _checkpoint(self, policy: ConflictPolicy, direction: Direction) -> None:
        """After a clean sync: judge it, then start remembering afresh."""
        self._check_converged(policy, direction)
        if direction is Direction.BOTH and not self.status_lost:
            self._check_users_were_heard(policy)
        for side in (self.w.local, self.w.remote):
            side.touched.clear()
        self.uncertain.clear()
        self.status_lost = False

    def _check_converged(self, policy: ConflictPolicy, direction: Direction) -> None:
        local, remote = self.w.local.snapshot(), self.w.remote.snapshot()
        outbound = {u for u, i in local.items() if i.outbound}
        if direction is not Direction.PUSH:
            assert set(remote) <= set(local), "a remote event is missing in hiresync"
        if direction is not Direction.PULL:
            assert outbound <= set(remote), "an event of hiresync is missing on the remote"
        for uid in set(local) & set(remote):
            assert local[uid].digest == remote[uid].digest, f"{uid} differs"
        if direction is Direction.BOTH:
            assert self.kept <= set(local), "an event nobody deleted is gone from hiresync"
            assert self.kept - self.private <= set(remote), "... gone from the remote"
        assert self.w.plan(policy, direction).is_empty, "a second sync would do more"

    def _check_users_were_heard(self, policy: ConflictPolicy) -> None:
        local, remote = self.w.local.snapshot(), self.w.remote.snapshot()
        touched = self.w.local.touched.keys() | self.w.remote.touched.keys()
        for uid in sorted(touched - self.uncertain):
            last = {s: self.w.side(s).touched[uid] for s in Side if uid in self.w.side(s).touched}
            want = expected(last, policy)
            if want is None:
                assert uid not in local and uid not in remote, f"deleted {uid} came back"
                continue
            assert uid in local and local[uid].digest == digest(want), f"{uid}: lost {want}"
            if uid not in self.private:
                assert uid in remote and remote[uid].digest == digest(want), f"{uid} not out"

    @invariant()
    def nothing_doubled(self) -> None:
        for side in (self.w.local, self.w.remote):
            uids = [s.uid for s in side.items.values()]
            assert len(uids) == len(set(uids)), f"{side.name} holds a uid twice"

    @invariant()
    def nothing_lost(self) -> None:
        assert self.kept <= set(self.w.local.uids()) | set(self.w.remote.uids())

    @invariant()
    def private_events_never_leave(self) -> None:
        assert not self.private & set(self.w.remote.uids())


Convergence.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, derandomize=True, database=None
)
TestConvergence = Convergence.TestCase


# --- the guard, and the executor's failure cases, one example each ----------------------


def filled(n: int) -> World:
    w = World()
    for k in range(n):
        w.local.user_create(f"u{k}", "a")
    assert w.execute(w.plan(ConflictPolicy.REMOTE_WINS)).clean
    return w


def test_a_suddenly_empty_remote_calendar_trips_the_guard_and_nothing_is_deleted() -> None:
    w = filled(40)
    w.remote.items.clear()
    p = w.plan(ConflictPolicy.REMOTE_WINS)
    with pytest.raises(SyncGuardTripped, match="now lists 0 of the 40 events") as tripped:
        w.guard(p)
    assert tripped.value.side is Side.LOCAL and tripped.value.would_delete == 40
    assert len(w.local.items) == 40
    w.guard(p, force=True)  # the user says it is intended
    assert w.execute(p).clean and not w.local.items


def test_a_create_whose_answer_was_lost_is_recorded_not_doubled_next_time() -> None:
    w = World()
    w.local.user_create("u", "a")
    w.remote.faults = ["after"]
    first = w.execute(w.plan(ConflictPolicy.REMOTE_WINS))
    assert [f.action for f in first.failed] == [Create(Side.REMOTE, w.local.snapshot()["u"])]
    assert "u" not in w.status.pairs
    second = w.plan(ConflictPolicy.REMOTE_WINS)
    assert second.writes == () and w.execute(second).clean
    assert len(w.remote.items) == 1 and "u" in w.status.pairs


def test_a_failing_action_does_not_stop_the_others() -> None:
    w = World()
    for uid in ("a", "b", "c"):
        w.local.user_create(uid, "x")
    w.remote.faults = ["ok", "before"]
    result = w.execute(w.plan(ConflictPolicy.REMOTE_WINS))
    assert [f.uid for f in result.failed] == ["b"]
    assert w.remote.uids() == ["a", "c"] and set(w.status.pairs) == {"a", "c"}


def test_an_event_edited_during_the_sync_is_left_for_the_next_run() -> None:
    w = filled(1)
    w.local.user_edit("u0", "b")
    w.remote.faults = ["race"]  # someone edits it on the remote while we write
    result = w.execute(w.plan(ConflictPolicy.REMOTE_WINS))
    assert [type(f.error) for f in result.deferred] == [PreconditionFailed]
    assert w.status.pairs["u0"].local.digest == digest("a")  # the status is untouched
    assert w.execute(w.plan(ConflictPolicy.REMOTE_WINS)).clean  # a conflict now, resolved
    assert w.remote.snapshot()["u0"].digest == w.local.snapshot()["u0"].digest


def test_deleting_an_event_that_is_already_gone_counts_as_done() -> None:
    class Gone(MemorySide):
        async def delete(self, ident: str, etag: str | None) -> None:
            raise NotFound(ident)

    w = filled(1)
    target = w.local.snapshot()["u0"]
    gone = Gone("l", [0])
    result = run(execute(Plan((Delete(Side.LOCAL, target),)), gone, w.remote, w.status))
    assert result.clean and w.status.pairs == {}


def test_errors_named_in_stop_on_end_the_run_at_once() -> None:
    class Revoked(Exception):
        pass

    class Refusing(MemorySide):
        async def create(self, source: Item) -> tuple[str, str | None]:
            raise Revoked("reconnect needed")

    w = World()
    for uid in ("a", "b"):
        w.local.user_create(uid, "x")
    p = w.plan(ConflictPolicy.REMOTE_WINS)
    with pytest.raises(Revoked):
        run(execute(p, w.local, Refusing("r", [0]), w.status, stop_on=(Revoked,)))
    seen: list[tuple[int, int]] = []
    run(execute(p, w.local, w.remote, w.status, progress=lambda d, t: seen.append((d, t))))
    assert seen == [(1, 2), (2, 2)]
