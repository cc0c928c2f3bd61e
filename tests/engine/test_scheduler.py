"""The scheduler: ticks stored once with several schedulers on one database, ticks missed while
no scheduler ran, and changes to flows reaching schedulers in this process and in others."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowDocument
from maillon.engine.intake import Accepted, Tick
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.flows import ECHO, make_flow
from tests.support.probe import calls, probe
from tests.support.services import Blocking
from tests.support.wait import wait_for

EVERY_SECOND = {"type": "schedule", "every": "1s"}
#: A probe step that says which tick it runs for.
TICK = {**ECHO, "input": {"text": "tick {{ event.scheduled_at }}"}}


@pytest.fixture
def other(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """A second process's engine on the same database."""
    rt = Runtime(make_settings(schedule_sync_interval=0.2), registry=Registry([probe]))
    rt.open()
    yield rt
    rt.close()


def _ticks(runtime: Runtime, flow_id: str) -> list[dict[str, Any]]:
    """The tick events stored for a flow, oldest first, with their runs' count."""
    with runtime.db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.body, e.dedup_key, (SELECT COUNT(*) FROM runs r WHERE r.event_id = e.id)"
                " FROM events e WHERE e.flow_id = :f AND e.source = 'schedule' ORDER BY e.id"
            ),
            {"f": flow_id},
        ).all()
    return [{**json.loads(body), "key": key, "runs": runs} for body, key, runs in rows]


def _spy_ticks(rt: Runtime, seen: list[Accepted]) -> None:
    """Record what the writer answered to each tick (duplicates included)."""
    submit = rt.writer.submit

    async def spy(op: Any) -> Any:
        result = await submit(op)
        if isinstance(op, Tick):
            seen.append(result)
        return result

    rt.writer.submit = spy  # type: ignore[method-assign]


def test_two_schedulers_on_one_database_run_each_tick_once(
    runtime: Runtime, services: Blocking, other: Runtime
) -> None:
    flow_id, _ = make_flow(services, TICK, trigger=EVERY_SECOND)
    answers: list[Accepted] = []
    _spy_ticks(runtime, answers)
    _spy_ticks(other, answers)

    async def main() -> None:
        runtime.start_workers(1)
        runtime.start_scheduler()
        other.start_scheduler()
        # Both fire every tick: wait until both have stored (or been refused) three ticks.
        await asyncio.to_thread(
            wait_for, lambda: sum(not a.duplicate for a in answers) >= 3, what="three ticks"
        )
        await runtime.stop_scheduler()
        await other.stop_scheduler()
        await asyncio.to_thread(
            wait_for, lambda: len(calls.log) >= len(_ticks(runtime, flow_id)), what="the runs"
        )
        await runtime.stop_workers()

    asyncio.run(main())
    ticks = _ticks(runtime, flow_id)
    assert any(a.duplicate for a in answers), "the second scheduler fired no tick of the first"
    times = [t["scheduled_at_utc"] for t in ticks]
    assert len(times) == len(set(times)) >= 3
    assert [t["key"] for t in ticks] == times
    assert all(t["runs"] == 1 for t in ticks)
    assert sorted(c["text"] for c in calls.log) == sorted(
        f"tick {t['scheduled_at']}" for t in ticks
    )
    assert not any(t["missed"] for t in ticks)


def test_a_busy_loop_delays_ticks_but_loses_none(runtime: Runtime, services: Blocking) -> None:
    flow_id, _ = make_flow(services, TICK, trigger=EVERY_SECOND)

    async def main() -> None:
        runtime.start_scheduler()
        await asyncio.to_thread(wait_for, lambda: _ticks(runtime, flow_id), 5, what="a tick")
        time.sleep(2.5)  # noqa: ASYNC251 (the loop is blocked on purpose: ticks fall due)
        count = len(_ticks(runtime, flow_id))
        await asyncio.to_thread(
            wait_for, lambda: len(_ticks(runtime, flow_id)) >= count + 3, 10, what="more ticks"
        )
        await runtime.stop_scheduler()

    asyncio.run(main())
    seconds = [int(_at(t["key"])) for t in _ticks(runtime, flow_id)]
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))


def _at(key: str) -> float:
    return dt.datetime.fromisoformat(key.replace("Z", "+00:00")).timestamp()


def _hour_later(minutes: int) -> Callable[[], float]:
    """A clock about five hours ahead, ``minutes`` past a UTC hour: a scheduler starting after
    downtime (intervals of an hour tick on UTC hours)."""
    later = time.time() + 5 * 3600
    offset = later - later % 3600 + minutes * 60 - time.time()
    return lambda: time.time() + offset


@pytest.mark.parametrize(("policy", "fired"), [("run_once", 1), ("skip", 0)])
def test_ticks_missed_while_no_scheduler_ran_follow_the_flows_policy(
    runtime: Runtime, services: Blocking, policy: str, fired: int
) -> None:
    trigger = {"type": "schedule", "every": "1h", "missed": policy}
    flow_id, _ = make_flow(services, TICK, trigger=trigger)
    clock = _hour_later(30)  # the last of the four or five ticks since is 30 minutes late

    async def start_and_stop() -> None:
        runtime.start_scheduler(clock)
        await asyncio.sleep(0.3)  # the first reading of the schedules, and its look-back
        await runtime.stop_scheduler()

    asyncio.run(start_and_stop())
    ticks = _ticks(runtime, flow_id)
    assert len(ticks) == fired
    if fired:
        [tick] = ticks
        expected = int(clock()) // 3600 * 3600
        assert tick["missed"] is True
        assert tick["key"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expected))
        # Started again, the scheduler finds that tick stored: nothing more is missed.
        asyncio.run(start_and_stop())
        assert len(_ticks(runtime, flow_id)) == 1
        # Nor once retention has deleted the tick's event and run: the tick is not run again.
        with runtime.db.begin() as conn:
            conn.execute(text("DELETE FROM runs WHERE flow_id = :f"), {"f": flow_id})
            conn.execute(text("DELETE FROM events WHERE flow_id = :f"), {"f": flow_id})
        asyncio.run(start_and_stop())
        assert _ticks(runtime, flow_id) == []


