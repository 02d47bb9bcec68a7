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

from hiresync.domain.calendar_copies import Quarantined
from hiresync.domain.freebusy import DirectoryUser, Schedule
from hiresync.sync import Item


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
    # A calendar of the mailbox other than its default one (the organizer's dedicated
    # calendar, issue #6); None: the default calendar.
    calendar_id: str | None = None


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

    async def find(
        self, mailbox: str, key: str, calendar_id: str | None = None
    ) -> WrittenEvent | None:
        """The event carrying our ``key`` in ``mailbox`` (in ``calendar_id``, else its
        default calendar), if one exists."""
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


# -- video meetings made on the host's account (Zoom; see domain.interviews.MEETING_KINDS) --


@dataclass(frozen=True)
class MeetingRequest:
    """An interview's video meeting, in provider-neutral terms.

    ``key`` is our id for it, stored where the provider keeps it (Zoom has no idempotency
    key and no custom property: the agenda's last line), so that a meeting whose creation
    outlived a crash is found again (``find``), never created twice."""

    key: str
    topic: str
    start: datetime
    end: datetime
    time_zone: str
    agenda: str = ""


@dataclass(frozen=True)
class MeetingDetails:
    """A meeting as the provider holds it: what goes into every invitation."""

    meeting_id: str
    join_url: str
    passcode: str | None = None
    host_email: str | None = None
    start: datetime | None = None
    duration_minutes: int | None = None


@dataclass(frozen=True)
class MeetingHost:
    """The connected account that hosts the meetings, with the plan limits hiresync checks
    before they bite (a Basic Zoom account's 40 minutes; a Pro host's one meeting at a
    time). None means no limit known."""

    user_id: str
    account_id: str
    email: str
    display_name: str
    time_zone: str | None = None
    licensed: bool = False
    max_minutes: int | None = None
    concurrent_meetings: int | None = None


@runtime_checkable
class MeetingProvider(Protocol):
    """Creates one meeting per interview on one user's account, exactly once."""

    async def host(self) -> MeetingHost:
        """Who the token belongs to, and their plan's limits."""
        ...

    async def find(self, key: str) -> MeetingDetails | None:
        """The upcoming meeting carrying our ``key``, if one exists."""
        ...

    async def get(self, meeting_id: str) -> MeetingDetails | None:
        """The meeting as it stands, or None if it was deleted."""
        ...

    async def create(self, request: MeetingRequest) -> MeetingDetails: ...

    async def update(self, meeting_id: str, request: MeetingRequest) -> MeetingDetails: ...

    async def delete(self, meeting_id: str) -> None:
        """Delete it; a meeting already gone counts as deleted."""
        ...


@dataclass(frozen=True)
class UserTokens:
    """What a user-managed OAuth grant gives: Zoom rotates ``refresh_token`` on every
    refresh (the old one dies), so the caller stores the new pair at once."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str = ""


@runtime_checkable
class MeetingAccounts(Protocol):
    """A meeting provider's per-user OAuth (authorization code with PKCE) and its API."""

    provider: str

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        """Where to send the user; PKCE S256 is derived from ``code_verifier``."""
        ...

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> UserTokens:
        """Tokens for the code the callback received (AuthRevoked/BadRequest on refusal)."""
        ...

    async def refresh(self, refresh_token: str) -> UserTokens:
        """New tokens; AuthRevoked when the grant is gone (revoked, expired, reused)."""
        ...

    async def revoke(self, access_token: str) -> None:
        """End the user's authorization of the app; one already gone counts as revoked."""
        ...

    def meetings(self, get_token: TokenGetter) -> MeetingProvider:
        """The API on behalf of the user whose token ``get_token`` gives."""
        ...

    async def aclose(self) -> None: ...


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


# -- two-way calendar sync (issue #6) ------------------------------------------------------


@dataclass(frozen=True)
class RemoteRead:
    """What one read of a synced calendar found. ``full``: every item is in ``items`` (an
    item absent was deleted); otherwise only the changes since the cursor, with ``removed``
    naming the idents deleted. ``cursor`` is stored once these changes are applied."""

    items: Sequence[Item]
    removed: Sequence[str]
    cursor: str
    full: bool
    quarantined: Sequence[Quarantined] = ()


Progress = Callable[[int, int], Awaitable[None]]


@runtime_checkable
class RemoteCalendar(Protocol):
    """One calendar of a person's account, as the sync engine's remote side: each item's
    payload is an ``EventCopy``, its ident the provider's id (CalDAV href, Graph id)."""

    async def read(
        self,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
    ) -> RemoteRead:
        """Changes since ``cursor``, or everything when it is None. ``SyncTokenExpired``:
        the cursor is no longer valid; read again without it."""
        ...

    async def create(
        self, source: Item
    ) -> tuple[str, str | None] | tuple[str, str | None, str | None]:
        """``(ident, etag)``, and the digest of what the server holds if it rewrote it."""
        ...

    async def update(
        self, ident: str, etag: str | None, source: Item
    ) -> str | tuple[str | None, str | None] | None: ...

    async def delete(self, ident: str, etag: str | None) -> None: ...
