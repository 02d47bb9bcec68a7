"""two-way calendar sync: each person's calendar account (the company connection, or
their own Microsoft or CalDAV account), the calendars kept in step with hiresync, the local
copy of their events with each pair's sync status, and Graph change notifications as they
arrived

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("server_url", sa.String(length=2000), nullable=True),
        sa.Column("principal_url", sa.String(length=2000), nullable=True),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("access_sealed", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "connected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_calendar_accounts_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calendar_accounts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_accounts")),
    )
    op.create_index(
        op.f("ix_calendar_accounts_organization_id"),
        "calendar_accounts",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_accounts_user_id"), "calendar_accounts", ["user_id"], unique=False
    )
    op.create_index(
        "uq_calendar_accounts_one_live_per_user",
        "calendar_accounts",
        ["organization_id", "user_id", "provider"],
        unique=True,
        postgresql_where="status <> 'disconnected'",
    )
    op.create_table(
        "synced_calendars",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("remote_id", sa.String(length=2000), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("ctag", sa.String(length=500), nullable=True),
        sa.Column("initial_total", sa.Integer(), nullable=True),
        sa.Column("initial_done", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscription_id", sa.String(length=100), nullable=True),
        sa.Column("subscription_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_state_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["calendar_accounts.id"],
            name=op.f("fk_synced_calendars_account_id_calendar_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_synced_calendars_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_synced_calendars_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_calendars")),
        sa.UniqueConstraint("account_id", "remote_id", name="uq_synced_calendars_remote_id"),
    )
    op.create_index(
        op.f("ix_synced_calendars_account_id"), "synced_calendars", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_synced_calendars_organization_id"),
        "synced_calendars",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_synced_calendars_subscription_id"),
        "synced_calendars",
        ["subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_synced_calendars_user_id"), "synced_calendars", ["user_id"], unique=False
    )
    op.create_table(
        "calendar_items",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("calendar_id", sa.UUID(), nullable=False),
        sa.Column("uid", sa.String(length=1000), nullable=False),
        sa.Column("remote_ident", sa.String(length=2000), nullable=True),
        sa.Column("remote_etag", sa.String(length=500), nullable=True),
        sa.Column("remote_digest", sa.String(length=64), nullable=True),
        sa.Column("synced_version", sa.Integer(), nullable=True),
        sa.Column("synced_digest", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("owned", sa.Boolean(), nullable=False),
        sa.Column("interview_id", sa.UUID(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(length=100), nullable=True),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("quarantine", sa.Text(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["synced_calendars.id"],
            name=op.f("fk_calendar_items_calendar_id_synced_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_calendar_items_interview_id_interviews"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calendar_items_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_items")),
        sa.UniqueConstraint("calendar_id", "uid", name="uq_calendar_items_uid"),
    )
    op.create_index(
        "ix_calendar_items_calendar_span",
        "calendar_items",
        ["calendar_id", "starts_at", "ends_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_items_organization_id"),
        "calendar_items",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "calendar_notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("calendar_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("resource", sa.String(length=2000), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["synced_calendars.id"],
            name=op.f("fk_calendar_notifications_calendar_id_synced_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calendar_notifications_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_notifications")),
    )
    op.create_index(
        op.f("ix_calendar_notifications_calendar_id"),
        "calendar_notifications",
        ["calendar_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_notifications_organization_id"),
        "calendar_notifications",
        ["organization_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("calendar_notifications")
    op.drop_table("calendar_items")
    op.drop_table("synced_calendars")
    op.drop_table("calendar_accounts")
