"""The interview lifecycle: what a recruiter may do to an interview in each state, and
what they are told when they may not."""

from __future__ import annotations

import pytest

from hiresync.domain.interviews import (
    GENERATED_MEETINGS,
    MEETING_KINDS,
    TRANSITIONS,
    Action,
    InterviewStatus,
    InvalidTransition,
    LinkMaker,
    Meeting,
    MeetingType,
    is_live,
    kind_of,
    made_on_host_account,
    made_with_event,
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


def test_every_meeting_type_says_who_makes_its_link() -> None:
    """One table answers, for each meeting type, whether the calendar makes the link with
    the event, a provider makes it on the host's account, or the recruiter types it."""
    assert set(MEETING_KINDS) == set(MeetingType)
    assert made_with_event("teams") and not made_on_host_account("teams")
    assert made_on_host_account(MeetingType.ZOOM) and not made_with_event("zoom")
    assert kind_of("zoom").provider == "zoom" and kind_of("teams").provider == "microsoft"
    typed = {MeetingType.PHONE, MeetingType.IN_PERSON, MeetingType.CUSTOM_LINK}
    assert all(kind_of(t).maker is LinkMaker.GIVEN for t in typed)
    assert {MeetingType.TEAMS, MeetingType.ZOOM} == GENERATED_MEETINGS
    assert kind_of("fax").maker is LinkMaker.GIVEN, "an unknown stored type is never made"
    assert kind_of(None).maker is LinkMaker.GIVEN
