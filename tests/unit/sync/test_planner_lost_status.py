"""Row 4 after a lost status: a remote item this engine wrote, in a run that died before
saving its status, says which local version it was written from (``Item.written_from``)."""

from __future__ import annotations

from hiresync.sync import ConflictPolicy, ConflictResolved, Item, PairStatus, Side, Update, plan

L, R = Side.LOCAL, Side.REMOTE


def local(etag: str, content: str) -> Item:
    return Item("row-1", "u1", etag, f"d:{content}", content)


def remote(content: str, written_from: tuple[str, str] | None) -> Item:
    return Item("AAMk-1", "u1", 'W/"ck"', f"d:{content}", content, written_from=written_from)


def test_a_local_edit_made_after_the_lost_write_goes_out() -> None:
    """The regression: remote_wins used to undo the edit made in hiresync on both sides."""
    made = plan({"u1": local("2", "moved")}, {"u1": remote("first", ("1", "d:first-local"))}, {})
    assert [type(a) for a in made.actions] == [Update]
    (update,) = made.actions
    assert isinstance(update, Update) and update.side is R and update.source.payload == "moved"
    assert not made.notes, "no conflict: the status that was lost is known again"


def test_an_unchanged_local_item_takes_the_remotes_version() -> None:
    for policy in ConflictPolicy:
        made = plan(
            {"u1": local("1", "mine")}, {"u1": remote("outlook's", ("1", "d:mine"))}, {}, policy
        )
        (update,) = made.actions
        assert isinstance(update, Update) and update.side is L
        assert update.source.payload == "outlook's"


def test_without_the_version_written_the_conflict_rule_decides() -> None:
    made = plan({"u1": local("2", "moved")}, {"u1": remote("first", None)}, {})
    (update,) = made.actions
    assert isinstance(update, Update) and update.side is L, "remote_wins"
    assert isinstance(made.notes[0], ConflictResolved)


def test_an_edit_after_an_update_whose_status_was_lost_goes_out() -> None:
    """Row 9: the status knows version 1; a lost update wrote version 2 out; hiresync has
    version 3 now. Remote-wins used to put version 2 back into hiresync."""
    status = {"u1": PairStatus("u1", local("1", "a").version, remote("R1", None).version)}
    changed = Item("AAMk-1", "u1", 'W/"ck2"', "d:R2", "R2", written_from=("2", "d:b"))
    made = plan({"u1": local("3", "c")}, {"u1": changed}, status)
    (update,) = made.actions
    assert isinstance(update, Update) and update.side is R and update.source.payload == "c"


def test_a_remote_edit_of_what_the_status_knows_is_a_conflict_as_before() -> None:
    status = {"u1": PairStatus("u1", local("1", "a").version, remote("R1", None).version)}
    edited = Item("AAMk-1", "u1", 'W/"ck2"', "d:R2", "R2", written_from=("1", "d:a"))
    made = plan({"u1": local("3", "c")}, {"u1": edited}, status)
    (update,) = made.actions
    assert isinstance(update, Update) and update.side is L, "remote_wins"
    assert isinstance(made.notes[0], ConflictResolved)
