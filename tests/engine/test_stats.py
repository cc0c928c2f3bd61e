"""Figures for the dashboard and the flows list, counted as runs finish; runs by time."""

from __future__ import annotations

import time

from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.services.runs import ReplayWith
from tests.support.db import run_until
from tests.support.flows import ECHO, deliver, make_flow, retrying_run, wait_status
from tests.support.services import Blocking

FAILING = {**ECHO, "key": "bad", "input": {"text": "x", "fail": "permanent"}}


def test_finished_runs_are_counted_per_flow_and_hour(runtime: Runtime, services: Blocking) -> None:
    good, good_token = make_flow(services, ECHO)
    bad, bad_token = make_flow(services, FAILING)
    idle, _ = make_flow(services, ECHO)
    held, held_token = make_flow(services, ECHO, enabled=False)
    ran = [deliver(runtime, good_token).run_ids[0] for _ in range(3)]
    failed = [deliver(runtime, bad_token).run_ids[0] for _ in range(2)]
    deliver(runtime, held_token)
    for run_id in ran:
        wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    for run_id in failed:
        wait_status(runtime, services, run_id, RunStatus.FAILED)

    activity = services.stats.activity([good, bad, idle, held])
    assert (activity[good].runs_24h, activity[good].failed_24h) == (3, 0)
    assert activity[good].last_state == RunStatus.SUCCEEDED
    assert (activity[bad].runs_24h, activity[bad].failed_24h) == (2, 2)
    assert activity[idle].last_state is None and activity[idle].runs_24h == 0
    assert activity[held].last_state == RunStatus.HELD

    board = services.stats.dashboard()
    assert len(board.hours) == 24 and board.hours[-1].hour <= time.time()
    assert sum(h.succeeded for h in board.hours) == 3
    assert sum(h.failed for h in board.hours) == 2
    assert board.failing == [(bad, "test", 2, 2)]
    assert (board.queued, board.held) == (0, 1)


def test_runs_are_listed_by_time_range_newest_first(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(services, ECHO, enabled=False)
    first = deliver(runtime, token).run_ids[0]
    time.sleep(0.005)  # ids carry milliseconds: the two deliveries must be a few apart
    middle = time.time()
    time.sleep(0.005)
    second = deliver(runtime, token).run_ids[0]

    assert [r.id for r in services.runs.list_runs()] == [second, first]
    assert [r.id for r in services.runs.list_runs(since=middle)] == [second]
    assert [r.id for r in services.runs.list_runs(until=middle)] == [first]
    assert [r.id for r in services.runs.list_runs(status=RunStatus.HELD, before=second)] == [first]


def test_the_queue_says_how_many_runs_wait_and_since_when(
    runtime: Runtime, services: Blocking
) -> None:
    retrying_run(runtime, services)
    _, token = make_flow(services, ECHO)
    _, later_token = make_flow(services, {"key": "wait", "delay": {"duration": "1h"}})
    parked = deliver(runtime, later_token).run_ids[0]
    run_until(runtime, lambda: services.runs.history(parked)[1] != [])
    due = deliver(runtime, token).run_ids[0]  # no worker runs now: it stays queued

    board = services.stats.dashboard()
    assert (board.queued, board.retrying, board.waiting) == (3, 1, 1)
    assert (board.running, board.held) == (0, 0)
    # The backlog's oldest is the run that is due, not those waiting for their time.
    assert board.oldest_due == (due, services.runs.history(due)[0].available_at)


def test_a_replayed_run_counts_once_with_its_last_outcome(
    runtime: Runtime, services: Blocking
) -> None:
    bad, token = make_flow(services, FAILING)
    failed = [deliver(runtime, token).run_ids[0] for _ in range(2)]
    for run_id in failed:
        wait_status(runtime, services, run_id, RunStatus.FAILED)
    # Replayed and failing again: still two failed runs, not five failures.
    services.runs.replay(failed[0])
    wait_status(runtime, services, failed[0], RunStatus.FAILED)
    assert services.runs.replay_failed(bad) == 2
    for run_id in failed:
        wait_status(runtime, services, run_id, RunStatus.FAILED)
    activity = services.stats.activity([bad])[bad]
    assert (activity.runs_24h, activity.failed_24h) == (2, 2)
    assert services.stats.dashboard().failing == [(bad, "test", 2, 2)]

    # Fixed in a new version: replayed with it, both succeed and none counts as failed.
    services.flows.save(FlowDocument.model_validate({"name": "test", "steps": [ECHO]}), bad)
    assert services.runs.replay_failed(bad, ReplayWith.CURRENT) == 2
    for run_id in failed:
        wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    activity = services.stats.activity([bad])[bad]
    assert (activity.runs_24h, activity.failed_24h) == (2, 0)
    board = services.stats.dashboard()
    assert sum(h.succeeded for h in board.hours) == 2 and sum(h.failed for h in board.hours) == 0
    assert board.failing == []
