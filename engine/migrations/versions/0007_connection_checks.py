"""connections: the outcome of their last test (when, whether it worked, what the app said)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite drops columns (on downgrade) by rebuilding the table.
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("checked_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("check_ok", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("check_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("check_message")
        batch.drop_column("check_ok")
        batch.drop_column("checked_at")
