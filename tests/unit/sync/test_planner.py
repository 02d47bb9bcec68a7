"""The planner's decision table, one test per row, then conflicts, closed sides and order."""

from __future__ import annotations

from datetime import UTC, datetime

from hiresync.sync import (
    ConflictPolicy,
    ConflictResolved,
    Create,
    Delete,
    Direction,
    DropStatus,
    Item,
    PairStatus,
    Plan,
    RecordStatus,
    Side,
    Update,
    Withheld,
    plan,
)

L, R = Side.LOCAL, Side.REMOTE


def ev(uid: str, content: str = "a", etag: str = "1", *, side: Side = L, **kw: object) -> Item:
    """An event ``uid`` on ``side`` whose content hashes to ``d:<content>``."""
    return Item(f"{side}/{uid}", uid, etag, f"d:{content}", content, **kw)  # type: ignore[arg-type]


def rev(uid: str, content: str = "a", etag: str = "1", **kw: object) -> Item:
    return ev(uid, content, etag, side=R, **kw)


def synced(local: Item, remote: Item) -> dict[str, PairStatus]:
    return {local.uid: PairStatus(local.uid, local.version, remote.version)}


def one(p: Plan) -> object:
    assert len(p.actions) == 1, p.actions
    return p.actions[0]


# --- rows 1, 2: new on one side ---------------------------------------------------------


def test_row1_an_event_created_in_hiresync_is_created_on_the_remote() -> None:
    new = ev("u")
    assert one(plan({"u": new}, {}, {})) == Create(R, new)


def test_row2_an_event_created_on_the_remote_is_created_in_hiresync() -> None:
    new = rev("u")
    assert one(plan({}, {"u": new}, {})) == Create(L, new)


# --- rows 3, 4: on both sides, no status ------------------------------------------------


def test_row3_first_sync_with_the_same_event_on_both_sides_only_records_it() -> None:
    mine, theirs = ev("u", "a", "l1"), rev("u", "a", "r7")
    p = plan({"u": mine}, {"u": theirs}, {})
    assert one(p) == RecordStatus(PairStatus("u", mine.version, theirs.version))
    assert not p.writes


def test_row3_a_create_whose_status_was_lost_is_not_doubled() -> None:
    mine, theirs = ev("u", "a"), rev("u", "a")
    assert plan({"u": mine}, {"u": theirs}, {}).writes == ()


def test_row4_first_sync_with_different_contents_goes_to_the_conflict_rule() -> None:
    mine, theirs = ev("u", "a"), rev("u", "b")
    p = plan({"u": mine}, {"u": theirs}, {})
    assert one(p) == Update(L, mine, theirs)
    assert p.notes == (ConflictResolved("u", R, "remote_wins policy"),)


# --- rows 5-9: on both sides, with status -----------------------------------------------


def test_row5_the_same_edit_on_both_sides_is_not_a_conflict() -> None:
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l, new_r = ev("u", "b", "2"), rev("u", "b", "2")
    p = plan({"u": new_l}, {"u": new_r}, synced(old_l, old_r))
    assert one(p) == RecordStatus(PairStatus("u", new_l.version, new_r.version))
    assert p.notes == ()


def test_row5_an_unstable_etag_only_refreshes_the_status() -> None:
    mine, old_r = ev("u"), rev("u", "a", "1")
    bumped = rev("u", "a", "2")  # same content, new etag: the server rewrote it
    p = plan({"u": mine}, {"u": bumped}, synced(mine, old_r))
    assert one(p) == RecordStatus(PairStatus("u", mine.version, bumped.version))


def test_row6_nothing_changed_plans_nothing() -> None:
    mine, theirs = ev("u"), rev("u")
    assert plan({"u": mine}, {"u": theirs}, synced(mine, theirs)).is_empty


def test_row7_a_change_in_hiresync_updates_the_remote() -> None:
    old, theirs = ev("u", "a", "1"), rev("u", "a", "9")
    new = ev("u", "b", "2")
    assert one(plan({"u": new}, {"u": theirs}, synced(old, theirs))) == Update(R, theirs, new)


def test_row7_the_update_carries_the_remotes_current_etag_even_if_it_moved() -> None:
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l, bumped_r = ev("u", "b", "2"), rev("u", "a", "5")
    p = plan({"u": new_l}, {"u": bumped_r}, synced(old_l, old_r))
    assert one(p) == Update(R, bumped_r, new_l)


def test_row8_a_change_on_the_remote_updates_hiresync() -> None:
    mine, old = ev("u", "a"), rev("u", "a", "1")
    new = rev("u", "b", "2")
    assert one(plan({"u": mine}, {"u": new}, synced(mine, old))) == Update(L, mine, new)


def test_row8_a_side_without_etags_is_compared_by_digest() -> None:
    mine, old = ev("u", "a"), rev("u", "a", None)  # type: ignore[arg-type]
    new = rev("u", "b", None)  # type: ignore[arg-type]
    assert one(plan({"u": mine}, {"u": new}, synced(mine, old))) == Update(L, mine, new)


def test_row9_changed_on_both_sides_the_remote_wins_by_default() -> None:
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l, new_r = ev("u", "b", "2"), rev("u", "c", "2")
    p = plan({"u": new_l}, {"u": new_r}, synced(old_l, old_r))
    assert one(p) == Update(L, new_l, new_r)
    assert p.notes == (ConflictResolved("u", R, "remote_wins policy"),)


