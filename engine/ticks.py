"""The latest tick each schedule fired, kept where retention does not reach.

A tick's event is stored under (scope, tick time) and deleted with its runs once older than the
flow keeps them; the time of the latest tick stays in ``schedule_ticks``, written in the same
transaction as the tick (or as the release it set off). A scheduler starting after downtime
looks back from it, so that a tick it already fired is never fired again, however long ago.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from maillon.engine.db import driver_execute
from maillon.engine.models import ScheduleTickRow

__all__ = ["last_tick", "record_ticks"]

_ticks = ScheduleTickRow.__table__  # type: ignore[attr-defined]
_LAST = select(_ticks.c.tick).where(_ticks.c.scope == bindparam("scope"))
# The later of the two ticks: schedulers may store them out of order.
_RECORD = (
    "INSERT INTO schedule_ticks (scope, tick) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET "
    "tick = CASE WHEN excluded.tick > schedule_ticks.tick THEN excluded.tick "
    "ELSE schedule_ticks.tick END"
)


def record_ticks(conn: Connection, ticks: dict[str, float]) -> None:
    """Keep each scope's tick as its latest, unless a later one is kept already."""
    for scope in sorted(ticks):  # in one order: two schedulers' batches never deadlock
        driver_execute(conn, _RECORD, [scope, ticks[scope]])


def last_tick(conn: Connection, scope: str) -> float | None:
    """The latest tick fired under ``scope``, if any."""
    value = conn.execute(_LAST, {"scope": scope}).scalar()
    return None if value is None else float(value)
