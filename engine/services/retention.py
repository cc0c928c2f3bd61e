"""Retention: runs, their steps, replays and events are deleted once older than the flow keeps them.

Without it the database grows with every delivery for ever. Each flow keeps the runs that ended
well (succeeded, filtered) for ``retention.days`` days and failed and cancelled runs, which
someone may replay, for ``retention.failed_days`` (the install's ``MAILLON_RETENTION_DAYS`` and
``MAILLON_RETENTION_FAILED_DAYS`` unless the flow says), counted from when the run was created.
Queued, running and held runs are never deleted: they are work still to do. An event goes with
the last of its runs. Hourly run counts (the dashboard's charts) are kept. Rejected deliveries
(refused for their signature) are kept as long as failed runs are by default.

Deletion goes in small batches through the writer, so that on SQLite intake waits at most one
small batch, and one process sweeps at a time (an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, exists, select

from maillon.engine.flows import parse_flow
from maillon.engine.ids import id_floor
from maillon.engine.models import (
    EventRow,
    FlowRow,
    RejectedDeliveryRow,
    ReplayRow,
    RunRow,
    RunStatus,
    StepRow,
)
from maillon.engine.services.base import Service
from maillon.engine.settings import Settings
from maillon.engine.writer import Op, Writer

__all__ = ["Pruned", "Retention"]

_DAY = 86400.0
#: Runs that are still work to do, whatever their age.
_UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.HELD)
#: Kept as long as failed runs: a cancelled run may have waited for weeks (held, or at a long
#: delay), and someone may still replay it.
_KEPT_LONGER = (RunStatus.FAILED, RunStatus.CANCELLED)
_runs, _steps = RunRow.__table__, StepRow.__table__  # type: ignore[attr-defined]
_events, _flows = EventRow.__table__, FlowRow.__table__  # type: ignore[attr-defined]
_rejected = RejectedDeliveryRow.__table__  # type: ignore[attr-defined]
_replays = ReplayRow.__table__  # type: ignore[attr-defined]


@dataclass
class Pruned:
    """What one sweep deleted."""

    runs: int = 0
    events: int = 0
    rejected: int = 0


@dataclass
class _PruneRuns(Op[tuple[int, int]]):
    """Delete up to ``limit`` runs created before ``before`` (an id) of the ``flows`` (or, if not
    ``inside``, of every flow but those: the runs of deleted flows), with their steps, and those
    of their events that no run is left on; return (runs, events) deleted."""

    flows: list[str]
    inside: bool
    failed: bool
    before: str
    limit: int

    def apply(self, conn: Connection) -> tuple[int, int]:
        status = _runs.c.status
        flow = _runs.c.flow_id
        of_flows = flow.in_(self.flows) if self.inside else flow.not_in(self.flows)
        which = (
            status.in_(_KEPT_LONGER)
            if self.failed
            else status.not_in([*_UNFINISHED, *_KEPT_LONGER])
        )
        rows = conn.execute(
            select(_runs.c.id, _runs.c.event_id)
            .where(of_flows, _runs.c.id < self.before, which)
            .limit(self.limit)
        ).all()
        if not rows:
            return 0, 0
        run_ids = [r[0] for r in rows]
        # The runs first, their status checked again: a run replayed since it was read (on
        # PostgreSQL, where a replay does not wait for this batch) is queued now, and stays
        # with its steps; and the runs are locked before their steps, in a replay's order.
        pruned = conn.execute(delete(_runs).where(_runs.c.id.in_(run_ids), which)).rowcount
        for table in (_steps, _replays):
            kept = exists().where(_runs.c.id == table.c.run_id)
            conn.execute(delete(table).where(table.c.run_id.in_(run_ids), ~kept))
        alone = ~exists().where(_runs.c.event_id == _events.c.id)
        events = conn.execute(
            delete(_events).where(_events.c.id.in_({r[1] for r in rows}), alone)
        ).rowcount
        return pruned, events


@dataclass
class _PruneOrphans(Op[int]):
    """Delete up to ``limit`` events older than every retention that have no run (their flow
    was deleted, or no flow listened to them)."""

    before: str
    limit: int

    def apply(self, conn: Connection) -> int:
        alone = ~exists().where(_runs.c.event_id == _events.c.id)
        ids = (
            conn.execute(
                select(_events.c.id).where(_events.c.id < self.before, alone).limit(self.limit)
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        return int(conn.execute(delete(_events).where(_events.c.id.in_(ids))).rowcount)


@dataclass
class _PruneRejected(Op[int]):
    """Delete up to ``limit`` rejected deliveries received before ``before`` (an id)."""

    before: str
    limit: int

    def apply(self, conn: Connection) -> int:
        ids = (
            conn.execute(
                select(_rejected.c.id).where(_rejected.c.id < self.before).limit(self.limit)
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        return int(conn.execute(delete(_rejected).where(_rejected.c.id.in_(ids))).rowcount)


class Retention(Service):
    """Sweeps what retention lets go: on a timer in processes with workers, or on demand."""

    def __init__(self, db: Any, writer: Writer, settings: Settings, *, batch: int = 500) -> None:
        super().__init__(db)
        self._writer = writer
        self._settings = settings
        self._batch = batch

    async def sweep(self, now: float | None = None) -> Pruned | None:
        """Delete what is older than its flow keeps; ``None`` if another process is at it."""
        now = time.time() if now is None else now
        async with self.across_processes("retention", wait=False) as held:
            if not held:
                return None
            pruned = Pruned()
            policies = await self.sync(self._policies)
            defaults = (self._settings.retention_days, self._settings.retention_failed_days)
            # Each flow with its own policy, then the runs of deleted flows (kept as history)
            # with the install's.
            scopes = [([flow_id], True, days) for flow_id, days in policies]
            scopes.append(([flow_id for flow_id, _ in policies], False, defaults))
            for flows, inside, days in scopes:
                for failed, keep in zip((False, True), days, strict=True):
                    if not keep:
                        continue
                    before = id_floor(now - keep * _DAY)
                    op = _PruneRuns(flows, inside, failed, before, self._batch)
                    while True:
                        runs, events = await self._writer.submit(op)
                        pruned.runs += runs
                        pruned.events += events
                        if runs < self._batch:
                            break
            every = [keep for _, days in policies for keep in days]
            if all(every + list(defaults)):
                oldest_kept = max(every + list(defaults))
                orphans = _PruneOrphans(id_floor(now - oldest_kept * _DAY), self._batch)
                while (deleted := await self._writer.submit(orphans)) > 0:
                    pruned.events += deleted
            if keep_rejected := self._settings.retention_failed_days:
                rejected = _PruneRejected(id_floor(now - keep_rejected * _DAY), self._batch)
                while (deleted := await self._writer.submit(rejected)) > 0:
                    pruned.rejected += deleted
            return pruned

    def _policies(self) -> list[tuple[str, tuple[float, float]]]:
        """Each flow's id and (days, failed days) to keep; 0 means for ever."""
        with self.session() as s:
            flows = s.execute(select(_flows.c.id, _flows.c.version, _flows.c.definition)).all()
        out = []
        for flow_id, version, definition in flows:
            own = parse_flow(flow_id, version, definition).retention
            days = (own and own.days) or self._settings.retention_days
            failed = (own and own.failed_days) or self._settings.retention_failed_days
            out.append((flow_id, (float(days), float(failed))))
        return out
