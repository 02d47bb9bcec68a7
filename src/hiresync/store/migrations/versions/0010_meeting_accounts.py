"""meeting accounts: each team member's own Zoom connection (sealed rotating tokens), the
OAuth states of connecting it, admin pre-approval requests, in-app notifications, and what
inbound Zoom webhooks leave behind (seen signatures against replay, meeting events)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LIVE = "status <> 'disconnected'"


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_organization_id_organizations"),
        ondelete="CASCADE",
    )


def _user_fk(table: str, column: str = "user_id", ondelete: str = "CASCADE") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def _now(name: str, default: str = "now()") -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text(default), nullable=False
    )


def _meeting_accounts() -> None:
    op.create_table(
        "meeting_accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_user_id", sa.String(length=100), nullable=True),
        sa.Column("external_account_id", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=300), nullable=True),
        sa.Column("licensed", sa.Boolean(), nullable=True),
        sa.Column("max_minutes", sa.Integer(), nullable=True),
        sa.Column("concurrent_meetings", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("access_sealed", sa.Text(), nullable=True),
        sa.Column("refresh_sealed", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
        _now("connected_at"),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _now("updated_at"),
        _org_fk("meeting_accounts"),
        _user_fk("meeting_accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_accounts")),
    )
    op.create_index(
        op.f("ix_meeting_accounts_organization_id"), "meeting_accounts", ["organization_id"]
    )
    op.create_index(op.f("ix_meeting_accounts_user_id"), "meeting_accounts", ["user_id"])
    op.create_index(
        "uq_meeting_accounts_one_live_login",
        "meeting_accounts",
        ["provider", "external_user_id"],
        unique=True,
        postgresql_where=LIVE,
    )
    op.create_index(
        "uq_meeting_accounts_one_live_per_user",
        "meeting_accounts",
        ["organization_id", "user_id", "provider"],
        unique=True,
        postgresql_where=LIVE,
    )


def _oauth_states() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("verifier_sealed", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        _now("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("oauth_states"),
        _user_fk("oauth_states"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    op.create_index(op.f("ix_oauth_states_organization_id"), "oauth_states", ["organization_id"])


def _preapproval_requests() -> None:
    op.create_table(
        "preapproval_requests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        _now("requested_at"),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        _org_fk("preapproval_requests"),
        _user_fk("preapproval_requests"),
        _user_fk("preapproval_requests", "approved_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preapproval_requests")),
    )
    op.create_index(
        op.f("ix_preapproval_requests_organization_id"),
        "preapproval_requests",
        ["organization_id"],
    )
    op.create_index(
        "uq_preapproval_requests_one_open",
        "preapproval_requests",
        ["organization_id", "user_id", "provider"],
        unique=True,
        postgresql_where="status = 'requested'",
    )


def _notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        _now("created_at", "clock_timestamp()"),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_status", sa.String(length=20), nullable=False),
        sa.Column("email_error", sa.Text(), nullable=True),
        _org_fk("notifications"),
        _user_fk("notifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_organization_id"), "notifications", ["organization_id"])
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])


def _inbound_webhooks() -> None:
    op.create_table(
        "inbound_webhook_signatures",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        _now("received_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_webhook_signatures")),
        sa.UniqueConstraint("provider", "signature", name="uq_inbound_webhook_signatures_sig"),
    )
    op.create_index(
        op.f("ix_inbound_webhook_signatures_received_at"),
        "inbound_webhook_signatures",
        ["received_at"],
    )
    op.create_table(
        "meeting_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("meeting_id", sa.String(length=100), nullable=False),
        sa.Column("external_user_id", sa.String(length=100), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        _now("received_at"),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("meeting_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_events")),
        sa.UniqueConstraint("body_hash", name=op.f("uq_meeting_events_body_hash")),
    )
    for column in ("organization_id", "meeting_id", "external_user_id"):
        op.create_index(op.f(f"ix_meeting_events_{column}"), "meeting_events", [column])


def upgrade() -> None:
    _meeting_accounts()
    _oauth_states()
    _preapproval_requests()
    _notifications()
    _inbound_webhooks()


def downgrade() -> None:
    for table in (
        "meeting_events",
        "inbound_webhook_signatures",
        "notifications",
        "preapproval_requests",
        "oauth_states",
        "meeting_accounts",
    ):
        op.drop_table(table)
