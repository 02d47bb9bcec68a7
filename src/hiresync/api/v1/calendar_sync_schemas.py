"""Bodies of the calendar-sync API (pydantic), in /openapi.json: the same view the person
reads on Settings › My calendar (``services.calendar_settings.status_for``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AccountState = Literal["synchronized", "starting", "attention", "reconnect_needed"]


class ProblemOut(BaseModel):
    what: str = Field(description="What is wrong, in the words the person reads.")
    fix: str = Field(description="What to do about it.")
    action: Literal["sync_now", "sync_anyway", "reconnect", "restart"] | None = Field(
        default=None,
        description="sync_now / sync_anyway: POST …/calendar-sync/run (with force for "
        "sync_anyway); reconnect and restart: the person does it on Settings › My calendar.",
    )


class ProgressOut(BaseModel):
    done: int
    total: int | None = Field(description="Unknown until the server has listed the calendar.")
    percent: int | None


class CountsOut(BaseModel):
    events: int = Field(description="Live events in hiresync's copy of this calendar.")
    external: int = Field(description="The person's own meetings, read from the calendar.")
    from_hiresync: int = Field(description="Events hiresync wrote there (interviews).")
    imported: int
    quarantined: int = Field(description="Items the server sent unreadable, set aside.")


class QuarantinedOut(BaseModel):
    uid: str
    summary: str
    reason: str


class CalendarOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Literal["primary", "dedicated", "external"]
    state: Literal["initial", "ready", "failed", "disabled"]
    direction: Literal["both", "pull", "push"]
    progress: ProgressOut | None = Field(description="While the first sync runs.")
    last_synced_at: datetime | None
    counts: CountsOut
    quarantined: list[QuarantinedOut] = Field(description="Up to 50, with their reasons.")
    problem: ProblemOut | None


class AccountOut(BaseModel):
    id: uuid.UUID
    provider: str
    address: str
    status: Literal["active", "reconnect_needed"]
    state: AccountState
    headline: str = Field(examples=["Your calendar is synchronized with name@example.com."])
    connected_at: datetime
    external_meetings: int
    problem: ProblemOut | None
    calendars: list[CalendarOut]


class LeftoverOut(BaseModel):
    account_id: uuid.UUID
    address: str
    summary: str
    starts_at: datetime | None


class CalendarSyncOut(BaseModel):
    user_id: uuid.UUID
    connected: bool
    headline: str
    accounts: list[AccountOut]
    not_removed: list[LeftoverOut] = Field(
        description="Events hiresync wrote into calendars whose sync was stopped and that "
        "could not be removed there yet (up to 50)."
    )
    not_removed_count: int


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = Field(
        default=False,
        description="Run past the guard that refuses a run which would suddenly empty a "
        "side (a calendar in state failed); only when that change is intended.",
    )


class RunOut(BaseModel):
    queued: list[uuid.UUID] = Field(description="The calendars whose run is queued.")
