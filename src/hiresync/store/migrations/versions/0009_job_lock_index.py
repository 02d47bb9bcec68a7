"""job engine: an index that keeps fetching a job cheap while a burst is queued

Procrastinate's fetch skips a job whose lock has an earlier job waiting or running; its
own index for that is (id, lock), which cannot be searched by lock, so each check reads
the whole index. With planner statistics from before a burst (autovacuum analyzes at
most once a minute), the fetch checks every queued job: 40 ms per fetch with 1,000
interviews queued, which bounded the worker to ~25 jobs a second. With (lock, id) each
check is one index probe (2.5 ms then, 0.04 ms once analyzed). Procrastinate issues
#393 and #1242 discuss the same query.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEX = "hiresync_procrastinate_jobs_lock_id_idx"


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON procrastinate_jobs (lock, id) "
        "WHERE status IN ('todo', 'doing')"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
