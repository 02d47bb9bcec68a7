"""SQLAlchemy 2 tables. Every row belongs to an organization and every query filters by it.

Tables hold no behaviour: services decide, repositories read and write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _org() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = _created()
    # What blocks time and the default buffers/notice (services.availability_policy).
    availability_policy: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # Who organizes interviews (services.interview_settings).
    interview_settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class User(Base):
    """A member of the hiring team (not a directory user)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email_key", name="uq_users_org_email"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))  # lower-cased, for matching
    role: Mapped[str] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = _created()
    # {"monday": [["09:00", "17:00"]], …}; used when the calendar does not report hours.
    working_hours: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSONB)
    max_interviews_per_day: Mapped[int | None] = mapped_column(Integer)
    max_interviews_per_week: Mapped[int | None] = mapped_column(Integer)


class ApiKey(Base):
    """Organization-scoped API key; only a SHA-256 of the secret part is stored."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Connection(Base):
    """A company-wide link to a calendar system (one Microsoft 365 tenant, for now)."""

    __tablename__ = "connections"
    __table_args__ = (
        Index(
            "uq_connections_one_live_per_provider",
            "organization_id",
            "provider",
            unique=True,
            postgresql_where="status <> 'disconnected'",
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # active | error | disconnected
    tenant_id: Mapped[str] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(40), default="worldwide")
    connected_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    consented_by: Mapped[str | None] = mapped_column(String(40))  # "admin" | "shared_link"
    connected_at: Mapped[datetime] = _created()
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    directory_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    directory_size: Mapped[int] = mapped_column(Integer, default=0)


class Credential(Base):
    """An encrypted token or secret of a connection (see ``store.crypto``)."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("connection_id", "kind", name="uq_credentials_conn_kind"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    sealed: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ConsentRequest(Base):
    """One admin-consent attempt. ``state_hash`` is single-use and bound to one browser."""

    __tablename__ = "consent_requests"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(String(20))
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    via: Mapped[str] = mapped_column(String(20), default="admin")  # admin | shared_link
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(40))
    error_code: Mapped[str | None] = mapped_column(String(40))


class DirectoryEntry(Base):
    """A person in the connected directory, as last read."""

    __tablename__ = "directory_entries"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id", name="uq_directory_conn_external"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(300))
    mail: Mapped[str | None] = mapped_column(String(320))
    user_principal_name: Mapped[str | None] = mapped_column(String(320))
    addresses: Mapped[list[str]] = mapped_column(ARRAY(String(320)), default=list)
    account_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    seen_at: Mapped[datetime] = _created()


