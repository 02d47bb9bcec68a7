"""Interviews as values: their lifecycle, meeting details and attendee answers.

The lifecycle is a state machine kept as data (the table below), in the manner of
h11's ``_state.py``: every change of an interview is an *action* applied to its
*status*, and an action the table does not list for that status is refused with a
sentence that says why. Nothing here does I/O.

    draft ──confirm──▶ confirmed ──reschedule──▶ rescheduled ─┐
      │                   │                         ▲   │      │ reschedule
      │                   │                         └───┘◀─────┘
      └──cancel──▶ cancelled ◀──cancel── (confirmed | rescheduled)

A draft is hiresync's alone: nothing is written to any calendar until it is
confirmed. Each confirmed change raises the interview's ``sequence`` (iCalendar's
SEQUENCE), which is what calendars use to tell a newer invitation from an older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class InterviewStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


class Action(StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    EDIT = "edit"  # a draft's details; a confirmed interview is changed by rescheduling


_S, _A = InterviewStatus, Action
# (status, action) -> the status after it. Anything missing is refused.
TRANSITIONS: dict[tuple[InterviewStatus, Action], InterviewStatus] = {
    (_S.DRAFT, _A.EDIT): _S.DRAFT,
    (_S.DRAFT, _A.CONFIRM): _S.CONFIRMED,
    (_S.DRAFT, _A.CANCEL): _S.CANCELLED,
    (_S.CONFIRMED, _A.RESCHEDULE): _S.RESCHEDULED,
    (_S.CONFIRMED, _A.CANCEL): _S.CANCELLED,
    (_S.RESCHEDULED, _A.RESCHEDULE): _S.RESCHEDULED,
    (_S.RESCHEDULED, _A.CANCEL): _S.CANCELLED,
}

# Why an action is refused, per status: said to the recruiter as is.
_REFUSALS: dict[InterviewStatus, str] = {
    _S.DRAFT: "It is a draft: confirm it first, or edit or cancel it.",
    _S.CONFIRMED: "It is already confirmed: reschedule or cancel it instead.",
    _S.RESCHEDULED: "It is confirmed (and was rescheduled): reschedule or cancel it instead.",
    _S.CANCELLED: "It is cancelled: nothing more can change. Create a new interview instead.",
}


class InvalidTransition(ValueError):
    """An action the interview's current status does not allow."""

    def __init__(self, status: InterviewStatus, action: Action) -> None:
        self.status, self.action = status, action
        super().__init__(f"Cannot {action.value} this interview. {_REFUSALS[status]}")


def next_status(status: InterviewStatus, action: Action) -> InterviewStatus:
    """The status after ``action``; raises ``InvalidTransition`` if the table has no entry."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


LIVE_STATUSES = (_S.CONFIRMED, _S.RESCHEDULED)


def is_live(status: InterviewStatus) -> bool:
    """Whether the interview is (or should be) in people's calendars."""
    return status in LIVE_STATUSES


class MeetingType(StrEnum):
    """Where the interview happens. Zoom and Google Meet plug in here with their issues."""

    TEAMS = "teams"
    PHONE = "phone"
    IN_PERSON = "in_person"
    CUSTOM_LINK = "custom_link"


@dataclass(frozen=True, slots=True)
class Meeting:
    """How to join: a link with its id and passcode, a phone number, or an address."""

    type: MeetingType
    url: str | None = None
    meeting_id: str | None = None
    passcode: str | None = None
    phone: str | None = None
    address: str | None = None

    def joining_lines(self) -> list[str]:
        """What an invitation says about joining, one line each."""
        lines = []
        if self.url:
            lines.append(f"Join: {self.url}")
        if self.meeting_id:
            lines.append(f"Meeting ID: {self.meeting_id}")
        if self.passcode:
            lines.append(f"Passcode: {self.passcode}")
        if self.phone:
            lines.append(f"Phone: {self.phone}")
        if self.address:
            lines.append(f"Address: {self.address}")
        return lines


class AttendeeRole(StrEnum):
    INTERVIEWER = "interviewer"
    CANDIDATE = "candidate"


class AttendeeResponse(StrEnum):
    """An attendee's answer, as the calendar reports it."""

    NONE = "none"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
