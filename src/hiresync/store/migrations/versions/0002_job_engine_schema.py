"""job engine schema (Procrastinate 3.10)

Procrastinate keeps its jobs in our database so that a job can be deferred in the same
transaction as the change it pushes (transactional outbox). Its schema is applied
here, from the installed package, so ``hiresync migrate`` is the only migration command.
A later Procrastinate upgrade adds a revision that runs the package's migration files
for the versions in between.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Straight to the driver: the schema holds literal '%' that a parameter-aware
    # layer would read as placeholders.
    cursor = op.get_bind().connection.dbapi_connection.cursor()
    cursor.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.get_bind().exec_driver_sql(
        "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
        "procrastinate_jobs, procrastinate_workers CASCADE"
    )
