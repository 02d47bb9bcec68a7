"""Guards: a side that suddenly lists nothing, or a plan that deletes most of a side, is
refused with a sentence that says what happened and how to go on; small calendars and
``force`` pass."""

from __future__ import annotations

import pytest

from hiresync.sync import Item, Limits, PairStatus, Side, SyncGuardTripped, check_plan, plan


def calendar(n: int) -> tuple[dict[str, Item], dict[str, Item], dict[str, PairStatus]]:
    """``n`` events, synced: the same on both sides and in the status."""
    local = {f"u{k}": Item(f"l{k}", f"u{k}", "1", "d") for k in range(n)}
    remote = {f"u{k}": Item(f"r{k}", f"u{k}", "1", "d") for k in range(n)}
    status = {u: PairStatus(u, local[u].version, remote[u].version) for u in local}
    return local, remote, status


def check(
    local: dict[str, Item], remote: dict[str, Item], status: dict[str, PairStatus], **kw: object
) -> None:
    check_plan(plan(local, remote, status), local, remote, status, **kw)  # type: ignore[arg-type]


def test_a_remote_calendar_that_suddenly_lists_nothing_is_not_mirrored_locally() -> None:
    local, _, status = calendar(40)
    with pytest.raises(SyncGuardTripped) as tripped:
        check(local, {}, status)
    assert str(tripped.value) == (
        "the remote calendar now lists 0 of the 40 events it had at the last sync; "
        "refusing to delete them in hiresync (40 would go). "
        "If that is intended, run the sync again with force."
    )
    assert (tripped.value.side, tripped.value.had, tripped.value.would_delete) == (
        Side.LOCAL,
        40,
        40,
    )


def test_an_emptied_hiresync_calendar_is_not_mirrored_on_the_remote() -> None:
    _, remote, status = calendar(12)
    with pytest.raises(SyncGuardTripped, match=r"^hiresync now lists 0 of the 12 events"):
        check({}, remote, status)


def test_an_empty_side_trips_even_if_every_event_was_changed_on_the_other() -> None:
    local, _, status = calendar(6)
    changed = {u: Item(i.ident, u, "2", "d2") for u, i in local.items()}
    with pytest.raises(SyncGuardTripped, match=r"\(0 would go\)"):
        check(changed, {}, status)  # the plan would re-create 6 events on an empty calendar


def test_a_small_calendar_may_lose_all_its_events() -> None:
    local, _, status = calendar(4)
    check(local, {}, status)


def test_deleting_most_of_a_side_trips() -> None:
    local, remote, status = calendar(20)
    survivors = {u: remote[u] for u in list(remote)[:8]}  # 12 of 20 deleted remotely
    with pytest.raises(SyncGuardTripped) as tripped:
        check(local, survivors, status)
    assert str(tripped.value) == (
        "this sync would delete 12 of the 20 events in hiresync (60%, more than the 50% "
        "allowed) because they are gone from the remote calendar; refusing. "
        "If that is intended, run the sync again with force."
    )


def test_deleting_up_to_the_allowed_share_passes() -> None:
    local, remote, status = calendar(20)
    check(local, {u: remote[u] for u in list(remote)[:10]}, status)


def test_force_lets_an_intended_emptying_through() -> None:
    local, _, status = calendar(40)
    check(local, {}, status, force=True)


def test_limits_names_and_nouns_can_be_set() -> None:
    local, remote, status = calendar(10)
    survivors = {u: remote[u] for u in list(remote)[:7]}
    strict = Limits(min_items=2, max_delete_share=0.2)
    with pytest.raises(SyncGuardTripped, match=r"3 of the 10 contacts in Acme Recruit .* Google"):
        check(
            local,
            survivors,
            status,
            limits=strict,
            names=("Acme Recruit", "Google"),
            noun="contacts",
        )
    check(local, survivors, status)  # the default limits let 3 of 10 go


@pytest.mark.parametrize("kw", [{"min_items": 0}, {"max_delete_share": 1.5}])
def test_limits_that_make_no_sense_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Limits(**kw)  # type: ignore[arg-type]
