"""Request and response bodies of the v1 API (pydantic), documented in /openapi.json."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["admin", "recruiter", "interviewer"]


WorkingHoursIn = dict[str, list[list[str]]]
WORKING_HOURS_DOC = (
    'Per weekday, [start, end] ranges on a 24-hour clock, like {"monday": [["09:00", "12:00"], '
    '["13:00", "17:00"]]}; days left out are days off; a range ending before it starts runs '
    "past midnight. Used when the person's calendar does not report working hours."
)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Jane Doe"])
    email: str = Field(max_length=320, examples=["jane.doe@example.com"])
    role: Role = "interviewer"
    time_zone: str = Field(default="UTC", examples=["Europe/London"])
    working_hours: WorkingHoursIn | None = Field(default=None, description=WORKING_HOURS_DOC)
    max_interviews_per_day: int | None = Field(default=None, ge=1, le=50)
    max_interviews_per_week: int | None = Field(default=None, ge=1, le=50)


class UserPatch(BaseModel):
    """Fields left out are kept; ``null`` clears working hours and caps."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: Role | None = None
    time_zone: str | None = None
    working_hours: WorkingHoursIn | None = Field(default=None, description=WORKING_HOURS_DOC)
    max_interviews_per_day: int | None = Field(default=None, ge=1, le=50)
    max_interviews_per_week: int | None = Field(default=None, ge=1, le=50)


class MatchOut(BaseModel):
    mailbox: str
    matched_on: Literal["mail", "upn", "alias"]


class UserOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    role: Role
    time_zone: str
    working_hours: WorkingHoursIn | None = None
    max_interviews_per_day: int | None = None
    max_interviews_per_week: int | None = None
    match: MatchOut | None = None


class ConnectionOut(BaseModel):
    id: uuid.UUID
    provider: str
    status: Literal["active", "error", "disconnected"]
    tenant_id: str
    cloud: str
    consented_via: str | None
    connected_at: datetime
    disconnected_at: datetime | None
    last_error: str | None
    directory_refreshed_at: datetime | None
    directory_size: int


class ConsentLinkOut(BaseModel):
    url: str = Field(description="Send this to the company's Microsoft 365 admin; valid 7 days.")
    expires_in_days: int = 7


class DirectoryPersonOut(BaseModel):
    id: uuid.UUID
    display_name: str | None
    mail: str | None
    user_principal_name: str | None


class MatchReportOut(BaseModel):
    matched: list[UserOut]
    unmatched_team_members: list[UserOut]
    unmatched_directory_people: list[DirectoryPersonOut]
    unmatched_directory_total: int
    directory_size: int


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID | None = None
    email: str | None = Field(default=None, max_length=320)

    @model_validator(mode="after")
    def _one_of(self) -> PersonIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email for each person, not both or neither")
        return self


class FreeBusyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    people: list[PersonIn] = Field(
        min_length=1, max_length=1000, description="Hiring-team user ids or e-mail addresses."
    )
    start: datetime = Field(examples=["2026-11-23T00:00:00Z"])
    time_zone: str | None = Field(
        default=None,
        examples=["Europe/London"],
        description="IANA zone: reads start/end given without an offset, and expresses the "
        "answer's times in it. Default: times with offsets in, UTC out.",
    )
    end: datetime = Field(
        examples=["2026-11-30T00:00:00Z"], description="At most 62 days after start."
    )


class BusyOut(BaseModel):
    start: datetime
    end: datetime
    status: Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
    subject: str | None = None
    private: bool = False


class WorkingHoursOut(BaseModel):
    days: list[str]
    start: str
    end: str
    time_zone: str


class PersonErrorOut(BaseModel):
    code: Literal["not_matched", "mailbox_not_found", "not_connected", "provider_error"]
    message: str


class PersonFreeBusyOut(BaseModel):
    user_id: uuid.UUID | None
    email: str
    name: str | None
    mailbox: str | None
    time_zone: str | None
    working_hours: WorkingHoursOut | None
    busy: list[BusyOut]
    error: PersonErrorOut | None


