"""The interview lifecycle: what a recruiter may do to an interview in each state, and
what they are told when they may not."""

from __future__ import annotations

import pytest

from hiresync.domain.interviews import (
    TRANSITIONS,
    Action,
    InterviewStatus,
    InvalidTransition,
    Meeting,
    MeetingType,
    is_live,
    next_status,
)

S, A = InterviewStatus, Action


@pytest.mark.parametrize(
    ("status", "action", "after"),
    [
        (S.DRAFT, A.CONFIRM, S.CONFIRMED),
        (S.DRAFT, A.EDIT, S.DRAFT),
        (S.DRAFT, A.CANCEL, S.CANCELLED),
        (S.CONFIRMED, A.RESCHEDULE, S.RESCHEDULED),
        (S.RESCHEDULED, A.RESCHEDULE, S.RESCHEDULED),
        (S.CONFIRMED, A.CANCEL, S.CANCELLED),
        (S.RESCHEDULED, A.CANCEL, S.CANCELLED),
    ],
)
def test_allowed_moves(status: InterviewStatus, action: Action, after: InterviewStatus) -> None:
    assert next_status(status, action) is after


def test_every_other_move_is_refused_with_a_way_out() -> None:
    for status in S:
        for action in A:
            if (status, action) in TRANSITIONS:
                continue
            with pytest.raises(InvalidTransition) as refused:
                next_status(status, action)
            message = str(refused.value)
            assert message.startswith(f"Cannot {action.value} this interview.")
            assert any(word in message for word in ("confirm", "reschedule", "new interview"))


def test_confirming_twice_and_cancelling_twice_are_refused() -> None:
    with pytest.raises(InvalidTransition, match="already confirmed"):
        next_status(S.CONFIRMED, A.CONFIRM)
    with pytest.raises(InvalidTransition, match="cancelled"):
        next_status(S.CANCELLED, A.CANCEL)


def test_only_sent_interviews_are_in_calendars() -> None:
    assert [s for s in S if is_live(s)] == [S.CONFIRMED, S.RESCHEDULED]


def test_joining_lines_list_what_the_meeting_has() -> None:
    link = Meeting(MeetingType.CUSTOM_LINK, url="https://meet.example/x", passcode="42")
    assert link.joining_lines() == ["Join: https://meet.example/x", "Passcode: 42"]
    assert Meeting(MeetingType.TEAMS).joining_lines() == []
