"""Interviews as values: their lifecycle, meeting details and attendee answers.

The lifecycle is a state machine kept as data (the table below), in the manner of
h11's ``_state.py``: every change of an interview is an *action* applied to its
*status*, and an action the table does not list for that status is refused with a
sentence that says why. Nothing here does I/O.

    draft ──confirm──▶ confirmed ──reschedule──▶ rescheduled ─┐
      │                   │                         ▲   │      │ reschedule
      │                   │                         └───┘◀─────┘
      └──cancel──▶ cancelled ◀──cancel── (confirmed | rescheduled)

    (edit keeps any status but cancelled; an edit that moves a sent interview is a
    reschedule)

A draft is hiresync's alone: nothing is written to any calendar until it is
confirmed. Each confirmed change raises the interview's ``sequence`` (iCalendar's
SEQUENCE), which is what calendars use to tell a newer invitation from an older one.

What an edit does depends on which fields it changes (``plan_edit``): a draft takes
anything quietly; a sent interview cannot change its organizer (a calendar event cannot)
nor its candidate, tells its attendees about anything they see, and keeps notes for
interviewers to itself.
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
    EDIT = "edit"  # what it says: title, people, meeting, messages (see ``plan_edit``)


_S, _A = InterviewStatus, Action
# (status, action) -> the status after it. Anything missing is refused.
TRANSITIONS: dict[tuple[InterviewStatus, Action], InterviewStatus] = {
    (_S.DRAFT, _A.EDIT): _S.DRAFT,
    (_S.DRAFT, _A.CONFIRM): _S.CONFIRMED,
    (_S.DRAFT, _A.CANCEL): _S.CANCELLED,
    (_S.CONFIRMED, _A.EDIT): _S.CONFIRMED,
    (_S.CONFIRMED, _A.RESCHEDULE): _S.RESCHEDULED,
    (_S.CONFIRMED, _A.CANCEL): _S.CANCELLED,
    (_S.RESCHEDULED, _A.EDIT): _S.RESCHEDULED,
    (_S.RESCHEDULED, _A.RESCHEDULE): _S.RESCHEDULED,
    (_S.RESCHEDULED, _A.CANCEL): _S.CANCELLED,
}

# Why an action is refused, per status: said to the recruiter as is.
_REFUSALS: dict[InterviewStatus, str] = {
    _S.DRAFT: "It is a draft: confirm it first, or edit or cancel it.",
    _S.CONFIRMED: "It is already confirmed: edit, reschedule or cancel it instead.",
    _S.RESCHEDULED: "It is confirmed (and was rescheduled): edit, reschedule or cancel it instead.",
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


# The fields of an edit, by who sees them once the interview is sent.
TIME_FIELDS = frozenset({"start", "end", "time_zone"})
# Fixed once sent: a calendar event cannot change its organizer, and another candidate is
# another interview (their answers, e-mails and history belong to the first one).
FIXED_ONCE_SENT = frozenset({"organizer", "candidate"})
# Never leave hiresync: changing them alone sends nothing to anyone.
INTERNAL_FIELDS = frozenset({"notes_for_interviewers"})
# What the candidate's own invitation shows (the interviewers are not in it).
CANDIDATE_FIELDS = TIME_FIELDS | {
    "title",
    "location",
    "meeting",
    "message_to_candidate",
    "candidate_invitations",
}


class FixedOnceSent(ValueError):
    """An edit of a sent interview that would change its organizer or candidate."""

    def __init__(self, fields: frozenset[str]) -> None:
        self.fields = fields
        which = " and ".join(sorted(fields))
        super().__init__(
            f"The {which} of a sent interview cannot change: a calendar event cannot change "
            "its organizer, and another candidate is another interview. Cancel this "
            "interview and create a new one instead."
        )


@dataclass(frozen=True, slots=True)
class EditPlan:
    """What an edit does: the status after it, the history entry and webhook it makes,
    whether the attendees hear of it (a new sequence, a calendar update), and whether the
    candidate's own e-mail does (when hiresync, not the calendar, invites them)."""

    after: InterviewStatus
    history: str
    webhook: str
    send: bool
    mail_candidate: bool