class FreeBusyOut(BaseModel):
    start: datetime
    end: datetime
    time_zone: str
    people: list[PersonFreeBusyOut]


# -- availability (Cronofy-like request shape) ---------------------------------------------


class DurationIn(BaseModel):
    """A length of time, like Cronofy's ``{"minutes": 60}``; the parts add up."""

    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(default=0, ge=0, le=60 * 24 * 366)
    hours: int = Field(default=0, ge=0, le=24 * 366)
    days: int = Field(default=0, ge=0, le=366)

    def total(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


class BufferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    before: DurationIn | None = Field(default=None, description="Free time needed before.")
    after: DurationIn | None = Field(default=None, description="Free time needed after.")


class MemberIn(PersonIn):
    max_interviews_per_day: int | None = Field(
        default=None, ge=1, le=50, description="Overrides the person's own setting."
    )
    max_interviews_per_week: int | None = Field(default=None, ge=1, le=50)


class ParticipantGroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[MemberIn] = Field(min_length=1, max_length=1000)
    required: Literal["all"] | int = Field(
        default="all", description='"all", or how many members at least must be free.'
    )


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime = Field(examples=["2026-11-30T00:00:00Z"])
    end: datetime = Field(examples=["2026-12-05T00:00:00Z"])


class PolicyOverridesIn(BaseModel):
    """What blocks time, for this request only (default: the organization's policy)."""

    model_config = ConfigDict(extra="forbid")
    tentative_blocks: bool | None = None
    working_elsewhere_blocks: bool | None = None
    all_day_blocks: bool | None = None
    not_responded_blocks: bool | None = None
    unknown_blocks: bool | None = None


class TimingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    buffer: BufferIn | None = Field(default=None, description="Default: the organization's.")
    minimum_notice: DurationIn | None = Field(
        default=None, description="How soon the first slot may start. Default: the organization's."
    )
    booking_horizon: DurationIn | None = Field(
        default=None, description="How far ahead slots may end. Default: the organization's."
    )
    policy: PolicyOverridesIn | None = None
    time_zone: str | None = Field(
        default=None,
        examples=["America/New_York"],
        description="IANA zone: reads times given without an offset and writes the answer's "
        "times in it (the candidate's zone, say). Default: UTC.",
    )


class AvailabilityIn(TimingIn):
    participants: list[ParticipantGroupIn] = Field(
        min_length=1,
        max_length=20,
        description='Groups of people: all of a group free (required "all"), or at least k.',
    )
    required_duration: DurationIn = Field(examples=[{"minutes": 60}])
    query_periods: list[PeriodIn] = Field(min_length=1, max_length=50)
    start_interval: DurationIn = Field(
        default_factory=lambda: DurationIn(minutes=30),
        description="Slots start every 5, 10, 15, 20, 30 or 60 minutes.",
    )
    response_format: Literal["slots", "periods"] = "slots"
    max_results: int = Field(default=512, ge=1, le=5000)
    zoom_host: PersonIn | None = Field(
        default=None,
        description="The team member whose Zoom account will host the meeting (they must have "
        "connected Zoom): times when they already host as many live Zoom interviews as their "
        "plan allows at once are not offered; a Basic plan's time limit adds a warning.",
    )


class ExplainIn(TimingIn):
    participants: list[MemberIn] = Field(min_length=1, max_length=1000)
    start: datetime = Field(examples=["2026-12-01T15:00:00Z"])
    required_duration: DurationIn = Field(examples=[{"minutes": 60}])
    zoom_host: PersonIn | None = Field(
        default=None, description="Also say whether this host's Zoom account has a place then."
    )


class SlotMemberOut(BaseModel):
    user_id: uuid.UUID | None
    email: str
    group: int = Field(description="Index of the participant group this person is in.")


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    participants: list[SlotMemberOut] = Field(description="Who is free, group by group.")


class AvailabilityPersonOut(BaseModel):
    user_id: uuid.UUID | None
    email: str
    name: str | None
    time_zone: str
    working_hours_from: Literal["calendar", "settings", "organization"]
    error: PersonErrorOut | None = Field(
        description="Why this person's calendar could not be read; they count as never free."
    )


class ZoomHostOut(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str | None
    plan: str = Field(description="Basic, Pro, Business or Licensed.")
    concurrent_meetings: int | None = Field(description="Meetings at once; null: no limit known.")
    max_minutes: int | None = Field(description="Basic: meetings end after this many minutes.")


class AvailabilityOut(BaseModel):
    time_zone: str
    available_slots: list[SlotOut] | None = None
    available_periods: list[SlotOut] | None = None
    people: list[AvailabilityPersonOut]
    zoom_host: ZoomHostOut | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What will affect every slot (a Basic Zoom host's time limit, say).",
    )


class ReasonOut(BaseModel):
    reason: Literal[
        "busy",
        "booked_interview",
        "buffer",
        "outside_working_hours",
        "daily_cap",
        "weekly_cap",
        "before_min_notice",
        "after_horizon",
        "calendar_unreadable",
        "capacity",
    ]
    message: str
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None
    subject: str | None = Field(default=None, description="Never shown for private events.")


class ExplainPersonOut(AvailabilityPersonOut):
    available: bool
    reasons: list[ReasonOut]


class ExplainZoomHostOut(ZoomHostOut):
    available: bool = Field(description="Whether the host's Zoom account has a place then.")
    reasons: list[ReasonOut]
    warnings: list[str]


class ExplainOut(BaseModel):
    start: datetime
    end: datetime
    time_zone: str
    people: list[ExplainPersonOut]
    zoom_host: ExplainZoomHostOut | None = None


class AvailabilityPolicyBody(BaseModel):
    """The organization's availability policy. Busy and out-of-office always block time,
    free and declined never do; the rest is set here. In a PATCH, fields left out are kept."""

    model_config = ConfigDict(extra="forbid")
    tentative_blocks: bool | None = None
    working_elsewhere_blocks: bool | None = None
    all_day_blocks: bool | None = None
    not_responded_blocks: bool | None = Field(
        default=None, description="Events the person has not answered yet."
    )
    unknown_blocks: bool | None = None
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=240)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=240)
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=43200)
    booking_horizon_days: int | None = Field(default=None, ge=1, le=365)
    default_working_hours: WorkingHoursIn | None = Field(
        default=None, description="For people with none in their calendar or settings."
    )


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["Technical interview"])
    required_duration: DurationIn = Field(examples=[{"minutes": 60}])
    participants: list[ParticipantGroupIn] = Field(min_length=1, max_length=10)


class GapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: DurationIn | None = Field(default=None, description="Default: none.")
    max: DurationIn | None = Field(
        default=None, description="Default: 30 minutes; null with any_gap for no limit."
    )
    any_gap: bool = Field(default=False, description="No maximum gap within the day.")


class LoopsIn(TimingIn):
    sessions: list[SessionIn] = Field(min_length=1, max_length=8)
    query_periods: list[PeriodIn] = Field(min_length=1, max_length=50)
    candidate_time_zone: str = Field(
        examples=["Europe/Berlin"], description="Every loop fits in one of the candidate's days."
    )
    start_interval: DurationIn = Field(default_factory=lambda: DurationIn(minutes=15))
    any_order: bool = Field(default=False, description="Sessions may run in any order.")
    gap: GapIn = Field(default_factory=GapIn, description="Time between consecutive sessions.")
    max_results: int = Field(default=10, ge=1, le=50)


class PersonRefOut(BaseModel):
    user_id: uuid.UUID | None
    email: str


class LoopSessionOut(BaseModel):
    name: str
    start: datetime
    end: datetime
    interviewers: list[PersonRefOut]


class LoopOut(BaseModel):
    day: str = Field(description="The candidate's local date, YYYY-MM-DD.")
    sessions: list[LoopSessionOut]
    load: int = Field(description="Interviewer load score; lower spreads interviews better.")


class LoopsOut(BaseModel):
    time_zone: str
    loops: list[LoopOut]
    complete: bool = Field(description="False when the search stopped at its step budget.")
    people: list[AvailabilityPersonOut]
