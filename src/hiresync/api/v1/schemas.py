"""Request and response bodies of the v1 API (pydantic), documented in /openapi.json."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["admin", "recruiter", "interviewer"]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Jane Doe"])
    email: str = Field(max_length=320, examples=["jane.doe@example.com"])
    role: Role = "interviewer"
    time_zone: str = Field(default="UTC", examples=["Europe/London"])


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: Role | None = None
    time_zone: str | None = None


class MatchOut(BaseModel):
    mailbox: str
    matched_on: Literal["mail", "upn", "alias"]


class UserOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    role: Role
    time_zone: str
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
