"""app triggers: per-connection hook tokens, flow fan-out index, subscriptions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:23:18.226432
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "event"),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hook_token", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_connections_hook_token", ["hook_token"], unique=True)
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_flows_source_key", ["source_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index("ix_flows_source_key")
        batch_op.drop_column("source_key")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("ix_connections_hook_token")
        batch_op.drop_column("hook_token")
    op.drop_table("subscriptions")
