"""Digests: events collected instead of run, released as one run at a count, by hand or on a
schedule; exactly once across processes, and kept across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from maillon.connectors.registry import Registry
from maillon.engine.digests import ReleaseDigest
from maillon.engine.errors import Conflict
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.db import run_until
from tests.support.flows import TRANSACTION, deliver, make_flow
from tests.support.probe import calls, probe
from tests.support.services import Blocking
from tests.support.wait import wait_for

#: A probe step that lists the amounts of a release.
SUMMARY = {
    "key": "notify",
    "action": "probe.send_echo",
    "connection": "p1",
    "input": {
        "text": "{{ event.count }} ({{ event.reason }}): "
        "{% for i in event['items'] %}{{ i.amount }} {% endfor %}"
    },
}


def _digest(**release: Any) -> dict[str, Any]:
    return {"name": "daily", "item": {"amount": "{{ event.amount }}"}, "release": release}


def _deliver(runtime: Runtime, token: str, *amounts: int) -> list[str]:
    return [deliver(runtime, token, {**TRANSACTION, "amount": a}).run_ids[0] for a in amounts]


def _releases(runtime: Runtime, flow_id: str) -> list[dict[str, Any]]:
    with runtime.db.connect() as conn:
        bodies = conn.execute(
            text("SELECT body FROM events WHERE flow_id = :f AND source = 'digest' ORDER BY id"),
            {"f": flow_id},
        ).scalars()
        return [json.loads(b) for b in bodies]


def test_events_are_collected_then_released_as_one_run_at_the_count(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, SUMMARY, digest=_digest(count=3))
    collecting = _deliver(runtime, token, 100, 200, 300, 400)
    run_until(runtime, lambda: len(calls.log) == 1 and services.schedules.timing(flow_id).waiting)

    # The runs collect in any order: the release holds the first three items collected, in
    # the order their events arrived.
    [release] = _releases(runtime, flow_id)
    assert release["digest"] == "daily" and release["reason"] == "count"
    amounts = [i["amount"] for i in release["items"]]
    assert len(amounts) == 3 and amounts == sorted(amounts)
    [call] = calls.log
    assert call["text"] == f"3 (count): {' '.join(map(str, amounts))} "
    # Each event's run collected its item and did nothing else.
    run, steps, _ = services.runs.history(collecting[0])
    assert run.status == "succeeded"
    assert [(s.step_key, s.status) for s in steps] == [("digest:daily", "succeeded")]
    assert services.schedules.timing(flow_id).waiting == 1  # the fourth waits


def test_a_digest_released_by_hand_and_kept_across_restarts(
    runtime: Runtime, services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    flow_id, token = make_flow(services, SUMMARY, digest=_digest())
    with pytest.raises(Conflict, match="its digest is empty"):
        services.schedules.release(flow_id)
    _deliver(runtime, token, 1, 2)
    run_until(runtime, lambda: services.schedules.timing(flow_id).waiting == 2)
    runtime.close()

    again = Runtime(make_settings(), registry=Registry([probe]))
    again.open()
    try:
        released = Blocking(again.services).schedules.release(flow_id)
        assert released.count == 2 and not released.held
        run_until(again, lambda: bool(calls.log))
        assert [c["text"] for c in calls.log] == ["2 (manual): 1 2 "]
    finally:
        again.close()
    runtime.open()  # for the fixture's close


def test_deleting_a_flow_drops_what_its_digest_collected(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, SUMMARY, digest=_digest())
    _deliver(runtime, token, 5)
    run_until(runtime, lambda: services.schedules.timing(flow_id).waiting == 1)
    services.flows.delete(flow_id)
    with runtime.db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM digest_items")).scalar() == 0


def test_a_flow_that_is_off_gets_a_held_release(runtime: Runtime, services: Blocking) -> None:
    flow_id, token = make_flow(services, SUMMARY, digest=_digest())
    _deliver(runtime, token, 5)
    run_until(runtime, lambda: services.schedules.timing(flow_id).waiting == 1)
    services.flows.set_enabled(flow_id, False)
    released = services.schedules.release(flow_id)
    assert released.held
    assert services.runs.history(released.run_id)[0].status == "held"


def test_concurrent_releases_take_each_item_once(
    runtime: Runtime, services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    flow_id, token = make_flow(services, SUMMARY, digest=_digest())
    services.flows.set_enabled(flow_id, False)  # runs held: released items stay as they are
    amounts = list(range(1, 41))
    held = _deliver(runtime, token, *amounts)
    services.flows.set_enabled(flow_id, True)
    other = Runtime(make_settings(), registry=Registry([probe]))
    other.open()

    async def collect_and_release() -> None:
        # Items are collected by this process while both processes release, over and over.
        runtime.start_workers(1)
        await runtime.services.runs.release_held(flow_id)
        for _ in range(10):
            await asyncio.gather(
                runtime.writer.submit(ReleaseDigest(flow_id, "daily", "manual")),
                other.writer.submit(ReleaseDigest(flow_id, "daily", "manual")),
            )
        await asyncio.to_thread(
            wait_for, lambda: all(services.runs.history(r)[0].status == "succeeded" for r in held)
        )
        await runtime.stop_workers()

    try:
        asyncio.run(collect_and_release())
    finally:
        other.close()
    if services.schedules.timing(flow_id).waiting:
        services.schedules.release(flow_id)
    released = [i["amount"] for r in _releases(runtime, flow_id) for i in r["items"]]
    assert sorted(released) == amounts


def _collected(runtime: Runtime, services: Blocking, flow_id: str, *amounts: int) -> None:
    """Deliver ``amounts`` and wait until their items wait in the digest."""
    waiting = services.schedules.timing(flow_id).waiting
    token = services.flows.get(flow_id).row.hook_token
    _deliver(runtime, token, *amounts)
    run_until(runtime, lambda: services.schedules.timing(flow_id).waiting == waiting + len(amounts))


def test_a_tick_releases_once_whoever_fires_it_and_whenever(
    runtime: Runtime, services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    flow_id, _ = make_flow(services, SUMMARY, digest=_digest(cron="0 18 * * *"))
    other = Runtime(make_settings(), registry=Registry([probe]))
    other.open()
    tick = 1_795_000_000.0

    def release(rt: Runtime, at: float) -> Any:
        return rt.writer.submit_sync(ReleaseDigest(flow_id, "daily", "schedule", at))

    try:
        _collected(runtime, services, flow_id, 1, 2)
        first = release(runtime, tick)
        _collected(runtime, services, flow_id, 3)
        # The other scheduler fires the same tick later, with an item waiting: nothing.
        again = release(other, tick)
        following = release(other, tick + 60)
    finally:
        other.close()
    assert first.count == 2 and not first.duplicate
    assert again.duplicate and again.run_id is None
    assert following.count == 1
    assert [r["count"] for r in _releases(runtime, flow_id)] == [2, 1]


def test_a_scheduled_release_with_two_schedulers_running(
    runtime: Runtime, services: Blocking, make_settings: Callable[..., Settings]
) -> None:
    flow_id, _ = make_flow(services, SUMMARY, digest=_digest(every="1s"))
    _collected(runtime, services, flow_id, 7, 8)
    other = Runtime(make_settings(), registry=Registry([probe]))
    other.open()

    async def main() -> None:
        runtime.start_scheduler()
        other.start_scheduler()
        await asyncio.to_thread(wait_for, lambda: _releases(runtime, flow_id), 5)
        await runtime.stop_scheduler()
        await other.stop_scheduler()

    try:
        asyncio.run(main())
    finally:
        other.close()
    [release] = _releases(runtime, flow_id)
    assert release["reason"] == "schedule" and release["items"] == [{"amount": 7}, {"amount": 8}]


def test_an_item_that_cannot_be_made_fails_its_run(runtime: Runtime, services: Blocking) -> None:
    digest = {"name": "daily", "item": "{{ event.missing }}"}
    flow_id, token = make_flow(services, SUMMARY, digest=digest)
    [run_id] = _deliver(runtime, token, 1)
    run_until(runtime, lambda: services.runs.history(run_id)[0].status == "failed")
    run, [step], _ = services.runs.history(run_id)
    assert run.error == "digest daily: digest.item: no field 'missing'"
    assert step.step_key == "digest:daily" and step.status == "failed"
    assert services.schedules.timing(flow_id).waiting == 0
