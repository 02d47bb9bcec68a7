"""availability settings: a person's working hours and interview caps, the
organization's policy for what blocks time

Working hours are per weekday, several ranges a day (``{"monday": [["09:00", "17:00"]]}``),
used when the calendar provider does not report them. The policy says which busy
statuses block time (busy and out-of-office always do) and the default buffers and
notice of the organization's availability queries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("working_hours", postgresql.JSONB(), nullable=True))
    op.add_column("users", sa.Column("max_interviews_per_day", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("max_interviews_per_week", sa.Integer(), nullable=True))
    op.add_column(
        "organizations",
        sa.Column(
            "availability_policy",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )


def downgrade() -> None:
    op.drop_column("organizations", "availability_policy")
    op.drop_column("users", "max_interviews_per_week")
    op.drop_column("users", "max_interviews_per_day")
    op.drop_column("users", "working_hours")
