"""Figures for the dashboard and the flows list: runs per hour, failures, the queue.

Finished runs are counted per flow and hour as they finish (``run_stats``, kept by the queue in
the transaction that finishes them), so these figures read a few dozen rows however many runs
the database holds; the queue's depth is read from its index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import col, select

from maillon.engine.models import FlowRow, RunRow, RunStatsRow, RunStatus
from maillon.engine.services.base import Service

__all__ = ["Dashboard", "FlowActivity", "HourCount", "Stats"]

DAY = 86_400


@dataclass(frozen=True)
class HourCount:
    """Runs that finished in one hour."""

    hour: int
    succeeded: int = 0
    failed: int = 0


@dataclass(frozen=True)
class FlowActivity:
    """A flow's recent activity, for the flows list."""

    last_status: RunStatus | None = None
    last_at: float | None = None
    runs_24h: int = 0
    failed_24h: int = 0


@dataclass(frozen=True)
class Dashboard:
    """The last day at a glance."""

    hours: list[HourCount]
    #: (flow id, flow name, failed runs, finished runs) over the last day, most failures first.
    failing: list[tuple[str, str, int, int]] = field(default_factory=list)
    queued: int = 0
    #: Queued runs waiting for a retry's backoff after a transient error (not due yet).
    retrying: int = 0
    #: The oldest queued run: its id and when it was created.
    oldest_queued: tuple[str, float] | None = None
    held: int = 0
    running: int = 0


class Stats(Service):
    """Read-only figures over runs."""

    def __init__(self, db: Engine) -> None:
        super().__init__(db)

    async def activity(self, flow_ids: list[str]) -> dict[str, FlowActivity]:
        """The last run and the last day's counts of each flow."""

        def read() -> dict[str, FlowActivity]:
            since = _hour(time.time()) - DAY + 3600
            with self.session() as s:
                counts = {
                    flow_id: (ok, ko)
                    for flow_id, ok, ko in s.exec(
                        select(
                            RunStatsRow.flow_id,
                            func.sum(RunStatsRow.succeeded),
                            func.sum(RunStatsRow.failed),
                        )
                        .where(col(RunStatsRow.hour) >= since)
                        .group_by(col(RunStatsRow.flow_id))
                    )
                }
                out: dict[str, FlowActivity] = {}
                for flow_id in flow_ids:
                    # One look-up of the (flow, id) index per flow.
                    last = s.exec(
                        select(RunRow.status, RunRow.created_at)
                        .where(RunRow.flow_id == flow_id)
                        .order_by(col(RunRow.id).desc())
                        .limit(1)
                    ).first()
                    ok, ko = counts.get(flow_id, (0, 0))
                    out[flow_id] = FlowActivity(
                        last_status=RunStatus(last[0]) if last else None,
                        last_at=last[1] if last else None,
                        runs_24h=int(ok or 0) + int(ko or 0),
                        failed_24h=int(ko or 0),
                    )
            return out

        return await self.sync(read)

    async def dashboard(self, failing: int = 5) -> Dashboard:
        """Runs per hour over the last 24 hours, the flows failing most, and the queue."""

        def read() -> Dashboard:
            now = time.time()
            first = _hour(now) - DAY + 3600
            with self.session() as s:
                rows = s.exec(
                    select(
                        RunStatsRow.hour,
                        func.sum(RunStatsRow.succeeded),
                        func.sum(RunStatsRow.failed),
                    )
                    .where(col(RunStatsRow.hour) >= first)
                    .group_by(col(RunStatsRow.hour))
                ).all()
                worst = s.exec(
                    select(
                        RunStatsRow.flow_id,
                        FlowRow.name,
                        func.sum(RunStatsRow.failed),
                        func.sum(RunStatsRow.succeeded + RunStatsRow.failed),
                    )
                    .join(FlowRow, col(FlowRow.id) == col(RunStatsRow.flow_id))
                    .where(col(RunStatsRow.hour) >= first)
                    .group_by(col(RunStatsRow.flow_id), col(FlowRow.name))
                    .having(func.sum(RunStatsRow.failed) > 0)
                    .order_by(func.sum(RunStatsRow.failed).desc())
                    .limit(failing)
                ).all()
                # Each of these reads the (status, available_at) or (status, id) index.
                counts: dict[str, int] = dict(
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
                retrying = s.exec(
                    select(func.count())
                    .select_from(RunRow)
                    .where(RunRow.status == RunStatus.QUEUED, col(RunRow.available_at) > now)
                ).one()
                oldest = s.exec(
                    select(RunRow.id, RunRow.created_at)
                    .where(RunRow.status == RunStatus.QUEUED)
                    .order_by(col(RunRow.id))
                    .limit(1)
                ).first()
            by_hour = {int(h): (int(ok or 0), int(ko or 0)) for h, ok, ko in rows}
            hours = [HourCount(h, *by_hour.get(h, (0, 0))) for h in range(first, first + DAY, 3600)]
            return Dashboard(
                hours=hours,
                failing=[(f, n, int(ko or 0), int(total or 0)) for f, n, ko, total in worst],
                queued=int(counts.get(RunStatus.QUEUED, 0)),
                retrying=int(retrying),
                oldest_queued=(oldest[0], oldest[1]) if oldest else None,
                held=int(counts.get(RunStatus.HELD, 0)),
                running=int(counts.get(RunStatus.RUNNING, 0)),
            )

        return await self.sync(read)


def _hour(ts: float) -> int:
    return int(ts // 3600) * 3600
