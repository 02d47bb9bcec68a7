"""meeting accounts: when the host's daily meeting quota resets

Zoom allows 100 meeting creates and updates per user a day. Once one push meets the limit,
the host's other interviews wait for the same reset without asking Zoom again (each ask
would only be refused and spend a request of the light rate limit).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("meeting_accounts", sa.Column("quota_resets_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("meeting_accounts", "quota_resets_at")
