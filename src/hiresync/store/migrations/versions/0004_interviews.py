"""interviews: candidates, interviews with their attendees and history, and each
interview's event in each calendar (what the push job brings up to date)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = (
    "interview_history",
    "interview_calendar_links",
    "interview_attendees",
    "interviews",
    "candidates",
)


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_candidates_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("organization_id", "email_key", name="uq_candidates_org_email"),
    )
    op.create_index(
        op.f("ix_candidates_organization_id"), "candidates", ["organization_id"], unique=False
    )
    op.create_table(
        "interviews",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("candidate_id", sa.UUID(), nullable=False),
        sa.Column("organizer_mailbox", sa.String(length=320), nullable=False),
        sa.Column("organizer_user_id", sa.UUID(), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("meeting_type", sa.String(length=20), nullable=False),
        sa.Column("meeting_url", sa.Text(), nullable=True),
        sa.Column("meeting_id", sa.String(length=100), nullable=True),
        sa.Column("meeting_passcode", sa.String(length=100), nullable=True),
        sa.Column("meeting_phone", sa.String(length=100), nullable=True),
        sa.Column("meeting_address", sa.String(length=500), nullable=True),
        sa.Column("meeting_problem", sa.Text(), nullable=True),
        sa.Column("notes_for_interviewers", sa.Text(), nullable=True),
        sa.Column("message_to_candidate", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
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
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_interviews_candidate_id_candidates"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_interviews_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organizer_user_id"],
            ["users.id"],
            name=op.f("fk_interviews_organizer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    op.create_index(
        op.f("ix_interviews_organization_id"), "interviews", ["organization_id"], unique=False
    )
    op.create_index(
        "ix_interviews_organization_start", "interviews", ["organization_id", "start"], unique=False
    )
    op.create_table(
        "interview_attendees",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("interview_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("response", sa.String(length=20), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_attendees_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_interview_attendees_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_interview_attendees_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_attendees")),
        sa.UniqueConstraint("interview_id", "email_key", name="uq_interview_attendees_email"),
    )
    op.create_index(
        op.f("ix_interview_attendees_interview_id"),
        "interview_attendees",
        ["interview_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interview_attendees_organization_id"),
        "interview_attendees",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "interview_calendar_links",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("interview_id", sa.UUID(), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("external_event_id", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.String(length=100), nullable=False),
        sa.Column("synced_sequence", sa.Integer(), nullable=False),
        sa.Column("writing_sequence", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_calendar_links_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_interview_calendar_links_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_calendar_links")),
        sa.UniqueConstraint("interview_id", "mailbox", name="uq_interview_calendar_links_mailbox"),
    )
    op.create_index(
        op.f("ix_interview_calendar_links_interview_id"),
        "interview_calendar_links",
        ["interview_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interview_calendar_links_organization_id"),
        "interview_calendar_links",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "interview_history",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("interview_id", sa.UUID(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_history_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_interview_history_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_history")),
    )
    op.create_index(
        op.f("ix_interview_history_interview_id"),
        "interview_history",
        ["interview_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interview_history_organization_id"),
        "interview_history",
        ["organization_id"],
        unique=False,
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
