"""The run queue: claiming runs under a lease, recording steps, finishing or rescheduling runs.

The runs table is the queue. A claim sets ``status='running'``, the worker's name and a lease
expiry; a run whose lease expired (its worker died) is claimable again. Every write about a run
checks that the writer still holds its lease, so a worker that lost its lease can never overwrite
what the run's new owner records.

On PostgreSQL the claim adds ``FOR UPDATE SKIP LOCKED`` so that workers on many machines never
claim the same run; on SQLite the single writer thread makes claims serial anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)

from maillon.engine.db import driver_execute, driver_insert, driver_query, storable
from maillon.engine.failures import Failure, record_failure, reset_failures
from maillon.engine.i18n import DEFAULT_LOCALE, ngettext, use_locale
from maillon.engine.models import (
    FINISHED_STATUSES,
    EventRow,
    FlowRow,
    FlowVersionRow,
    RunRow,
    RunStatus,
    StepRow,
    StepStatus,
    stats_hour,
)
from maillon.engine.writer import Op

__all__ = [
    "ClaimRuns",
    "ClaimedRun",
    "ExtendLeases",
    "LeaseLost",
    "RecordStep",
    "StepRecord",
]

log = logging.getLogger(__name__)

_runs = RunRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_flows = FlowRow.__table__  # type: ignore[attr-defined]
_versions = FlowVersionRow.__table__  # type: ignore[attr-defined]
_steps = StepRow.__table__  # type: ignore[attr-defined]


# The queue's statements are built once, with bind parameters. Building them per call (and
# SQLAlchemy's cache key walk over a fresh statement) cost the writer thread more Python per
# claim than executing them.

#: When the earliest queued run becomes due (``None``: nothing is queued).
_NEXT_DUE = select(func.min(_runs.c.available_at)).where(_runs.c.status == RunStatus.QUEUED)

#: The version a run executes: its own. A run without one (0) was queued by a process of an
#: older Maillon still running during a rolling upgrade: it takes the published version, as
#: that process meant.
_RUN_VERSION = func.coalesce(func.nullif(_runs.c.flow_version, 0), _flows.c.version)

#: What the executor needs of claimed runs (event, flow) and when the next queued run is due.
#: The definition is the run's own version's, never the flow's current one: a publish while
#: runs wait changes none of them. A deleted flow's run finds no definition (its versions went
#: with it), and fails. A published version with no row in ``flow_versions`` was saved by a
#: process of an older Maillon during a rolling upgrade (it knows only ``flows``): the flow's
#: own definition is that version's.
_CLAIMED_DETAILS = (
    select(
        _runs.c.id,
        _events.c.body,
        _events.c.meta,
        _events.c.source,
        _RUN_VERSION.label("flow_version"),
        func.coalesce(
            _versions.c.definition,
            case((_flows.c.version == _RUN_VERSION, _flows.c.definition)),
        ).label("definition"),
        _flows.c.name,
        _NEXT_DUE.scalar_subquery().label("next_due"),
    )
    .select_from(
        _runs.join(_events, _events.c.id == _runs.c.event_id)
        .outerjoin(_flows, _flows.c.id == _runs.c.flow_id)
        .outerjoin(
            _versions,
            and_(_versions.c.flow_id == _flows.c.id, _versions.c.version == _RUN_VERSION),
        )
    )
    .where(_runs.c.id.in_(bindparam("ids", expanding=True)))
)

_claims: dict[tuple[str, bool], Any] = {}


def _claim_statement(dialect: str, *, expired: bool) -> Any:
    """Take up to ``:limit`` runs for ``:owner``: runs whose lease expired (``expired``), or
    queued runs that are due, the earliest due first.

    Two statements rather than one with ``OR``: with the ``OR``, both databases read and sorted
    every due run to return the first ``:limit`` (a backlog of 30,000 runs cost 17 ms a claim
    on PostgreSQL, and more as it grew, just when workers must drain it); each of these walks
    the queue index in order and stops at ``:limit``. Runs in progress are few, so the first is
    a short read.
    """
    stmt = _claims.get((dialect, expired))
    if stmt is None:
        now = bindparam("now", type_=Float)
        if expired:
            # In no order: the runs in progress are few, and any of them may go first.
            due = and_(_runs.c.status == RunStatus.RUNNING, _runs.c.lease_expires_at < now)
            pick = select(_runs.c.id).where(due)
        else:
            due = and_(_runs.c.status == RunStatus.QUEUED, _runs.c.available_at <= now)
            pick = select(_runs.c.id).where(due).order_by(_runs.c.available_at)
        pick = pick.limit(bindparam("limit", type_=Integer))
        if dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        stmt = _claims[(dialect, expired)] = (
            update(_runs)
            .where(_runs.c.id.in_(pick.scalar_subquery()))
            .values(
                status=RunStatus.RUNNING,
                lease_owner=bindparam("owner"),
                lease_expires_at=bindparam("expires"),
                claims=_runs.c.claims + 1,
                # The status before this claim: a run still "running" had its lease expire.
                takeovers=_runs.c.takeovers
                + case((_runs.c.status == RunStatus.RUNNING, 1), else_=0),
                started_at=func.coalesce(_runs.c.started_at, now),
            )
            .returning(
                _runs.c.id, _runs.c.flow_id, _runs.c.event_id, _runs.c.claims, _runs.c.takeovers
            )
        )
    return stmt


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
    #: What delivered the event: ``webhook``, ``<app>:<event>``, ``schedule``, ``digest``.
    event_source: str = ""


@dataclass(frozen=True)
class Claimed:
    """The result of a claim: runs, and when the next queued run becomes due (if known)."""

    runs: list[ClaimedRun]
    next_due: float | None


def _poisoned(count: int) -> str:
    """Why a run taken over ``count`` times is not run again."""
    return ngettext(
        "poison run: claimed again %(num)s time after its lease expired (its worker died or "
        "could not record a step); stopped so that it cannot run for ever. Replay it once the "
        "cause is fixed",
        "poison run: claimed again %(num)s times after its lease expired (its worker died or "
        "could not record a step each time); stopped so that it cannot run for ever. Replay it "
        "once the cause is fixed",
        count,
    )


@dataclass
class ClaimRuns(Op[Claimed]):
    """Claim up to ``limit`` due runs (queued and due, or running with an expired lease).

    A run taken over more than ``max_takeovers`` times is a poison run: it fails, with the
    reason, instead of being handed out again (a run that crashes its worker, or whose steps
    cannot be recorded, would otherwise be run after every lease expiry, for ever).
    """

    owner: str
    limit: int
    lease_seconds: float
    max_takeovers: int = 3
    #: The install's language, which the reason is written in.
    locale: str = DEFAULT_LOCALE

    def apply(self, conn: Connection) -> Claimed:
        now = time.time()
        params = {"now": now, "owner": self.owner, "expires": now + self.lease_seconds}
        claimed: list[Row[Any]] = []
        for expired in (True, False):
            if len(claimed) < self.limit:
                stmt = _claim_statement(conn.dialect.name, expired=expired)
                params["limit"] = self.limit - len(claimed)
                claimed += conn.execute(stmt, params).all()
        poisoned = [c for c in claimed if c.takeovers > self.max_takeovers]
        if poisoned:
            with use_locale(self.locale):
                reasons = {c.id: _poisoned(c.takeovers) for c in poisoned}
            for c in poisoned:
                values = {
                    "status": RunStatus.FAILED,
                    "error": reasons[c.id],
                    "finished_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
                _update_runs(conn, self.owner, values, [c.id])
                log.error("run %s: %s", c.id, values["error"])
            _count_finished(conn, [(c.flow_id, RunStatus.FAILED) for c in poisoned], now)
            claimed = [c for c in claimed if c.takeovers <= self.max_takeovers]
        if not claimed:
            return Claimed([], conn.execute(_NEXT_DUE).scalar())
        # One read for what the executor needs (event, flow) and for when the next queued run is
        # due: each statement costs the writer a round of the GIL with the busy event loop.
        rows = conn.execute(_CLAIMED_DETAILS, {"ids": [c.id for c in claimed]}).all()
        details = {r.id: r for r in rows}
        next_due = rows[0].next_due if rows and len(claimed) < self.limit else None
        runs = []
        for c in claimed:
            d = details[c.id]
            runs.append(
                ClaimedRun(
                    id=c.id,
                    flow_id=c.flow_id,
                    event_id=c.event_id,
                    claims=c.claims,
                    event_body=d.body,
                    event_meta=d.meta,
                    flow_version=d.flow_version if d.definition is not None else 0,
                    flow_definition=d.definition or "",
                    flow_name=d.name or "",
                    event_source=d.source,
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
    status: StepStatus
    attempts: int
    started_at: float
    finished_at: float
    input: Any = None
    output: Any = None
    error: str | None = None
    #: What the connector said besides the message (remote status code, error code).
    details: dict[str, object] | None = None


def _dump(value: Any) -> str | None:
    # Outputs are JSON-ready already; ``str`` covers what an action returns outside a model.
    if value is None:
        return None
    try:
        return msgspec.json.encode(value, enc_hook=str).decode()
    except UnicodeEncodeError:
        # A lone surrogate in a string (from a remote answer) cannot be encoded: store the
        # value with it replaced rather than fail to record the step.
        return msgspec.json.encode(_storable_value(value), enc_hook=str).decode()


def _storable_value(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_value(v) for v in value]
    return value


@dataclass
class RecordStep(Op[int]):
    """Record a step's outcome and, in the same transaction, what it means for the run.

    ``run_status``: ``None`` keeps the run going (more steps follow); ``succeeded``,
    ``failed`` or ``filtered`` finish it; ``queued`` reschedules it at ``available_at`` (a
    transient error's backoff, a delay). ``also``: records of earlier steps written with it.
    A failed run comes with its ``failure``, which sets off error flows, alerts and auto-pause
    in the same transaction (:mod:`maillon.engine.failures`); a success ends the flow's
    failures in a row. The result: how many runs the op queued (error flows' runs).
    """

    run_id: str
    owner: str
    lease_seconds: float
    step: StepRecord | None
    run_status: RunStatus | None = None
    run_error: str | None = None
    available_at: float | None = None
    failure: Failure | None = None
    also: tuple[StepRecord, ...] = ()

    @property
    def records(self) -> list[StepRecord]:
        """Every step record this op writes, in order."""
        return [*self.also, self.step] if self.step is not None else list(self.also)

    def _run_values(self, now: float) -> dict[str, Any]:
        values: dict[str, Any] = {"lease_expires_at": now + self.lease_seconds}
        if self.run_status is not None:
            values["status"] = self.run_status
            values["error"] = None if self.run_error is None else storable(self.run_error)
        if self.run_status in FINISHED_STATUSES:
            values.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        elif self.run_status == RunStatus.QUEUED:
            values.update(available_at=self.available_at or now, lease_owner=None)
            values["lease_expires_at"] = None
        return values

    def apply(self, conn: Connection) -> int:
        now = time.time()
        owned = _update_runs(conn, self.owner, self._run_values(now), [self.run_id])
        if not owned:
            raise LeaseLost(self.run_id)
        _count_finished(conn, [(flow_id, self.run_status) for _, flow_id in owned], now)
        _write_steps(conn, [_step_row(self.run_id, s) for s in self.records])
        return _consequences(conn, [(self, owned[0][1])], now).get(self.run_id, 0)

    @classmethod
    def apply_many(cls, conn: Connection, ops: list[Op[Any]]) -> list[Any]:
        """All the records of a batch in a few statements, not four per op.

        Runs whose updates are alike (the common case: runs that just succeeded) are updated by
        one ``UPDATE ... WHERE id IN (...) RETURNING id``: a run missing from what it returns
        lost its lease, and its step is not written. The step rows then go in one upsert. An
        error undoes them all, and the writer then records them one by one, so that one bad op
        fails alone.
        """
        records: list[RecordStep] = ops  # type: ignore[assignment]
        if len(records) > 1 and len({r.run_id for r in records}) == len(records):
            return _record_many(conn, records)
        return super().apply_many(conn, ops)


def _record_many(conn: Connection, records: list[RecordStep]) -> list[Any]:
    now = time.time()
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[str]]] = {}
    for r in records:
        values = r._run_values(now)
        key = (r.owner, *sorted(values.items()))
        groups.setdefault(key, (values, []))[1].append(r.run_id)
    owned: dict[str, str] = {}  # run id → flow id
    finished: list[tuple[str, RunStatus | None]] = []
    for (owner, *_), (values, run_ids) in groups.items():
        updated = _update_runs(conn, owner, values, run_ids)
        owned.update(updated)
        finished.extend((flow_id, values.get("status")) for _, flow_id in updated)
    _count_finished(conn, finished, now)
    _write_steps(
        conn, [_step_row(r.run_id, s) for r in records if r.run_id in owned for s in r.records]
    )
    queued = _consequences(conn, [(r, owned[r.run_id]) for r in records if r.run_id in owned], now)
    return [queued.get(r.run_id, 0) if r.run_id in owned else LeaseLost(r.run_id) for r in records]


def _consequences(
    conn: Connection, done: list[tuple[RecordStep, str]], now: float
) -> dict[str, int]:
    """What recorded runs (with their flow id) set off: a failure's error flows, alert and
    auto-pause; a success ends its flow's failures in a row. Returns the runs each queued."""
    queued: dict[str, int] = {}
    succeeded = []
    for record, flow_id in done:
        if record.failure is not None and record.run_status == RunStatus.FAILED:
            queued[record.run_id] = record_failure(
                conn, record.run_id, flow_id, record.failure, now
            )
        elif record.run_status == RunStatus.SUCCEEDED:
            succeeded.append(flow_id)
    reset_failures(conn, succeeded)
    return queued


@lru_cache(maxsize=256)
def _update_runs_sql(shape: tuple[str, ...], count: int) -> str:
    sets = ", ".join(f"{column} = ?" for column in shape)
    ids = ",".join("?" * count)
    return (
        f"UPDATE runs SET {sets} WHERE lease_owner = ? AND status = ? AND id IN ({ids}) "
        "RETURNING id, flow_id"
    )


def _update_runs(
    conn: Connection, owner: str, values: dict[str, Any], run_ids: list[str]
) -> list[tuple[str, str]]:
    """Set ``values`` on the runs that ``owner`` still holds; return their (id, flow id).

    On the driver's cursor (:func:`~maillon.engine.db.driver_query`), as are the step rows: a
    run's last step and its end are written on every run, and SQLAlchemy Core's per-statement
    work (compiling, caching keys, processing each parameter) cost the writer thread as much
    as SQLite's own.
    """
    shape = tuple(sorted(values))
    sql = _update_runs_sql(shape, len(run_ids))
    params = [*(values[column] for column in shape), owner, RunStatus.RUNNING, *run_ids]
    return [(run_id, flow_id) for run_id, flow_id in driver_query(conn, sql, params)]


#: The column of run_stats that counts each.
_COUNTED = {RunStatus.SUCCEEDED: 0, RunStatus.FAILED: 1, RunStatus.FILTERED: 2}

_COUNT_FINISHED = (
    "INSERT INTO run_stats (flow_id, hour, succeeded, failed, filtered) VALUES {rows} "
    "ON CONFLICT (flow_id, hour) DO UPDATE SET succeeded = run_stats.succeeded + "
    "excluded.succeeded, failed = run_stats.failed + excluded.failed, "
    "filtered = run_stats.filtered + excluded.filtered"
)


def _count_finished(
    conn: Connection, finished: list[tuple[str, RunStatus | None]], now: float
) -> None:
    """Add runs that just finished to their flow's hourly counts (the dashboard's figures).

    Kept as counters in the same transaction, so that the figures of the last day cost a few
    dozen rows to read however many runs there were.
    """
    hour = stats_hour(now)
    counts: dict[str, list[int]] = {}
    for flow_id, status in finished:
        column = _COUNTED.get(status) if status is not None else None
        if column is not None:
            counts.setdefault(flow_id, [0, 0, 0])[column] += 1
    if counts:
        sql = _COUNT_FINISHED.format(rows=",".join(["(?,?,?,?,?)"] * len(counts)))
        params = [v for flow_id, row in counts.items() for v in (flow_id, hour, *row)]
        driver_execute(conn, sql, params)


_STEP_COLUMNS = (
    "run_id",
    "step_key",
    "position",
    "status",
    "input",
    "output",
    "error",
    "details",
    "attempts",
    "started_at",
    "finished_at",
)
# A step recorded again (a retried attempt, a run taken over) replaces its earlier record.
_STEPS_CONFLICT = "(run_id, step_key) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in _STEP_COLUMNS[2:]
)


def _write_steps(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Upsert step rows (:data:`_STEP_COLUMNS` order); of two rows for the same step, the
    later is the one kept, as if written one after the other."""
    unique = {(row[0], row[1]): row for row in rows}
    driver_insert(conn, "steps", _STEP_COLUMNS, list(unique.values()), _STEPS_CONFLICT)


def _step_row(run_id: str, s: StepRecord) -> tuple[Any, ...]:
    """A row of ``steps`` in :data:`_STEP_COLUMNS` order."""
    return (
        run_id,
        s.key,
        s.position,
        s.status,
        _dump(s.input),
        _dump(s.output),
        None if s.error is None else storable(s.error),
        _dump(s.details),
        s.attempts,
        s.started_at,
        s.finished_at,
    )


def read_ledger(conn: Connection, run_id: str) -> dict[str, Any]:
    """The recorded steps of a run by key (rows with status, attempts, output)."""
    rows = conn.execute(
        select(_steps).where(_steps.c.run_id == bindparam("run_id")), {"run_id": run_id}
    )
    return {r.step_key: r for r in rows}
