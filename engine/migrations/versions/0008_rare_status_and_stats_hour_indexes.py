"""indexes: one flow's failed or held runs (an expression index); hourly counts by hour

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As maillon.engine.models.RARE_STATUS_KEY was when this revision was written.
_RARE_STATUS_KEY = "(CASE WHEN status IN ('failed', 'held') THEN flow_id || ' ' || status END)"


def upgrade() -> None:
    op.create_index("ix_runs_flow_rare_status", "runs", [sa.text(_RARE_STATUS_KEY), "id"])
    op.create_index("ix_run_stats_hour", "run_stats", ["hour"])


def downgrade() -> None:
    op.drop_index("ix_run_stats_hour", table_name="run_stats")
    op.drop_index("ix_runs_flow_rare_status", table_name="runs")