def plan_edit(status: InterviewStatus, changed: frozenset[str]) -> EditPlan | None:
    """The plan for an edit of ``changed`` fields; None when nothing changes.

    ================  ====================  =============================================
    status            changed               plan
    ================  ====================  =============================================
    cancelled         anything (or nothing) refused: InvalidTransition
    any               nothing               None: no history, no webhook
    draft             anything              "edited", nothing sent (no calendar has it)
    live              organizer, candidate  refused: FixedOnceSent
    live              times only            "rescheduled", sent: same as a reschedule
    live              notes only            "edited", nothing sent
    live              anything else         "edited", sent (status rescheduled if moved)
    ================  ====================  =============================================
    """
    live = is_live(status)
    moved = bool(changed & TIME_FIELDS)
    after = next_status(status, Action.RESCHEDULE if live and moved else Action.EDIT)
    if not changed:
        return None
    if live and changed & FIXED_ONCE_SENT:
        raise FixedOnceSent(changed & FIXED_ONCE_SENT)
    history = "rescheduled" if live and changed <= TIME_FIELDS else "edited"
    send = live and bool(changed - INTERNAL_FIELDS)
    return EditPlan(
        after=after,
        history=history,
        webhook=f"interview.{'rescheduled' if history == 'rescheduled' else 'updated'}",
        send=send,
        mail_candidate=send and bool(changed & CANDIDATE_FIELDS),
    )


class MeetingType(StrEnum):
    """Where the interview happens. Teams and Zoom links are made by hiresync (Teams with
    the calendar event, Zoom on the host's own account); the others are given by hand."""

    TEAMS = "teams"
    ZOOM = "zoom"
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


class LinkMaker(StrEnum):
    """Who makes a meeting's link: the one place that tells the services how to get it."""

    CALENDAR = "calendar"  # the calendar, with the event (Teams; Google Meet later)
    HOST_ACCOUNT = "host_account"  # a MeetingProvider, on the host's own account (Zoom)
    GIVEN = "given"  # the recruiter types it in


@dataclass(frozen=True, slots=True)
class MeetingKind:
    """How a meeting type's link is made, and by which provider (a calendar provider for
    ``CALENDAR``, a ``runtime.meeting_accounts`` key for ``HOST_ACCOUNT``)."""

    maker: LinkMaker
    provider: str | None
    label: str


MEETING_KINDS: dict[MeetingType, MeetingKind] = {
    MeetingType.TEAMS: MeetingKind(LinkMaker.CALENDAR, "microsoft", "Microsoft Teams"),
    MeetingType.ZOOM: MeetingKind(LinkMaker.HOST_ACCOUNT, "zoom", "Zoom"),
    MeetingType.PHONE: MeetingKind(LinkMaker.GIVEN, None, "Phone call"),
    MeetingType.IN_PERSON: MeetingKind(LinkMaker.GIVEN, None, "In person"),
    MeetingType.CUSTOM_LINK: MeetingKind(LinkMaker.GIVEN, None, "Custom link"),
}


def kind_of(meeting_type: MeetingType | str | None) -> MeetingKind:
    """The kind of a meeting type (stored as text on the interview); unknown is ``GIVEN``."""
    try:
        return MEETING_KINDS[MeetingType(meeting_type)]
    except ValueError:
        return MeetingKind(LinkMaker.GIVEN, None, str(meeting_type))


def made_with_event(meeting_type: MeetingType | str | None) -> bool:
    """The calendar makes the link when it writes the event (ask it; take the link back)."""
    return kind_of(meeting_type).maker is LinkMaker.CALENDAR


def made_on_host_account(meeting_type: MeetingType | str | None) -> bool:
    """A MeetingProvider makes the link on the host's account before the event is written."""
    return kind_of(meeting_type).maker is LinkMaker.HOST_ACCOUNT


# Meeting types whose link the provider makes (never typed in, kept across edits).
GENERATED_MEETINGS = frozenset(
    t for t, k in MEETING_KINDS.items() if k.maker is not LinkMaker.GIVEN
)


class AttendeeRole(StrEnum):
    INTERVIEWER = "interviewer"
    CANDIDATE = "candidate"


class AttendeeResponse(StrEnum):
    """An attendee's answer, as the calendar reports it."""

    NONE = "none"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