def test_row9_with_local_wins_hiresyncs_version_is_kept() -> None:
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l, new_r = ev("u", "b", "2"), rev("u", "c", "2")
    p = plan({"u": new_l}, {"u": new_r}, synced(old_l, old_r), ConflictPolicy.LOCAL_WINS)
    assert one(p) == Update(R, new_r, new_l)


def test_row9_with_latest_the_later_modification_wins() -> None:
    early, late = datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 10, tzinfo=UTC)
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l, new_r = ev("u", "b", "2", modified=late), rev("u", "c", "2", modified=early)
    p = plan({"u": new_l}, {"u": new_r}, synced(old_l, old_r), ConflictPolicy.LATEST)
    assert one(p) == Update(R, new_r, new_l)
    assert p.notes == (ConflictResolved("u", L, "latest policy: local was modified later"),)


def test_row9_with_latest_and_no_modification_time_the_remote_wins() -> None:
    old_l, old_r = ev("u", "a", "1"), rev("u", "a", "1")
    new_l = ev("u", "b", "2", modified=datetime(2026, 3, 1, tzinfo=UTC))
    new_r = rev("u", "c", "2")
    p = plan({"u": new_l}, {"u": new_r}, synced(old_l, old_r), ConflictPolicy.LATEST)
    assert one(p) == Update(L, new_l, new_r)


# --- rows 10-14: gone from one side or both ---------------------------------------------


def test_row10_an_event_deleted_on_the_remote_is_deleted_in_hiresync() -> None:
    mine, theirs = ev("u"), rev("u")
    assert one(plan({"u": mine}, {}, synced(mine, theirs))) == Delete(L, mine)


def test_row11_a_change_in_hiresync_beats_a_deletion_on_the_remote() -> None:
    old, theirs = ev("u", "a", "1"), rev("u")
    new = ev("u", "b", "2")
    assert one(plan({"u": new}, {}, synced(old, theirs))) == Create(R, new)


def test_row12_an_event_deleted_in_hiresync_is_deleted_on_the_remote() -> None:
    mine, theirs = ev("u"), rev("u")
    assert one(plan({}, {"u": theirs}, synced(mine, theirs))) == Delete(R, theirs)


def test_row13_a_change_on_the_remote_beats_a_deletion_in_hiresync() -> None:
    mine, old = ev("u"), rev("u", "a", "1")
    new = rev("u", "b", "2")
    assert one(plan({}, {"u": new}, synced(mine, old))) == Create(L, new)


def test_row14_an_event_deleted_on_both_sides_is_forgotten() -> None:
    assert one(plan({}, {}, synced(ev("u"), rev("u")))) == DropStatus("u")


# --- closed sides: items that never sync out, one-way runs ------------------------------


def test_an_event_imported_into_the_platform_is_never_sent_out() -> None:
    imported = ev("u", outbound=False)
    p = plan({"u": imported}, {}, {})
    assert p.is_empty
    assert p.notes == (Withheld("u", R, "this item does not sync out"),)


def test_a_change_to_an_event_that_does_not_sync_out_is_put_back_as_the_remote_has_it() -> None:
    old, theirs = ev("u", "a", "1", outbound=False), rev("u")
    new = ev("u", "b", "2", outbound=False)
    p = plan({"u": new}, {"u": theirs}, synced(old, theirs))
    assert one(p) == Update(L, new, theirs)
    assert p.notes[0].side is R


def test_an_event_that_does_not_sync_out_loses_conflicts_even_with_local_wins() -> None:
    mine, theirs = ev("u", "a", outbound=False), rev("u", "b")
    p = plan({"u": mine}, {"u": theirs}, {}, ConflictPolicy.LOCAL_WINS)
    assert one(p) == Update(L, mine, theirs)


def test_a_pull_never_writes_the_remote() -> None:
    old_a, old_b = ev("a", "x", "1"), ev("b")
    local = {"a": ev("a", "y", "2"), "c": ev("c")}  # a edited, b deleted, c new
    remote = {"a": rev("a", "x"), "b": rev("b")}
    status = synced(old_a, remote["a"]) | synced(old_b, remote["b"])
    p = plan(local, remote, status, direction=Direction.PULL)
    assert {a.side for a in p.writes} == {L}
    assert set(p.writes) == {Update(L, local["a"], remote["a"]), Create(L, remote["b"])}
    assert {n.uid for n in p.notes} == {"a", "b", "c"}


def test_a_pull_applies_a_remote_deletion_even_over_a_local_change() -> None:
    old, theirs = ev("u", "a", "1"), rev("u")
    new = ev("u", "b", "2")
    p = plan({"u": new}, {}, synced(old, theirs), direction=Direction.PULL)
    assert one(p) == Delete(L, new)


def test_a_push_never_writes_hiresync() -> None:
    mine, old = ev("u"), rev("u", "a", "1")
    changed = rev("u", "b", "2")
    p = plan(
        {"u": mine, "n": ev("n")},
        {"u": changed, "m": rev("m")},
        synced(mine, old),
        direction=Direction.PUSH,
    )
    assert {a.side for a in p.writes} == {R}
    assert set(p.writes) == {Update(R, changed, mine), Create(R, ev("n"))}


# --- order ------------------------------------------------------------------------------


def test_status_comes_first_then_hiresyncs_writes_then_the_remotes() -> None:
    gone_both = synced(ev("z"), rev("z"))
    p = plan({"a": ev("a")}, {"b": rev("b")}, gone_both)
    assert p.actions == (DropStatus("z"), Create(L, rev("b")), Create(R, ev("a")))
