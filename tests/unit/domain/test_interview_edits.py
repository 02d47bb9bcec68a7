"""What editing an interview does in each state: a draft changes quietly, a sent one tells
its attendees (and not for internal notes), and some things cannot change once sent."""

from __future__ import annotations

import pytest

from hiresync.domain.interviews import (
    FixedOnceSent,
    InterviewStatus,
    InvalidTransition,
    plan_edit,
)

S = InterviewStatus
LIVE = (S.CONFIRMED, S.RESCHEDULED)


@pytest.mark.parametrize("status", list(S))
def test_an_edit_that_changes_nothing_does_nothing_unless_the_interview_is_cancelled(
    status: InterviewStatus,
) -> None:
    if status is S.CANCELLED:
        with pytest.raises(
            InvalidTransition, match=r"Cannot edit this interview\. It is cancelled"
        ):
            plan_edit(status, frozenset())
    else:
        assert plan_edit(status, frozenset()) is None


def test_a_cancelled_interview_refuses_every_edit_and_says_to_create_a_new_one() -> None:
    for changed in ({"title"}, {"start", "end"}, {"notes_for_interviewers"}, {"organizer"}):
        with pytest.raises(InvalidTransition, match="Create a new interview instead"):
            plan_edit(S.CANCELLED, frozenset(changed))


def test_a_draft_takes_anything_and_sends_nothing() -> None:
    everything = frozenset(
        {"title", "candidate", "organizer", "interviewers", "start", "end", "meeting"}
    )
    plan = plan_edit(S.DRAFT, everything)
    assert plan is not None
    assert (plan.after, plan.history, plan.webhook) == (S.DRAFT, "edited", "interview.updated")
    assert not plan.send and not plan.mail_candidate
    moved = plan_edit(S.DRAFT, frozenset({"start", "end"}))
    assert moved is not None and moved.after is S.DRAFT and moved.history == "edited"


@pytest.mark.parametrize("status", LIVE)
@pytest.mark.parametrize("fixed", [{"organizer"}, {"candidate"}, {"organizer", "title"}])
def test_a_sent_interview_keeps_its_organizer_and_candidate(
    status: InterviewStatus, fixed: set[str]
) -> None:
    with pytest.raises(FixedOnceSent) as refused:
        plan_edit(status, frozenset(fixed))
    message = str(refused.value)
    assert "cannot change its organizer" in message
    assert "Cancel this interview and create a new one instead." in message
    assert "title" not in message, "only what cannot change is named"


@pytest.mark.parametrize("status", LIVE)
def test_moving_a_sent_interview_is_a_reschedule(status: InterviewStatus) -> None:
    plan = plan_edit(status, frozenset({"start", "end"}))
    assert plan is not None
    assert (plan.after, plan.history, plan.webhook) == (
        S.RESCHEDULED,
        "rescheduled",
        "interview.rescheduled",
    )
    assert plan.send and plan.mail_candidate


def test_moving_and_renaming_is_an_edit_that_leaves_it_rescheduled() -> None:
    plan = plan_edit(S.CONFIRMED, frozenset({"start", "end", "title"}))
    assert plan is not None
    assert (plan.after, plan.history, plan.webhook) == (
        S.RESCHEDULED,
        "edited",
        "interview.updated",
    )


@pytest.mark.parametrize("status", LIVE)
def test_notes_for_interviewers_alone_reach_nobody(status: InterviewStatus) -> None:
    plan = plan_edit(status, frozenset({"notes_for_interviewers"}))
    assert plan is not None
    assert plan.after is status and plan.history == "edited"
    assert not plan.send and not plan.mail_candidate
    with_title = plan_edit(status, frozenset({"notes_for_interviewers", "title"}))
    assert with_title is not None and with_title.send


def test_the_candidate_hears_only_of_what_their_invitation_shows() -> None:
    swapped = plan_edit(S.CONFIRMED, frozenset({"interviewers"}))
    assert swapped is not None and swapped.send and not swapped.mail_candidate
    for field in ("title", "location", "meeting", "message_to_candidate", "candidate_invitations"):
        plan = plan_edit(S.CONFIRMED, frozenset({field}))
        assert plan is not None and plan.send and plan.mail_candidate, field
