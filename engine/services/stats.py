"""Figures for the dashboard and the flows list: runs per hour, failures, the queue.

Finished runs are counted per flow and hour as they finish (``run_stats``, kept by the queue in
the transaction that finishes them), so these figures read a few dozen rows however many runs
the database holds; the queue's depth is read from its index. A replay takes back the failure
it replaces: a run counts once, with its last outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from maillon.engine.models import FlowRow, RunRow, RunStatsRow, RunStatus, stats_hour
from maillon.engine.services.base import Service
from maillon.engine.services.runs import NotDue, not_due, run_state

__all__ = ["Dashboard", "FlowActivity", "HourCount", "Stats"]

DAY = 86_400


@dataclass(frozen=True)
class HourCount:
    """Runs that finished in one hour."""

    hour: int
    succeeded: int = 0
    failed: int = 0
    #: Runs that ended at a filter whose conditions did not hold.
    filtered: int = 0


@dataclass(frozen=True)
class FlowActivity:
    """A flow's recent activity, for the flows list."""

    #: What the last run is doing or did (:func:`~maillon.engine.services.runs.run_state`).
    last_state: str | None = None
    last_at: float | None = None
    #: Runs that finished in the last day.
    runs_24h: int = 0
    failed_24h: int = 0
    filtered_24h: int = 0


@dataclass(frozen=True)
class Dashboard:
    """The last day at a glance."""

    hours: list[HourCount]
    #: (flow id, flow name, failed runs, finished runs) over the last day, most failures first.
    failing: list[tuple[str, str, int, int]] = field(default_factory=list)
    queued: int = 0
    #: Queued runs waiting for a retry's backoff after a transient error (not due yet).
    retrying: int = 0
    #: Queued runs a delay step holds until its time (not due yet).
    waiting: int = 0
    #: The queued run due for the longest: its id and since when it is due (the backlog's
    #: age, as ``/api/queue`` and the metrics give it; runs not due yet are not late).
    oldest_due: tuple[str, float] | None = None
    held: int = 0
    running: int = 0


class Stats(Service):
    """Read-only figures over runs."""

    def __init__(self, db: Engine) -> None:
        super().__init__(db)

    async def activity(self, flow_ids: list[str]) -> dict[str, FlowActivity]:
        """The last run and the last day's counts of each flow."""

        def read() -> dict[str, FlowActivity]:
            since = stats_hour(time.time()) - DAY + 3600
            with self.session() as s:
                counts = _by_flow(_counts_since(s, since))
                # Each flow's newest run id, one look-up of the (flow, id) index per flow, all in
                # one statement: a statement per flow cost a round trip each, most of the flows
                # list's time on PostgreSQL.
                newest = (
                    select(func.max(RunRow.id))
                    .where(col(RunRow.flow_id) == col(FlowRow.id))
                    .correlate(FlowRow)
                    .scalar_subquery()
                )
                found = s.exec(select(newest).where(col(FlowRow.id).in_(flow_ids))).all()
                last_ids = [run_id for run_id in found if run_id is not None]
                last = {
                    run.flow_id: run
                    for run in s.exec(select(RunRow).where(col(RunRow.id).in_(last_ids)))
                }
            out: dict[str, FlowActivity] = {}
            for flow_id in flow_ids:
                ok, ko, held_back = counts.get(flow_id, (0, 0, 0))
                run = last.get(flow_id)
                out[flow_id] = FlowActivity(
                    last_state=run_state(run) if run else None,
                    last_at=run.created_at if run else None,
                    runs_24h=ok + ko + held_back,
                    failed_24h=ko,
                    filtered_24h=held_back,
                )
            return out

        return await self.sync(read)

    async def dashboard(self, failing: int = 5) -> Dashboard:
        """Runs per hour over the last 24 hours, the flows failing most, and the queue."""

        def read() -> Dashboard:
            now = time.time()
            first = stats_hour(now) - DAY + 3600
            with self.session() as s:
                counts = _counts_since(s, first)
                per_flow = _by_flow(counts)
                worst = sorted(
                    (f for f, (_, ko, _) in per_flow.items() if ko), key=lambda f: -per_flow[f][1]
                )
                names = dict(
                    s.exec(select(FlowRow.id, FlowRow.name).where(col(FlowRow.id).in_(worst))).all()
                )
                # Each of these reads the (status, available_at) or (status, id) index.
                states: dict[str, int] = dict(
                    s.exec(
                        select(RunRow.status, func.count())
                        .where(
                            col(RunRow.status).in_(
                                [RunStatus.QUEUED, RunStatus.HELD, RunStatus.RUNNING]
                            )
                        )
                        .group_by(col(RunRow.status))
                    ).all()
                )
                waiting = {
                    reason: s.exec(
                        select(func.count()).select_from(RunRow).where(not_due(reason, now))
                    ).one()
                    for reason in NotDue
                }
                oldest = s.exec(
                    select(RunRow.id, RunRow.available_at)
                    .where(RunRow.status == RunStatus.QUEUED, col(RunRow.available_at) <= now)
                    .order_by(col(RunRow.available_at))
                    .limit(1)
                ).first()
            by_hour = {h: [0, 0, 0] for h in range(first, first + DAY, 3600)}
            for _, hour, *row in counts:
                if hour in by_hour:  # not an hour ahead of this machine's clock
                    by_hour[hour] = [a + b for a, b in zip(by_hour[hour], row, strict=True)]
            return Dashboard(
                hours=[HourCount(h, *row) for h, row in by_hour.items()],
                # Flows deleted since are left out.
                failing=[
                    (f, names[f], per_flow[f][1], sum(per_flow[f][:2])) for f in worst if f in names
                ][:failing],
                queued=int(states.get(RunStatus.QUEUED, 0)),
                retrying=waiting[NotDue.RETRYING],
                waiting=waiting[NotDue.WAITING],
                oldest_due=(oldest[0], oldest[1]) if oldest else None,
                held=int(states.get(RunStatus.HELD, 0)),
                running=int(states.get(RunStatus.RUNNING, 0)),
            )

        return await self.sync(read)


def _counts_since(s: Session, first: int) -> list[tuple[str, int, int, int, int]]:
    """Every (flow, hour, succeeded, failed, filtered) count from the hour ``first`` on.

    Read through the hour index and summed by the caller: grouped by flow in SQL, SQLite's
    planner walked the (flow, hour) key instead, which is all of history, to spare a sort.
    """
    rows = s.exec(select(RunStatsRow).where(col(RunStatsRow.hour) >= first))
    return [(r.flow_id, r.hour, r.succeeded, r.failed, r.filtered) for r in rows]


def _by_flow(
    counts: list[tuple[str, int, int, int, int]],
) -> dict[str, tuple[int, int, int]]:
    """(succeeded, failed, filtered) per flow, summed over the hours of ``counts``."""
    sums: dict[str, tuple[int, int, int]] = {}
    for flow_id, _, ok, ko, fi in counts:
        before = sums.get(flow_id, (0, 0, 0))
        sums[flow_id] = (before[0] + ok, before[1] + ko, before[2] + fi)
    return sums
