"""a person's own Microsoft account for calendar sync: the directory (tenant) the login
belongs to, and one live hiring account per Microsoft login

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calendar_accounts",
        sa.Column("external_tenant_id", sa.String(length=64), nullable=True),
    )
    op.create_index(
        "uq_calendar_accounts_one_live_microsoft_login",
        "calendar_accounts",
        ["external_tenant_id", "username"],
        unique=True,
        postgresql_where="provider = 'microsoft' AND scope = 'personal' "
        "AND status <> 'disconnected'",
    )


def downgrade() -> None:
    op.drop_index("uq_calendar_accounts_one_live_microsoft_login", table_name="calendar_accounts")
    op.drop_column("calendar_accounts", "external_tenant_id")
