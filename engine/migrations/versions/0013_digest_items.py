"""digest_items: events collected into their flow's digest, waiting for a release

Revision ID: 0013
Revises: 0014
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
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
        sa.Column("release_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_digest_items_run_id", "digest_items", ["run_id"], unique=True)
    op.create_index("ix_digest_items_waiting", "digest_items", ["flow_id", "release_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_digest_items_waiting", table_name="digest_items")
    op.drop_index("ix_digest_items_run_id", table_name="digest_items")
    op.drop_table("digest_items")
