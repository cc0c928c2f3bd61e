"""digest_items: events collected into their flow's digest, waiting for a release;
schedule_ticks: the latest tick each schedule fired

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("collected_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_digest_items_run_id", "digest_items", ["run_id"], unique=True)
    op.create_index("ix_digest_items_flow", "digest_items", ["flow_id", "run_id"])
    op.create_table(
        "schedule_ticks",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("tick", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("schedule_ticks")
    op.drop_index("ix_digest_items_flow", table_name="digest_items")
    op.drop_index("ix_digest_items_run_id", table_name="digest_items")
    op.drop_table("digest_items")
