"""Wake-ups: relayed to other processes once per turn of the event loop; across processes on
PostgreSQL, a run queued by a web-only process is claimed by another process's worker at once,
not at its next poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from maillon.connectors.registry import Registry
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.engine.wakeup import PgWakeups, Wakeup
from tests.support.flows import ECHO, make_flow, webhook
from tests.support.probe import probe
from tests.support.services import Blocking


def test_a_burst_of_wake_ups_in_one_turn_of_the_loop_is_relayed_once_at_once() -> None:
    wakeup = Wakeup()
    relayed: list[int] = []
    wakeup.relays.append(lambda: relayed.append(1))

    async def deliveries() -> None:
        local = wakeup.register()
        for _ in range(5):  # the deliveries of one group commit resume in the same turn
            wakeup.notify()
        assert local.is_set()  # this process's own workers are woken every time
        assert relayed == [1]  # other processes at the first, without waiting for the turn's end
        await asyncio.sleep(0)
        wakeup.notify()  # a later commit is relayed again
        assert relayed == [1, 1]

    asyncio.run(deliveries())
    wakeup.notify()  # outside an event loop (a thread): every call is relayed
    wakeup.notify()
    assert relayed == [1, 1, 1, 1]


@pytest.mark.postgres
def test_a_run_queued_elsewhere_wakes_an_idle_worker_without_waiting_for_its_poll(
    runtime: Runtime, services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    if runtime.pg_wakeups is None:
        pytest.skip("wake-ups across processes exist on PostgreSQL only")
    _, token = make_flow(services, ECHO)
    # A second runtime on the same database stands for a `maillon worker` process: its own
    # in-process signal never hears of the first runtime's deliveries, and it polls every 60 s.
    worker = Runtime(make_settings(poll_interval=60.0), registry=Registry([probe]))
    worker.open()
    assert isinstance(worker.pg_wakeups, PgWakeups)

    async def scenario() -> list[float]:
        worker.start_workers(1)
        try:
            assert worker.pg_wakeups is not None
            await asyncio.to_thread(worker.pg_wakeups.listening.wait, 10)
            # Let the worker's first look at the queue pass, so that it sits idle in its poll.
            await asyncio.sleep(0.3)
            latencies = []
            for _ in range(3):
                started = time.monotonic()
                accepted = await webhook(runtime, token)
                (run_id,) = accepted.run_ids
                while (await runtime.services.runs.history(run_id))[0].status != "succeeded":
                    assert time.monotonic() - started < 5, "the worker was not woken"
                    await asyncio.sleep(0.005)
                latencies.append(time.monotonic() - started)
            return latencies
        finally:
            await worker.stop_workers()

    try:
        latencies = asyncio.run(scenario())
    finally:
        worker.close()
    assert max(latencies) < 2.0, latencies  # far below the 60 s poll
    assert worker.pg_wakeups.received >= 3
    assert runtime.pg_wakeups.sent >= 1


@pytest.mark.postgres
def test_stopping_ends_the_relay_and_listener_threads(runtime: Runtime) -> None:
    wakeups = runtime.pg_wakeups
    if wakeups is None:
        pytest.skip("wake-ups across processes exist on PostgreSQL only")
    wakeups.start_listening()
    assert wakeups.listening.wait(10)
    wakeups.stop()
    assert not wakeups.listening.is_set()
    assert runtime.wakeup.relays == []