class DirectoryMatch(Base):
    """Which directory mailbox a hiring-team member is, and by which address."""

    __tablename__ = "directory_matches"
    __table_args__ = (UniqueConstraint("user_id", name="uq_directory_matches_user"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("directory_entries.id", ondelete="CASCADE")
    )
    matched_on: Mapped[str] = mapped_column(String(20))  # mail | upn | alias
    mailbox: Mapped[str] = mapped_column(String(320))  # address used for free/busy
    matched_at: Mapped[datetime] = _created()


class Candidate(Base):
    """A person being interviewed; never a user of hiresync."""

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("organization_id", "email_key", name="uq_candidates_org_email"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = _created()


class Interview(Base):
    """One interview: the desired state, which calendars are brought to (the source of
    truth; see services.interviews and jobs.tasks.push_interview)."""

    __tablename__ = "interviews"
    __table_args__ = (Index("ix_interviews_organization_start", "organization_id", "start"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    title: Mapped[str] = mapped_column(String(300))
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("candidates.id", ondelete="RESTRICT")
    )
    organizer_mailbox: Mapped[str] = mapped_column(String(320))
    organizer_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_zone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(500))
    meeting_type: Mapped[str] = mapped_column(String(20))
    meeting_url: Mapped[str | None] = mapped_column(Text)
    meeting_id: Mapped[str | None] = mapped_column(String(100))
    meeting_passcode: Mapped[str | None] = mapped_column(String(100))
    meeting_phone: Mapped[str | None] = mapped_column(String(100))
    meeting_address: Mapped[str | None] = mapped_column(String(500))
    # "calendar": the candidate is an attendee of the event; "email": hiresync e-mails them.
    candidate_invited_by: Mapped[str] = mapped_column(
        String(20), default="calendar", server_default="calendar"
    )
    # Why the meeting could not be made as asked (e.g. Teams not enabled on the calendar).
    meeting_problem: Mapped[str | None] = mapped_column(Text)
    notes_for_interviewers: Mapped[str | None] = mapped_column(Text)
    message_to_candidate: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class InterviewAttendee(Base):
    """An interviewer or the candidate, with the answer their calendar gave."""

    __tablename__ = "interview_attendees"
    __table_args__ = (
        UniqueConstraint("interview_id", "email_key", name="uq_interview_attendees_email"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    response: Mapped[str] = mapped_column(String(20), default="none")
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InterviewHistory(Base):
    """What happened to an interview, in order: who did what, and what changed."""

    __tablename__ = "interview_history"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    # clock_timestamp, not now(): entries made in one transaction keep their order.
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CalendarLink(Base):
    """The interview's event in one calendar: whether it is written, which version, and
    the provider's id for it. The push job brings it to the interview's ``sequence``."""

    __tablename__ = "interview_calendar_links"
    __table_args__ = (
        UniqueConstraint("interview_id", "mailbox", name="uq_interview_calendar_links_mailbox"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    mailbox: Mapped[str] = mapped_column(String(320))
    external_event_id: Mapped[str | None] = mapped_column(String(500))
    transaction_id: Mapped[str] = mapped_column(String(100))
    synced_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    # The interview's sequence when a create was sent: a re-found event holds that version.
    writing_sequence: Mapped[int | None] = mapped_column(Integer)
    # pending (never tried) | writing (a create was sent) | synced | failed
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WebhookEndpoint(Base):
    """Where the hiring platform wants to hear about interviews; the signing secret is
    sealed like every other secret (``sealed``/``key_id``)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(300))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(80)), default=list)
    sealed: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class WebhookDelivery(Base):
    """One message to one endpoint, and how its delivery went (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(64))  # webhook-id: same on every attempt
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class CandidateEmail(Base):
    """One iCalendar e-mail to a candidate (invitation, update or cancellation): the
    outbox row its job sends, and the delivery log."""

    __tablename__ = "candidate_emails"
    __table_args__ = (
        UniqueConstraint("interview_id", "sequence", name="uq_candidate_emails_interview_sequence"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # invitation | update | cancellation
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailTemplate(Base):
    """An organization's edited source of one candidate e-mail template (a name of
    ``services.invitations.TEMPLATE_NAMES``); without a row, the default is used."""

    __tablename__ = "email_templates"
    __table_args__ = (
        UniqueConstraint("organization_id", "name", name="uq_email_templates_org_name"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    updated_by: Mapped[str] = mapped_column(String(320))  # a user's e-mail, or "api"


class MeetingAccount(Base):
    """One team member's own video-meeting account (Zoom), connected by user-managed OAuth.

    The tokens are sealed (``key_id`` names the key); Zoom rotates the refresh token on every
    refresh, so both are rewritten together under this row's lock (services.meeting_accounts).
    A live row (status other than disconnected) is unique per provider login across every
    organization ("one Zoom login, one hiring account") and per (organization, user)."""

    __tablename__ = "meeting_accounts"
    __table_args__ = (
        Index(
            "uq_meeting_accounts_one_live_login",
            "provider",
            "external_user_id",
            unique=True,
            postgresql_where="status <> 'disconnected'",
        ),
        Index(
            "uq_meeting_accounts_one_live_per_user",
            "organization_id",
            "user_id",
            "provider",
            unique=True,
            postgresql_where="status <> 'disconnected'",
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    # The host profile: cleared when the connection ends (the user's Zoom data is deleted).
    external_user_id: Mapped[str | None] = mapped_column(String(100))
    external_account_id: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(300))
    licensed: Mapped[bool | None] = mapped_column(Boolean)
    max_minutes: Mapped[int | None] = mapped_column(Integer)
    concurrent_meetings: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # active | reconnect_needed | disconnected
    access_sealed: Mapped[str | None] = mapped_column(Text)
    refresh_sealed: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(40))
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Zoom's daily create/update quota is spent until then: the host's pushes wait.
    quota_resets_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    connected_at: Mapped[datetime] = _created()
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class OAuthState(Base):
    """One user-managed OAuth attempt: a single-use ``state`` (only its hash is stored) bound
    to the user and browser that started it, with its sealed PKCE verifier."""

    __tablename__ = "oauth_states"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(String(20))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    verifier_sealed: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PreapprovalRequest(Base):
    """A team member's request that their Zoom admin pre-approve the app; at most one open
    request per member and provider."""

    __tablename__ = "preapproval_requests"
    __table_args__ = (
        Index(
            "uq_preapproval_requests_one_open",
            "organization_id",
            "user_id",
            "provider",
            unique=True,
            postgresql_where="status = 'requested'",
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # requested | approved
    source: Mapped[str] = mapped_column(String(20), default="hiresync")  # hiresync | zoom
    requested_at: Mapped[datetime] = _created()
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The admin who marked it approved; None when connecting closed it.
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class Notification(Base):
    """A message to one team member, shown in the app and, when SMTP is set up, e-mailed
    (``email_status``: none | pending | sent | failed)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_status: Mapped[str] = mapped_column(String(20), default="none")
    email_error: Mapped[str | None] = mapped_column(Text)


class InboundWebhookSignature(Base):
    """Signatures of inbound webhooks accepted within the timestamp window, so a replay is
    refused by every server process. Checked before the sender's organization is known, so
    not organization-scoped; rows older than the window are pruned."""

    __tablename__ = "inbound_webhook_signatures"
    __table_args__ = (
        UniqueConstraint("provider", "signature", name="uq_inbound_webhook_signatures_sig"),
    )
    id: Mapped[uuid.UUID] = _id()
    provider: Mapped[str] = mapped_column(String(20))
    signature: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class MeetingEvent(Base):
    """A change made in the provider (``meeting.updated``/``meeting.deleted``), recorded as
    received for the interviews to catch up with. The organization is that of the live
    connection of the meeting's host, when one is known. ``body_hash`` makes a redelivery of
    the same event (Zoom re-signs retries) a no-op."""

    __tablename__ = "meeting_events"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(60))
    meeting_id: Mapped[str] = mapped_column(String(100), index=True)
    external_user_id: Mapped[str | None] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # event_ts
    body_hash: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = _created()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InterviewMeeting(Base):
    """An interview's own video meeting on its host's account (Zoom): which meeting, which
    version of the interview it holds, and where its creation stands.

    ``state``: pending (none yet) | writing (a create was sent: a crash may have left a
    meeting, so ``find`` by key comes before any second create) | synced | failed | deleted.
    The account is SET NULL when the connection row goes: the meeting outlives it."""

    __tablename__ = "interview_meetings"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("meeting_accounts.id", ondelete="SET NULL"), index=True
    )
    host_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    external_meeting_id: Mapped[str | None] = mapped_column(String(100), index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    synced_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    writing_sequence: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# -- two-way calendar sync (issue #6) ----------------------------------------------------------


class CalendarAccount(Base):
    """Where one person's calendars are reached: the company connection (Microsoft 365,
    app-only, ``connection_id``) or their own account — Microsoft delegated OAuth (sealed
    rotating refresh token) or CalDAV (server, user name and sealed app password).

    ``status``: active | reconnect_needed (a revoked or expired grant: its owner is notified,
    nothing is silently skipped) | disconnected. One live account per person and provider."""

    __tablename__ = "calendar_accounts"
    __table_args__ = (
        Index(
            "uq_calendar_accounts_one_live_per_user",
            "organization_id",
            "user_id",
            "provider",
            unique=True,
            postgresql_where="status <> 'disconnected'",
        ),
        # A Microsoft login is synchronized with one hiring account at a time (races too).
        Index(
            "uq_calendar_accounts_one_live_microsoft_login",
            "external_tenant_id",
            "username",
            unique=True,
            postgresql_where="provider = 'microsoft' AND scope = 'personal' "
            "AND status <> 'disconnected'",
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))  # microsoft | caldav
    scope: Mapped[str] = mapped_column(String(20))  # company | personal
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE")
    )
    address: Mapped[str] = mapped_column(String(320))  # "synchronized with name@example.com"
    server_url: Mapped[str | None] = mapped_column(String(2000))  # CalDAV: the server found
    principal_url: Mapped[str | None] = mapped_column(String(2000))
    username: Mapped[str | None] = mapped_column(String(320))  # Microsoft: Graph user id
    external_tenant_id: Mapped[str | None] = mapped_column(String(64))  # Microsoft personal
    secret_sealed: Mapped[str | None] = mapped_column(Text)  # app password | refresh token
    access_sealed: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(40))
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime] = _created()
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SyncedCalendar(Base):
    """One remote calendar kept in step with hiresync's copy.

    ``role``: primary (interviews written into the person's own calendar) | dedicated (a
    calendar hiresync created in the person's account, named after the hiring platform) |
    external (the person's other meetings, read-only, counted in availability).
    ``direction``: both | pull. ``state``: initial (first sync running, ``initial_done`` of
    ``initial_total``) | ready | disabled (``disabled_reason`` says why, e.g. the dedicated
    calendar was deleted in the account) | failed (``last_error``).
    The cursor (Graph delta link, CalDAV sync token) is saved only with the changes it
    covers; ``ctag`` serves servers without sync-collection."""

    __tablename__ = "synced_calendars"
    __table_args__ = (
        UniqueConstraint("account_id", "remote_id", name="uq_synced_calendars_remote_id"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    remote_id: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[str | None] = mapped_column(Text)
    ctag: Mapped[str | None] = mapped_column(String(500))
    initial_total: Mapped[int | None] = mapped_column(Integer)
    initial_done: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Graph change notifications: the subscription, its expiry, and the hash of its secret.
    subscription_id: Mapped[str | None] = mapped_column(String(100), index=True)
    subscription_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_state_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CalendarItem(Base):
    """hiresync's copy of one event of a synced calendar, with the sync status of the pair:
    the remote half (``remote_ident``/``remote_etag``/``remote_digest``) and the local half
    (``synced_version``, ``synced_digest``) as they stood after the last successful sync;
    ``version``/``digest`` are the row as it is now.

    ``origin``: remote (read from the calendar) | hiresync (written by us, e.g. an interview)
    | imported (brought into the platform, never synced out). ``owned``: the person is the
    organizer (only owned events sync out). ``quarantine`` holds the reason an item the
    server sent could not be read (bad ICS, unknown zone): kept, shown, never synced."""

    __tablename__ = "calendar_items"
    __table_args__ = (
        UniqueConstraint("calendar_id", "uid", name="uq_calendar_items_uid"),
        Index("ix_calendar_items_calendar_span", "calendar_id", "starts_at", "ends_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("synced_calendars.id", ondelete="CASCADE")
    )
    uid: Mapped[str] = mapped_column(String(1000))
    remote_ident: Mapped[str | None] = mapped_column(String(2000))
    remote_etag: Mapped[str | None] = mapped_column(String(500))
    remote_digest: Mapped[str | None] = mapped_column(String(64))
    # The local half as of the last sync: a row edited since (its version moved) goes out.
    synced_version: Mapped[int | None] = mapped_column(Integer)
    synced_digest: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20))
    owned: Mapped[bool] = mapped_column(Boolean, default=True)
    interview_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interviews.id", ondelete="SET NULL")
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str | None] = mapped_column(String(100))
    busy: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    # The content both sides write (summary, times, rules, exceptions, attendees…).
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    raw: Mapped[str | None] = mapped_column(Text)  # the server's iCalendar text (CalDAV)
    quarantine: Mapped[str | None] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CalendarNotification(Base):
    """A change notification from Graph, stored as it arrived (answered within Graph's
    3-second budget) and applied by a sync job: nothing is lost if a worker dies."""

    __tablename__ = "calendar_notifications"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("synced_calendars.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))  # created | updated | deleted | lifecycle…
    resource: Mapped[str | None] = mapped_column(String(2000))
    received_at: Mapped[datetime] = _created()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
