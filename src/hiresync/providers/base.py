"""Protocols every provider implements, and the values they exchange with services.

Services depend on these, not on a provider package, so the connect, directory and
free/busy flows are the same for Microsoft today and Google or Exchange later.
Contract tests run one suite per Protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from hiresync.domain.freebusy import DirectoryUser, Schedule


@runtime_checkable
class DirectorySource(Protocol):
    """Reads every person in a company directory."""

    async def list_users(self) -> list[DirectoryUser]:
        """All users, every page followed."""
        ...


@runtime_checkable
class FreeBusySource(Protocol):
    """Answers free/busy for many mailboxes at once."""

    async def get_schedules(
        self, emails: Sequence[str], start: datetime, end: datetime
    ) -> list[Schedule]:
        """One ``Schedule`` per e-mail, in the order given; a bad mailbox gets an error entry,
        never an exception for the whole call. ``start``/``end`` are aware datetimes."""
        ...


@dataclass(frozen=True)
class EventAttendee:
    email: str
    name: str
    required: bool = True


@dataclass(frozen=True)
class EventDraft:
    """An interview as one calendar event, in provider-neutral terms.

    ``key`` is our id for it, stored on the event (Graph: a single-value extended
    property) so that an event whose creation outlived a crash is found and re-linked,
    never created twice; ``transaction_id`` makes a retried create idempotent where the
    provider supports it."""

    key: str
    transaction_id: str
    subject: str
    body_html: str
    start: datetime
    end: datetime
    time_zone: str
    location: str | None
    attendees: tuple[EventAttendee, ...]
    online_meeting: bool = False


@dataclass(frozen=True)
class WrittenEvent:
    """An event as the calendar holds it."""

    event_id: str
    ical_uid: str | None = None
    join_url: str | None = None
    responses: tuple[tuple[str, str], ...] = ()  # (address, none|accepted|tentative|declined)
    cancelled: bool = False


@runtime_checkable
class EventWriter(Protocol):
    """Writes events into one company's calendars (app-only), exactly once."""

    async def find(self, mailbox: str, key: str) -> WrittenEvent | None:
        """The event carrying our ``key`` in ``mailbox``, if one exists."""
        ...

    async def get(self, mailbox: str, event_id: str) -> WrittenEvent | None:
        """The event as it stands (attendees' answers), or None if it is gone."""
        ...

    async def create(self, mailbox: str, draft: EventDraft) -> WrittenEvent: ...

    async def update(self, mailbox: str, event_id: str, draft: EventDraft) -> WrittenEvent: ...

    async def cancel(self, mailbox: str, event_id: str, comment: str) -> None:
        """Cancel with a message to attendees; an event already gone counts as cancelled."""
        ...

    async def online_meetings_allowed(self, mailbox: str) -> bool:
        """Whether the calendar can create Teams meetings with its events."""
        ...


TokenGetter = Callable[[bool], Awaitable[str]]


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    NOT_ADMIN = "not_admin"
    DECLINED = "declined"
    FAILED = "failed"


@dataclass(frozen=True)
class ConsentOutcome:
    status: ConsentStatus
    tenant_id: str | None = None
    error_code: str | None = None  # e.g. AADSTS90094
    message: str | None = None  # the provider's own description


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime


@runtime_checkable
class CompanyCalendar(Protocol):
    """One provider's company-wide (admin-consented, app-only) access."""

    provider: str

    def admin_consent_url(self, redirect_uri: str, state: str) -> str: ...

    def read_consent_callback(self, params: Mapping[str, str]) -> ConsentOutcome: ...

    async def check_cloud(self, tenant_id: str) -> str:
        """The tenant's cloud name; raises ``UnsupportedCloud`` for one we cannot serve."""
        ...

    async def app_token(self, tenant_id: str, *, force_refresh: bool) -> IssuedToken:
        """A fresh app-only token; raises ``AuthRevoked`` when the tenant refuses us."""
        ...

    def directory(self, tenant_id: str, get_token: TokenGetter) -> DirectorySource: ...

    def free_busy(
        self, tenant_id: str, get_token: TokenGetter, anchors: Mapping[str, str] | None = None
    ) -> FreeBusySource:
        """``anchors`` maps a lower-cased mailbox address to the provider's id for it, when
        known from the directory (some providers address calls by id, not by address)."""
        ...

    def events(self, tenant_id: str, get_token: TokenGetter) -> EventWriter: ...

    async def aclose(self) -> None:
        """Close HTTP clients."""
        ...
