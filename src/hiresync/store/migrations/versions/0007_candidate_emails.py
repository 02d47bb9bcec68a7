"""candidate e-mails: interviews whose candidate is invited by hiresync's own iCalendar
e-mail (not by the calendar), and the log of every such e-mail

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "interviews",
        sa.Column(
            "candidate_invited_by",
            sa.String(length=20),
            nullable=False,
            server_default="calendar",
        ),
    )
    op.create_table(
        "candidate_emails",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("interview_id", sa.UUID(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_candidate_emails_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_candidate_emails_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_emails")),
        sa.UniqueConstraint(
            "interview_id", "sequence", name="uq_candidate_emails_interview_sequence"
        ),
    )
    op.create_index(
        op.f("ix_candidate_emails_organization_id"), "candidate_emails", ["organization_id"]
    )
    op.create_index(op.f("ix_candidate_emails_interview_id"), "candidate_emails", ["interview_id"])


def downgrade() -> None:
    op.drop_table("candidate_emails")
    op.drop_column("interviews", "candidate_invited_by")
