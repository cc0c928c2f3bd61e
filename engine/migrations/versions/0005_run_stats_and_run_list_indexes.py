"""hourly run counts per flow; indexes for lists of runs by flow or status, newest first

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_stats",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("flow_id", "hour"),
    )
    # Runs that finished before the counts existed, so that the dashboard starts complete.
    op.execute(
        "INSERT INTO run_stats (flow_id, hour, succeeded, failed) "
        "SELECT flow_id, CAST(finished_at / 3600 AS INTEGER) * 3600, "
        "SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) "
        "FROM runs WHERE finished_at IS NOT NULL AND status IN ('succeeded', 'failed') "
        "GROUP BY flow_id, CAST(finished_at / 3600 AS INTEGER)"
    )
    op.drop_index("ix_runs_flow_created", table_name="runs")
    op.create_index("ix_runs_flow_id", "runs", ["flow_id", "id"])
    op.create_index("ix_runs_status_id", "runs", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_id", table_name="runs")
    op.drop_index("ix_runs_flow_id", table_name="runs")
    op.create_index("ix_runs_flow_created", "runs", ["flow_id", "created_at"])
    op.drop_table("run_stats")
