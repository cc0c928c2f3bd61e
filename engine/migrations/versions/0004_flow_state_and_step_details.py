"""a flow's enabled flag lives in its column only; steps keep their error's details

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:40:00
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_flows = sa.table(
    "flows",
    sa.column("id", sa.String),
    sa.column("enabled", sa.Boolean),
    sa.column("definition", sa.Text),
)


def _rewrite(change: Callable[[dict[str, Any], bool], object]) -> None:
    conn = op.get_bind()
    for flow_id, enabled, definition in conn.execute(
        sa.select(_flows.c.id, _flows.c.enabled, _flows.c.definition)
    ).all():
        spec = json.loads(definition)
        change(spec, bool(enabled))
        conn.execute(
            _flows.update().where(_flows.c.id == flow_id).values(definition=json.dumps(spec))
        )


def upgrade() -> None:
    _rewrite(lambda spec, _enabled: spec.pop("enabled", None))
    with op.batch_alter_table("steps") as batch_op:
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.drop_column("details")
    _rewrite(lambda spec, enabled: spec.__setitem__("enabled", enabled))
