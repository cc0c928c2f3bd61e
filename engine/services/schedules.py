"""Time in flows: when a flow's schedule fires next, what its digest holds; running a scheduled
flow and releasing its digest by hand.

The ticks themselves are fired by :mod:`maillon.engine.scheduler` in the processes that run
one; this service answers any process (the CLI's included) from the flow's definition and the
database alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from maillon.engine.digests import DigestSpec, Released, ReleaseDigest, pending_items
from maillon.engine.errors import Conflict
from maillon.engine.flows import parse_flow
from maillon.engine.i18n import gettext as _
from maillon.engine.intake import NotScheduled, Tick
from maillon.engine.scheduler import planned_schedules
from maillon.engine.schedules import Schedule, next_tick
from maillon.engine.services.base import Actor, Service, actor_name, find_flow
from maillon.engine.ticks import last_tick
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Writer

__all__ = ["FlowTiming", "RunStarted", "Schedules"]


@dataclass(frozen=True)
class FlowTiming:
    """A flow's schedule and digest as they stand; times are epoch seconds."""

    flow_id: str
    enabled: bool
    #: The ``schedule`` trigger, if the flow has one.
    schedule: Schedule | None = None
    #: When it fires next (``None`` while the flow is off).
    next_tick: float | None = None
    #: The latest tick stored.
    last_tick: float | None = None
    digest: DigestSpec | None = None
    #: Items waiting for the digest's release (also counted for a flow whose digest was
    #: removed, until they are released).
    waiting: int = 0
    #: When the digest's schedule releases it next (``None``: not on a schedule, or off).
    next_release: float | None = None
    #: How many steps the published version has (at its top level).
    steps: int = 0

    @property
    def runs_by_hand(self) -> bool:
        """Whether :meth:`Schedules.run_now` takes the flow: on a schedule, with steps, and
        no digest (its ticks would only add to the digest: releasing it runs the steps)."""
        return self.schedule is not None and self.steps > 0 and self.digest is None


@dataclass(frozen=True)
class RunStarted:
    """A run started by hand: the tick's event, its run, and whether the run is held (the
    flow is off)."""

    event_id: str
    run_id: str
    held: bool


class Schedules(Service):
    """Read a flow's timing; run a scheduled flow and release its digest by hand."""

    def __init__(self, db: Engine, writer: Writer, wakeup: Wakeup) -> None:
        super().__init__(db)
        self._writer = writer
        self._wakeup = wakeup

    async def timing(self, ref: str) -> FlowTiming:
        """The timing of one flow (by id or name)."""
        return await self.sync(self._timing, ref, time.time())

    def _timing(self, ref: str, now: float) -> FlowTiming:
        with self.session() as s:
            row = find_flow(s, ref)
            spec = parse_flow(row.id, row.version, row.definition)
            plans = {
                p.purpose: p
                for p in planned_schedules(row.id, row.version, row.definition, row.updated_at)
            }
            conn = s.connection()
            trigger = plans.get("trigger")
            release = plans.get("digest")
            return FlowTiming(
                flow_id=row.id,
                enabled=row.enabled,
                schedule=trigger.schedule if trigger else None,
                next_tick=next_tick(trigger.schedule, now) if trigger and row.enabled else None,
                last_tick=last_tick(conn, trigger.scope) if trigger else None,
                digest=spec.digest,
                waiting=pending_items(conn, row.id),
                next_release=next_tick(release.schedule, now) if release and row.enabled else None,
                steps=len(spec.steps),
            )

    async def run_now(self, ref: str, *, by: Actor = None) -> RunStarted:
        """Run a scheduled flow's published version now, on a tick of its own: its event says
        ``"manual": true`` and who asked (``run_by`` in its request), and the schedule's ticks
        go on as planned. A flow that is off gets a held run, as a delivery would.

        Raises :class:`Conflict` when the flow is not on a schedule, has no step, or collects
        its ticks in a digest (releasing the digest is what runs its steps).
        """
        timing = await self.timing(ref)
        if timing.schedule is None:
            raise Conflict(_("it does not run on a schedule: it runs when its trigger fires"))
        if not timing.steps:
            raise Conflict(_("it has no step to run yet"))
        if timing.digest is not None:
            raise Conflict(_("its ticks go to its digest: release the digest to run its steps now"))

        def who() -> str | None:
            with self.session() as s:
                return actor_name(s, by)

        # To the second, as the schedule's own ticks are.
        now = float(round(time.time()))
        tick = Tick.of(
            timing.flow_id, timing.schedule, now, by_hand=True, run_by=await self.sync(who)
        )
        try:
            accepted = await self._writer.submit(tick)
        except NotScheduled as exc:  # deleted, or its trigger changed, since it was read
            raise Conflict(_("it is no longer on a schedule")) from exc
        if not accepted.held:
            self._wakeup.notify()
        return RunStarted(accepted.event_id, accepted.run_ids[0], accepted.held)

    async def release(self, ref: str) -> Released:
        """Release the flow's digest now: one run for every item waiting (up to the most a
        release holds). A flow that is off gets a held run.

        Raises :class:`Conflict` when nothing waits.
        """
        timing = await self.timing(ref)
        if not timing.waiting:
            what = "its digest is empty" if timing.digest else "it has no digest"
            raise Conflict(f"nothing to release: {what}")
        name = timing.digest.name if timing.digest else ""
        released = await self._writer.submit(ReleaseDigest(timing.flow_id, name, "manual"))
        if released.run_id is not None and not released.held:
            self._wakeup.notify()
        return released