def test_runs_by_hand_are_never_duplicates_nor_the_schedules_ticks(
    runtime: Runtime, services: Blocking
) -> None:
    trigger = {"type": "schedule", "every": "1h"}
    flow_id, _ = make_flow(services, TICK, trigger=trigger)
    clock = _hour_later(30)
    at = float(int(clock()) // 3600 * 3600 + 60)  # after the missed tick, in the same second

    async def by_hand_twice() -> list[Accepted]:
        body = {"manual": True}
        tick = Tick(flow_id, body, json.dumps(body), {}, tick=at, by_hand=True)
        return [await runtime.writer.submit(tick) for _ in range(2)]

    first, second = asyncio.run(by_hand_twice())
    assert not first.duplicate and not second.duplicate
    assert first.event_id != second.event_id
    assert [t["key"] for t in _ticks(runtime, flow_id)] == [None, None]

    # The schedule's missed tick, due before those runs by hand, is still found and run.
    async def start_and_stop() -> None:
        runtime.start_scheduler(clock)
        await asyncio.sleep(0.3)
        await runtime.stop_scheduler()

    asyncio.run(start_and_stop())
    missed = [t for t in _ticks(runtime, flow_id) if t["key"] is not None]
    assert [t["missed"] for t in missed] == [True]


def test_a_late_tick_runs_whatever_the_policy(runtime: Runtime, services: Blocking) -> None:
    trigger = {"type": "schedule", "every": "1h", "missed": "skip"}
    flow_id, _ = make_flow(services, TICK, trigger=trigger)
    clock = _hour_later(0)  # the scheduler starts just as a tick falls due

    async def start_and_stop() -> None:
        runtime.start_scheduler(clock)
        await asyncio.sleep(0.3)
        await runtime.stop_scheduler()

    asyncio.run(start_and_stop())
    [tick] = _ticks(runtime, flow_id)
    assert tick["missed"] is False


def _save(services: Blocking, flow_id: str, **changes: Any) -> None:
    document = services.flows.get(flow_id).document
    services.flows.save(FlowDocument.model_validate({**document, **changes}), flow_id)


def test_a_change_reaches_the_scheduler_of_its_process_at_once(
    make_settings: Callable[..., Settings],
) -> None:
    # The schedules are read again once a minute: only the process's own signal is quick.
    here = Runtime(make_settings(schedule_sync_interval=60), registry=Registry([probe]))
    here.open()
    services = Blocking(here.services)
    flow_id, _ = make_flow(services, TICK)

    async def main() -> None:
        here.start_scheduler()
        await asyncio.sleep(0.3)  # the flows are read: none is scheduled
        await asyncio.to_thread(_save, services, flow_id, trigger=EVERY_SECOND)
        await asyncio.to_thread(wait_for, lambda: _ticks(here, flow_id), 5, what="a tick")
        await here.stop_scheduler()

    try:
        asyncio.run(main())
    finally:
        here.close()


def test_a_scheduler_follows_flows_changed_by_another_process(
    runtime: Runtime, services: Blocking, other: Runtime
) -> None:
    edited, _ = make_flow(services, TICK)
    later, _ = make_flow(services, TICK)

    def count(flow_id: str, at_least: int) -> int:
        return len(wait_for(lambda: _ticks(runtime, flow_id)[at_least - 1 :], 5, what="ticks"))

    async def main() -> tuple[int, int]:
        other.start_scheduler()  # reads the flows every 0.2 s
        await asyncio.sleep(0.3)
        # Put on a schedule by this process: the other one fires it.
        await asyncio.to_thread(_save, services, edited, trigger=EVERY_SECOND)
        await asyncio.to_thread(count, edited, 2)
        # Edited to an hourly schedule, then a second flow put on a schedule: once the second
        # has ticked twice, the other process has read both changes, and the first flow
        # ticks no more.
        await asyncio.to_thread(
            _save, services, edited, trigger={"type": "schedule", "every": "1h"}
        )
        await asyncio.to_thread(_save, services, later, trigger=EVERY_SECOND)
        await asyncio.to_thread(count, later, 2)
        before = len(_ticks(runtime, edited))
        await asyncio.to_thread(count, later, 4)
        after = len(_ticks(runtime, edited))
        await other.stop_scheduler()
        return before, after

    before, after = asyncio.run(main())
    assert before == after


def test_on_postgresql_a_change_in_another_process_reaches_a_scheduler_at_once(
    make_settings: Callable[..., Settings], database_url: str, other: Runtime
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's; SQLite installs are one process")
    # Reading the schedules once a minute: only the notification can be quick.
    here = Runtime(make_settings(schedule_sync_interval=60), registry=Registry([probe]))
    here.open()
    services = Blocking(other.services)
    flow_id, _ = make_flow(services, TICK)

    async def main() -> None:
        here.start_scheduler()
        listening = here.pg_schedule_changes
        assert listening is not None
        await asyncio.to_thread(listening.listening.wait, 5)
        await asyncio.sleep(0.3)  # the flows are read: none is scheduled
        await asyncio.to_thread(_save, services, flow_id, trigger=EVERY_SECOND)
        await asyncio.to_thread(wait_for, lambda: _ticks(here, flow_id), 5, what="a tick")
        await here.stop_scheduler()

    try:
        asyncio.run(main())
    finally:
        here.close()
