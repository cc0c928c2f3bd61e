"""Workers: claim due runs and execute them concurrently.

A worker is woken the moment a run is queued: by its own process directly, by other processes
sharing PostgreSQL through ``NOTIFY`` (:mod:`maillon.engine.wakeup`). It also looks at the queue
every ``poll_interval`` seconds, in case a notification was lost with a connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from maillon.engine.executor import Executor
from maillon.engine.queue import Claimed, ClaimRuns, ExtendLeases
from maillon.engine.wakeup import Wakeup
from maillon.engine.writer import Writer

__all__ = ["Worker"]

log = logging.getLogger(__name__)


class Worker:
    """Claims up to ``concurrency`` runs at a time and executes them as asyncio tasks."""

    def __init__(
        self,
        *,
        writer: Writer,
        executor: Executor,
        wakeup: Wakeup,
        concurrency: int,
        lease_seconds: float,
        poll_interval: float,
        max_takeovers: int = 3,
        name: str | None = None,
    ) -> None:
        self._writer = writer
        self._executor = executor
        self._wakeup = wakeup
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._poll = poll_interval
        self._max_takeovers = max_takeovers
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._active: dict[asyncio.Task[bool], str] = {}  # task → run id
        # Whether runs may be waiting for a free slot: the last claim took all it could.
        self._saturated = False
        #: What :meth:`run` was given: the runs it starts stop before their next action once set.
        self._stopping: asyncio.Event | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then let the runs in progress finish."""
        self._stopping = stop
        wake = self._wakeup.register()
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not stop.is_set():
                wake.clear()
                timeout = await self._claim_and_start()
                if stop.is_set():
                    break
                if timeout is None:
                    continue  # claimed a full batch: there may be more right away
                waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            self._wakeup.unregister(wake)
            if self._active:
                await asyncio.wait(list(self._active))
            heartbeat.cancel()

    async def _claim_and_start(self) -> float | None:
        """Claim what fits; return how long to wait for more (``None``: look again at once)."""
        free = self._concurrency - len(self._active)
        if free <= 0:
            self._saturated = True
            return self._poll  # a finishing run sets the wake event
        try:
            claimed: Claimed = await self._writer.submit(
                ClaimRuns(
                    self.name, free, self._lease, self._max_takeovers, self._executor.language[0]
                )
            )
        except Exception:
            log.exception("claiming runs failed; retrying in %.1fs", self._poll)
            return self._poll
        for run in claimed.runs:
            task = asyncio.create_task(self._executor.execute(run, self.name, self._stopping))
            self._active[task] = run.id
            task.add_done_callback(self._done)
        self._saturated = len(claimed.runs) == free
        if self._saturated:
            return None
        timeout = self._poll
        if claimed.next_due is not None:
            timeout = min(timeout, max(0.0, claimed.next_due - time.time()))
        return timeout

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._active.pop(task, None)
        rescheduled = not task.cancelled() and task.exception() is None and task.result()
        # Claim again only if runs may be waiting for this slot, or if the run was queued for a
        # retry (the next due time changed). New runs wake the workers by themselves: claiming
        # after every finished run doubled the writer's transactions, half of them empty.
        if self._saturated or rescheduled:
            self._wakeup.notify_local()

    async def _heartbeat(self) -> None:
        # Runs longer than a lease (a slow API) must not be taken over by another worker: also
        # while stopping, until the runs in progress are done (:meth:`run` cancels this then).
        while True:
            await asyncio.sleep(self._lease / 3)
            if self._active:
                try:
                    await self._writer.submit(
                        ExtendLeases(self.name, list(self._active.values()), self._lease)
                    )
                except Exception:
                    log.exception("extending leases failed")
