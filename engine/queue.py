"""The run queue: claiming runs under a lease, recording steps, finishing or rescheduling runs.

The runs table is the queue. A claim sets ``status='running'``, the worker's name and a lease
expiry; a run whose lease expired (its worker died) is claimable again. Every write about a run
checks that the writer still holds its lease, so a worker that lost its lease can never overwrite
what the run's new owner records.

On PostgreSQL the claim adds ``FOR UPDATE SKIP LOCKED`` so that workers on many machines never
claim the same run; on SQLite the single writer thread makes claims serial anyway.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.models import EventRow, FlowRow, RunRow, RunStatus, StepRow
from engine.writer import Op

__all__ = [
    "ClaimRuns",
    "ClaimedRun",
    "ExtendLeases",
    "LeaseLost",
    "RecordStep",
    "StepRecord",
]

_runs = RunRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_flows = FlowRow.__table__  # type: ignore[attr-defined]
_steps = StepRow.__table__  # type: ignore[attr-defined]


class LeaseLost(RuntimeError):
    """This worker no longer owns the run (its lease expired and another worker took it)."""


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker now owns, with what it needs to execute it."""

    id: str
    flow_id: str
    event_id: str
    claims: int
    event_body: str
    event_meta: str
    flow_version: int
    flow_definition: str
    flow_name: str


@dataclass(frozen=True)
class Claimed:
    """The result of a claim: runs, and when the next queued run becomes due (if known)."""

    runs: list[ClaimedRun]
    next_due: float | None


@dataclass
class ClaimRuns(Op[Claimed]):
    """Claim up to ``limit`` due runs (queued and due, or running with an expired lease)."""

    owner: str
    limit: int
    lease_seconds: float

    def apply(self, conn: Connection) -> Claimed:
        now = time.time()
        due = or_(
            and_(_runs.c.status == RunStatus.QUEUED, _runs.c.available_at <= now),
            and_(_runs.c.status == RunStatus.RUNNING, _runs.c.lease_expires_at < now),
        )
        pick = select(_runs.c.id).where(due).order_by(_runs.c.available_at).limit(self.limit)
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        claimed = conn.execute(
            update(_runs)
            .where(_runs.c.id.in_(pick.scalar_subquery()))
            .values(
                status=RunStatus.RUNNING,
                lease_owner=self.owner,
                lease_expires_at=now + self.lease_seconds,
                claims=_runs.c.claims + 1,
                started_at=func.coalesce(_runs.c.started_at, now),
            )
            .returning(_runs.c.id, _runs.c.flow_id, _runs.c.event_id, _runs.c.claims)
        ).all()
        next_due = None
        if len(claimed) < self.limit:
            next_due = conn.execute(
                select(func.min(_runs.c.available_at)).where(_runs.c.status == RunStatus.QUEUED)
            ).scalar()
        if not claimed:
            return Claimed([], next_due)
        events = {
            r.id: r
            for r in conn.execute(
                select(_events.c.id, _events.c.body, _events.c.meta).where(
                    _events.c.id.in_([c.event_id for c in claimed])
                )
            )
        }
        flows = {
            r.id: r
            for r in conn.execute(
                select(_flows.c.id, _flows.c.version, _flows.c.definition, _flows.c.name).where(
                    _flows.c.id.in_({c.flow_id for c in claimed})
                )
            )
        }
        runs = []
        for c in claimed:
            event, flow = events[c.event_id], flows.get(c.flow_id)
            runs.append(
                ClaimedRun(
                    id=c.id,
                    flow_id=c.flow_id,
                    event_id=c.event_id,
                    claims=c.claims,
                    event_body=event.body,
                    event_meta=event.meta,
                    flow_version=flow.version if flow else 0,
                    flow_definition=flow.definition if flow else "",
                    flow_name=flow.name if flow else "",
                )
            )
        return Claimed(runs, next_due)


@dataclass
class ExtendLeases(Op[int]):
    """Heartbeat: push back the lease of every run this worker holds."""

    owner: str
    run_ids: list[str]
    lease_seconds: float

    def apply(self, conn: Connection) -> int:
        if not self.run_ids:
            return 0
        result = conn.execute(
            update(_runs)
            .where(
                _runs.c.id.in_(self.run_ids),
                _runs.c.lease_owner == self.owner,
                _runs.c.status == RunStatus.RUNNING,
            )
            .values(lease_expires_at=time.time() + self.lease_seconds)
        )
        return result.rowcount


@dataclass(frozen=True)
class StepRecord:
    """The ledger entry of one step attempt."""

    key: str
    position: int
    status: str  # succeeded | failed | retrying
    attempts: int
    started_at: float
    finished_at: float
    input: Any = None
    output: Any = None
    error: str | None = None


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


@dataclass
class RecordStep(Op[None]):
    """Record a step's outcome and, in the same transaction, what it means for the run.

    ``run_status``: ``None`` keeps the run going (more steps follow); ``succeeded``/``failed``
    finish it; ``queued`` reschedules it at ``available_at`` (a transient error's backoff).
    """

    run_id: str
    owner: str
    lease_seconds: float
    step: StepRecord | None
    run_status: str | None = None
    run_error: str | None = None
    available_at: float | None = None

    def apply(self, conn: Connection) -> None:
        now = time.time()
        values: dict[str, Any] = {"lease_expires_at": now + self.lease_seconds}
        if self.run_status is not None:
            values["status"] = self.run_status
            values["error"] = self.run_error
        if self.run_status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            values.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        elif self.run_status == RunStatus.QUEUED:
            values.update(available_at=self.available_at or now, lease_owner=None)
            values["lease_expires_at"] = None
        owned = conn.execute(
            update(_runs)
            .where(
                _runs.c.id == self.run_id,
                _runs.c.lease_owner == self.owner,
                _runs.c.status == RunStatus.RUNNING,
            )
            .values(**values)
        )
        if owned.rowcount != 1:
            raise LeaseLost(self.run_id)
        if self.step is not None:
            _upsert_step(conn, self.run_id, self.step)


def _upsert_step(conn: Connection, run_id: str, s: StepRecord) -> None:
    row = {
        "run_id": run_id,
        "step_key": s.key,
        "position": s.position,
        "status": s.status,
        "input": _dump(s.input),
        "output": _dump(s.output),
        "error": s.error,
        "attempts": s.attempts,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
    }
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(_steps).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "step_key"],
        set_={k: stmt.excluded[k] for k in row if k not in ("run_id", "step_key")},
    )
    conn.execute(stmt)


def read_ledger(conn: Connection, run_id: str) -> dict[str, Any]:
    """The recorded steps of a run by key (rows with status, attempts, output)."""
    rows = conn.execute(
        select(_steps).where(_steps.c.run_id == bindparam("run_id")), {"run_id": run_id}
    )
    return {r.step_key: r for r in rows}
