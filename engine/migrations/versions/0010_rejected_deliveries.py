"""rejected_deliveries: deliveries refused for their signature, kept for the operator to see

Revision ID: 0010
Revises: 0014
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_deliveries",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_rejected_deliveries_flow_id", "rejected_deliveries", ["flow_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_rejected_deliveries_flow_id", table_name="rejected_deliveries")
    op.drop_table("rejected_deliveries")
