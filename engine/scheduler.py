"""The scheduler: fires the ticks of flows' schedules through the same durable path as a hook.

One per process that asks for it (``maillon serve``; ``maillon worker --scheduler``). APScheduler
computes when each schedule is due and calls back at its ticks; what a tick does is this
module's: a ``schedule`` trigger's tick is stored by intake like a delivery (:class:`Tick`,
keyed by (flow, tick time)), a digest's release tick releases it (:class:`ReleaseDigest`, keyed
the same way). The keys are what makes several schedulers on one database safe: each fires
every tick, and the database keeps one.

**What to schedule** is read from the flows table, so that a change made by any process
reaches every scheduler: each reads it again every ``sync_interval`` seconds, and at once when
its own process changed a flow (the ``changes`` signal), or another one did on PostgreSQL
(relayed by ``NOTIFY``, see :class:`~maillon.engine.wakeup.PgWakeups`).

A schedule seen for the first time (at start, or after an edit) first looks back: the latest
tick due since the schedule last ran (or since the flow was last saved or switched on) and not
yet stored is **late** if it is at most ``grace`` seconds old (it runs), else **missed**, and
the flow's ``missed`` policy says whether it runs once (``run_once``) or not at all
(``skip``). A tick APScheduler delivers more than
``grace`` seconds late (the process was suspended) is missed likewise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, select

from maillon.engine.digests import ReleaseDigest, digest_dedup_scope
from maillon.engine.flows import parse_flow
from maillon.engine.intake import Tick, schedule_dedup_scope
from maillon.engine.models import FlowRow
from maillon.engine.schedules import Schedule, ScheduleTrigger, latest_tick
from maillon.engine.ticks import last_tick
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Writer

__all__ = ["Planned", "Scheduler", "planned_schedules"]

log = logging.getLogger(__name__)

_flows = FlowRow.__table__  # type: ignore[attr-defined]

Purpose = Literal["trigger", "digest"]


@dataclass(frozen=True)
class Planned:
    """One schedule of an enabled flow: its trigger's, or its digest's release."""

    flow_id: str
    purpose: Purpose
    schedule: Schedule
    #: The flow's version: a new one replaces the job.
    version: int
    #: When the flow was last saved or switched on: ticks before it were never due.
    since: float
    #: The digest's name (releases only).
    digest: str = ""

    @property
    def job_id(self) -> str:
        return f"{self.flow_id}:{self.purpose}"

    @property
    def scope(self) -> str:
        """Where this schedule's ticks are stored (the dedup scope of their events)."""
        if self.purpose == "trigger":
            return schedule_dedup_scope(self.flow_id)
        return digest_dedup_scope(self.flow_id)


def planned_schedules(flow_id: str, version: int, definition: str, since: float) -> list[Planned]:
    """The schedules of one enabled flow (none, one or two)."""
    spec = parse_flow(flow_id, version, definition)
    planned = []
    if isinstance(spec.trigger, ScheduleTrigger):
        planned.append(Planned(flow_id, "trigger", spec.trigger, version, since))
    if spec.digest is not None and spec.digest.release.defined:
        release = spec.digest.release
        planned.append(Planned(flow_id, "digest", release, version, since, spec.digest.name))
    return planned


class _TickExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands each due job to :meth:`Scheduler._fire_due` with the ticks it is due for.

    APScheduler 3 calls a job's function without its scheduled time; an executor receives
    it (``run_times``: every tick due, when the loop was too busy to fire them one by one), and
    the tick's time is the key it is stored under, so the executor is where ticks are taken.
    """

    def __init__(self, fire: Callable[[str, list[float]], Coroutine[Any, Any, None]]) -> None:
        super().__init__()
        self._fire = fire
        self._tasks: set[asyncio.Task[None]] = set()

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        ticks = [t.timestamp() for t in run_times]
        task = asyncio.get_running_loop().create_task(self._fire(job.id, ticks))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is None:
                self._run_job_success(job.id, [])
            else:
                self._run_job_error(job.id, error, error.__traceback__)

        task.add_done_callback(done)

    async def drain(self) -> None:
        """Wait for the ticks being stored."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))


