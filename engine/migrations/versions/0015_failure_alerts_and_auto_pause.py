"""flows: error-flow flag, failures in a row, paused; alert batches; install settings

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.add_column(
            sa.Column("error_flow", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("failures_in_row", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("paused_at", sa.Float(), nullable=True))
        batch.create_index("ix_flows_error_flow", ["error_flow"])
    op.create_table(
        "alerts",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("flow_id", sa.String(36), nullable=True),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=True),
        sa.Column("last_at", sa.Float(), nullable=True),
        sa.Column("latest", sa.Text(), nullable=True),
        sa.Column("latest_run_id", sa.String(36), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("last_sent_at", sa.Float(), nullable=True),
        sa.Column("send_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_alerts_due_at", "alerts", ["due_at"])
    op.create_table(
        "install_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("install_settings")
    op.drop_index("ix_alerts_due_at", "alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("flows") as batch:
        batch.drop_index("ix_flows_error_flow")
        batch.drop_column("paused_at")
        batch.drop_column("failures_in_row")
        batch.drop_column("error_flow")
