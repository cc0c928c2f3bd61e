"""run_stats: runs that ended at a filter, counted per flow and hour

Revision ID: 0012
Revises: 0014
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite drops columns (on downgrade) by rebuilding the table.
    with op.batch_alter_table("run_stats") as batch:
        batch.add_column(sa.Column("filtered", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("run_stats") as batch:
        batch.drop_column("filtered")