class Scheduler:
    """Keeps APScheduler's jobs in line with the enabled flows' schedules, and fires ticks."""

    def __init__(
        self,
        *,
        engine: Engine,
        writer: Writer,
        wakeup: Wakeup,
        changes: Wakeup,
        sync_interval: float,
        grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._wakeup = wakeup
        self._changes = changes
        self._sync_interval = sync_interval
        self._grace = grace
        #: The time missed ticks are reckoned at (injectable, so that a test can be days late).
        self._clock = clock
        self._planned: dict[str, Planned] = {}
        #: The version of every enabled flow read so far, with or without a schedule.
        self._versions: dict[str, int] = {}
        self._aps: AsyncIOScheduler | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Fire ticks until ``stop`` is set, reading the schedules again on every change."""
        changed = self._changes.register()
        executor = _TickExecutor(self._fire_due)
        self._aps = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            timezone=dt.UTC,
            executors={"default": executor},
            # Every due tick reaches _fire_due, which judges late and missed ones: APScheduler
            # drops none, and coalesces none (a busy second would lose a tick).
            job_defaults={"coalesce": False, "max_instances": 3, "misfire_grace_time": None},
        )
        self._aps.start()
        try:
            while not stop.is_set():
                changed.clear()
                try:
                    await self.reconcile()
                except Exception:
                    log.exception("reading the schedules failed; trying again shortly")
                waiters = [
                    asyncio.ensure_future(changed.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=self._sync_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for w in waiters:
                    w.cancel()
        finally:
            self._changes.unregister(changed)
            self._aps.shutdown(wait=False)
            self._aps = None
            self._planned.clear()
            self._versions.clear()
            await executor.drain()

    async def reconcile(self) -> None:
        """Bring the jobs in line with the flows: add, replace and remove; look back for the
        ticks of schedules seen for the first time."""
        wanted, self._versions = await anyio.to_thread.run_sync(self._read)
        for job_id in [j for j in self._planned if j not in wanted]:
            self._remove(job_id)
        for job_id, plan in wanted.items():
            current = self._planned.get(job_id)
            if current is not None and current.version == plan.version:
                continue
            if current is not None:
                self._remove(job_id)
            self._add(plan)
            await self._look_back(plan)

    def _read(self) -> tuple[dict[str, Planned], dict[str, int]]:
        """The schedules of the enabled flows, and their versions; definitions are read only
        for flows switched on or edited since the last read."""
        wanted: dict[str, Planned] = {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_flows.c.id, _flows.c.version, _flows.c.updated_at).where(
                    _flows.c.enabled.is_(True)
                )
            ).all()
            fresh = [r.id for r in rows if self._versions.get(r.id) != r.version]
            definitions: dict[str, str] = {}
            if fresh:
                q = select(_flows.c.id, _flows.c.definition).where(_flows.c.id.in_(fresh))
                definitions = {r.id: r.definition for r in conn.execute(q)}
        for r in rows:
            if r.id in definitions:
                plans = planned_schedules(r.id, r.version, definitions[r.id], r.updated_at)
            else:
                plans = [p for p in self._planned.values() if p.flow_id == r.id]
            wanted.update((p.job_id, p) for p in plans)
        return wanted, {r.id: r.version for r in rows}

    def _add(self, plan: Planned) -> None:
        assert self._aps is not None
        self._aps.add_job(_unused, plan.schedule.trigger(), id=plan.job_id, name=plan.job_id)
        self._planned[plan.job_id] = plan

    def _remove(self, job_id: str) -> None:
        assert self._aps is not None
        self._planned.pop(job_id, None)
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    def _last_tick(self, plan: Planned) -> float | None:
        with self._engine.connect() as conn:
            return last_tick(conn, plan.scope)

    async def _look_back(self, plan: Planned) -> None:
        """Fire the latest tick due since the schedule last ran, if it is late or its flow
        runs missed ticks once."""
        last = await anyio.to_thread.run_sync(self._last_tick, plan)
        since = max(plan.since, last) if last is not None else plan.since
        tick = latest_tick(plan.schedule, since, self._clock())
        if tick is not None:
            await self._fire(plan.job_id, tick)

    async def _fire_due(self, job_id: str, ticks: list[float]) -> None:
        """The ticks of a job found due together, oldest first: each late one runs; missed ones
        are one missed tick, the latest (when no late one runs)."""
        now = self._clock()
        late = [tick for tick in ticks if now - tick <= self._grace]
        for tick in late or ticks[-1:]:
            await self._fire(job_id, tick)

    async def _fire(self, job_id: str, tick: float) -> None:
        """Store one tick (once, whichever scheduler fires it), unless it is missed and its
        flow skips missed ticks."""
        plan = self._planned.get(job_id)
        if plan is None:
            return  # removed since APScheduler took it
        missed = self._clock() - tick > self._grace
        if missed and plan.schedule.missed == "skip":
            log.info("%s: tick %s missed; skipped as the flow says", job_id, tick)
            return
        try:
            if plan.purpose == "trigger":
                await self._tick(plan, tick, missed)
            else:
                await self._release(plan, tick)
        except LookupError:
            log.debug("%s: tick %s for a flow no longer scheduled", job_id, tick)

    async def _tick(self, plan: Planned, tick: float, missed: bool) -> None:
        op = Tick.of(plan.flow_id, plan.schedule, tick, missed=missed)
        accepted = await self._writer.submit(op)
        if not accepted.duplicate and accepted.run_ids:
            self._wakeup.notify()

    async def _release(self, plan: Planned, tick: float) -> None:
        released = await self._writer.submit(
            ReleaseDigest(plan.flow_id, plan.digest, "schedule", tick)
        )
        if released.run_id is not None and not released.held:
            self._wakeup.notify()


def _unused() -> None:
    """APScheduler wants a function per job; :class:`_TickExecutor` never calls it."""
