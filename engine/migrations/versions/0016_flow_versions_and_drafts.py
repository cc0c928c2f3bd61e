"""flows: a draft beside the published definition; flow_versions: every published version;
runs: the version each run executes

Every existing flow's definition becomes its published version under its current number, and
every existing run takes its flow's current version: that is what it would have run before.

Revision ID: 0016
Revises: 0013
Create Date: 2026-11-30 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("draft", sa.Text(), nullable=True))
        batch.add_column(sa.Column("draft_saved_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("draft_author", sa.String(length=200), nullable=True))
    op.create_table(
        "flow_versions",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "version"),
    )
    op.execute(
        "INSERT INTO flow_versions (flow_id, version, definition, published_at) "
        "SELECT id, version, definition, updated_at FROM flows"
    )
    # Not in batch mode: a table rebuild would copy every run, and SQLite cannot rebuild the
    # runs' expression index; both databases add (and drop) a column in place.
    op.add_column(
        "runs", sa.Column("flow_version", sa.Integer(), nullable=False, server_default="0")
    )
    # Runs of deleted flows keep 0: there is no version left for them to run.
    op.execute(
        "UPDATE runs SET flow_version = "
        "(SELECT version FROM flows WHERE flows.id = runs.flow_id) "
        "WHERE flow_id IN (SELECT id FROM flows)"
    )


def downgrade() -> None:
    op.drop_column("runs", "flow_version")
    op.drop_table("flow_versions")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("draft_author")
        batch.drop_column("draft_saved_at")
        batch.drop_column("draft")
