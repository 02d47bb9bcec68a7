"""Request and response bodies of the interviews API (pydantic), in /openapi.json."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hiresync.api.v1.schemas import PersonIn

MeetingTypeName = Literal["teams", "zoom", "phone", "in_person", "custom_link"]


class CandidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Alex Candidate"])
    email: str = Field(max_length=320, examples=["alex@example.org"])
    time_zone: str = Field(default="UTC", examples=["Europe/Berlin"])


class CandidateOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    time_zone: str


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: MeetingTypeName = Field(
        description="teams: a Teams meeting made with the event; zoom: a Zoom meeting of "
        "its own, made on the host's connected Zoom account when the interview is confirmed; "
        "custom_link: your own link (url, and meeting_id / passcode if it has them); phone; "
        "in_person."
    )
    host: PersonIn | None = Field(
        default=None,
        description="zoom only: the team member whose Zoom account makes the meeting. "
        "Default: the organizer; required when a shared mailbox organizes.",
    )
    url: str | None = Field(default=None, max_length=2000)
    meeting_id: str | None = Field(default=None, max_length=100)
    passcode: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)


class InterviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300, examples=["Technical interview"])
    candidate: CandidateIn | None = Field(
        default=None, description="The candidate; created on first use, by address."
    )
    candidate_id: uuid.UUID | None = None
    interviewers: list[PersonIn] = Field(min_length=1, max_length=20)
    organizer: PersonIn | None = Field(
        default=None,
        description="The team member whose calendar holds the event and sends the "
        "invitations; not needed (and not used) when the organization organizes from a "
        "shared interviews mailbox.",
    )
    start: datetime = Field(examples=["2026-12-01T15:00:00Z"])
    end: datetime = Field(examples=["2026-12-01T16:00:00Z"])
    time_zone: str = Field(
        examples=["Europe/London"], description="The zone the event is written in."
    )
    meeting: MeetingIn
    location: str | None = Field(default=None, max_length=500)
    notes_for_interviewers: str | None = Field(
        default=None, max_length=10000, description="Never shown to the candidate."
    )
    message_to_candidate: str | None = Field(default=None, max_length=10000)
    confirm: bool = Field(default=False, description="Send it at once; otherwise it stays a draft.")


class InterviewPatch(BaseModel):
    """A JSON merge patch of an interview: fields left out stay as they are; null (or "")
    clears location, notes and message. ``meeting`` and ``candidate`` are replaced whole.
    Once sent, the organizer and candidate cannot change (409: cancel and create a new
    interview); any other change reaches the attendees as an update of the same event,
    except one of the notes for interviewers only."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    candidate: CandidateIn | None = Field(default=None, description="Drafts only.")
    candidate_id: uuid.UUID | None = Field(default=None, description="Drafts only.")
    interviewers: list[PersonIn] | None = Field(
        default=None, min_length=1, max_length=20, description="The whole new list."
    )
    organizer: PersonIn | None = Field(default=None, description="Drafts only.")
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    meeting: MeetingIn | None = None
    location: str | None = Field(default=None, max_length=500)
    notes_for_interviewers: str | None = Field(
        default=None, max_length=10000, description="Never shown to the candidate."
    )
    message_to_candidate: str | None = Field(default=None, max_length=10000)
    candidate_invitations: Literal["calendar", "email"] | None = Field(
        default=None,
        description="email: hiresync sends the candidate its own iCalendar invitation and "
        "the calendar event leaves them out (needs SMTP set up); for calendars that "
        "cannot invite them.",
    )


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime
    end: datetime
    time_zone: str | None = Field(default=None, description="Default: the interview's zone.")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str | None = Field(
        default=None, max_length=2000, description="Sent to the attendees with the cancellation."
    )


class AttendeeOut(BaseModel):
    role: Literal["interviewer", "candidate"]
    user_id: uuid.UUID | None
    name: str
    email: str
    response: Literal["none", "accepted", "tentative", "declined"]


class CalendarOut(BaseModel):
    mailbox: str
    state: Literal["pending", "writing", "synced", "failed"]
    event_id: str | None
    synced_sequence: int
    last_error: str | None


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    details: dict


class MeetingOut(BaseModel):
    type: MeetingTypeName
    url: str | None
    meeting_id: str | None
    passcode: str | None
    phone: str | None
    address: str | None
    problem: str | None = Field(description="Why the meeting could not be made as asked.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the Zoom host's plan will do to this interview (a Basic account's "
        "40 minutes, a Pro account's one meeting at a time); they do not block.",
    )


class CandidateEmailOut(BaseModel):
    kind: Literal["invitation", "update", "cancellation"]
    sequence: int
    recipient: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class InterviewOut(BaseModel):
    id: uuid.UUID
    title: str
    status: Literal["draft", "confirmed", "rescheduled", "cancelled"]
    sequence: int
    start: datetime
    end: datetime
    time_zone: str
    location: str | None
    meeting: MeetingOut
    candidate: CandidateOut
    organizer_mailbox: str
    attendees: list[AttendeeOut]
    notes_for_interviewers: str | None
    message_to_candidate: str | None
    candidate_invited_by: Literal["calendar", "email"]
    calendars: list[CalendarOut]
    candidate_emails: list[CandidateEmailOut]
    history: list[HistoryOut]


class ReplacementOut(BaseModel):
    user_id: uuid.UUID
    name: str
    email: str


class InterviewSettingsBody(BaseModel):
    """Who organizes the organization's interviews and where they go in people's own
    calendars. In a PATCH, fields left out are kept."""

    model_config = ConfigDict(extra="forbid")
    organizer: Literal["scheduler", "shared_mailbox"] | None = None
    shared_mailbox: str | None = Field(default=None, examples=["interviews@example.com"])
    candidate_invitations: Literal["calendar", "email"] | None = Field(
        default=None,
        description="calendar: the candidate is an attendee and the calendar invites them; "
        "email: hiresync sends its own iCalendar invitation (needs SMTP set up).",
    )
    calendar_placement: Literal["person", "primary", "dedicated"] | None = Field(
        default=None,
        description="Where interviews go in people's own synced calendars: primary (their "
        "first calendar), dedicated (a calendar hiresync creates in their account, named "
        "dedicated_calendar_name), or person (each person chooses when they start).",
    )
    dedicated_calendar_name: str | None = Field(
        default=None, max_length=100, examples=["Acme Recruit"]
    )
