"""A run's details for its page, and flows by name, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from maillon.engine.errors import Conflict, NotFound
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunRow, RunStatus, StepRow, StepStatus
from maillon.engine.queue import ClaimRuns, RecordStep, StepRecord
from maillon.engine.runtime import Runtime
from maillon.engine.services import runs as runs_service
from maillon.engine.services.runs import ReplayWith
from tests.support.db import run_until
from tests.support.flows import (
    ECHO,
    TRANSACTION,
    claimed_by_a_dying_worker,
    deliver,
    make_flow,
    retrying_run,
    wait_status,
)
from tests.support.services import Blocking

FAILING = {**ECHO, "key": "refused", "input": {"text": "x", "fail": "permanent"}}
LAST = {**ECHO, "key": "last"}


def test_a_failed_run_has_its_flow_event_steps_and_where_a_replay_resumes(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO, FAILING, LAST)
    accepted = deliver(runtime, token)
    run_id = accepted.run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.FAILED)

    detail = services.runs.detail(run_id)
    assert detail.run.id == run_id
    assert detail.flow is not None
    assert (detail.flow.id, detail.flow.name, detail.flow.enabled) == (flow_id, "test", True)
    assert detail.event is not None
    assert detail.event.id == accepted.event_id
    assert json.loads(detail.event.body) == TRANSACTION
    assert [(s.step_key, s.status) for s in detail.steps] == [
        ("notify", "succeeded"),
        ("refused", "failed"),
    ]
    assert json.loads(detail.steps[1].details or "null") == {"code": "nope"}
    assert detail.not_run == ["last"]
    assert detail.can_replay
    assert detail.resumes_at == "refused"
    assert (detail.held_in_flow, detail.failed_in_flow) == (0, 1)


def test_a_held_run_counts_the_held_runs_of_its_flow(runtime: Runtime, services: Blocking) -> None:
    flow_id, token = make_flow(services, ECHO, LAST, enabled=False)
    held = [deliver(runtime, token).run_ids[0] for _ in range(2)]
    _, other = make_flow(services, ECHO, enabled=False)
    deliver(runtime, other)

    detail = services.runs.detail(held[0])
    assert detail.run.status == RunStatus.HELD
    assert detail.flow is not None
    assert (detail.flow.id, detail.flow.enabled) == (flow_id, False)
    assert detail.steps == []
    assert detail.not_run == ["notify", "last"]
    assert (detail.held_in_flow, detail.failed_in_flow) == (2, 0)
    assert detail.can_replay
    assert detail.resumes_at == "notify"


def test_a_run_outlives_its_flow(runtime: Runtime, services: Blocking) -> None:
    flow_id, token = make_flow(services, ECHO)
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    services.flows.delete(flow_id)

    detail = services.runs.detail(run_id)
    assert detail.flow is None
    assert [s.step_key for s in detail.steps] == ["notify"]
    assert detail.not_run == []
    assert not detail.can_replay
    assert detail.resumes_at is None


def test_an_unknown_run_is_not_found(services: Blocking) -> None:
    with pytest.raises(NotFound, match="no run nope"):
        services.runs.detail("nope")


def test_flow_names_are_listed_alphabetically_whatever_their_case(services: Blocking) -> None:
    make_flow(services, ECHO)  # the probe connection the flows below use
    ids = {}
    for name in ["beta", "Alpha", "gamma"]:
        doc = FlowDocument.model_validate({"name": name, "steps": [ECHO]})
        ids[name] = services.flows.save(doc).row.id
    assert [
        (flow_id, name) for flow_id, name in services.flows.names().items() if name != "test"
    ] == [(ids["Alpha"], "Alpha"), (ids["beta"], "beta"), (ids["gamma"], "gamma")]


def test_one_flows_failed_or_held_runs_are_read_from_their_own_index(
    runtime: Runtime, services: Blocking
) -> None:
    bad, bad_token = make_flow(services, FAILING)
    _, other_token = make_flow(services, FAILING)
    paused, paused_token = make_flow(services, ECHO, enabled=False)
    failed = [deliver(runtime, bad_token).run_ids[0] for _ in range(2)]
    other = deliver(runtime, other_token).run_ids[0]
    held = deliver(runtime, paused_token).run_ids[0]
    for run_id in [*failed, other]:
        wait_status(runtime, services, run_id, RunStatus.FAILED)

    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(runtime.db, "before_cursor_execute", seen)
    try:
        listed = services.runs.list_runs(bad, RunStatus.FAILED)
    finally:
        event.remove(runtime.db, "before_cursor_execute", seen)
    assert [r.id for r in listed] == sorted(failed, reverse=True)
    assert [r.id for r in services.runs.list_runs(paused, RunStatus.HELD)] == [held]
    assert services.runs.list_runs(bad, RunStatus.HELD) == []
    assert [r.id for r in services.runs.list_runs(status=RunStatus.FAILED, limit=1)] == [other]
    assert services.runs.release_held(paused) == 1
    assert services.runs.history(held)[0].status == RunStatus.QUEUED

    # The query repeats the index's expression exactly, or the database would scan instead.
    # SQLite's plan says so whatever the table's size; PostgreSQL's depends on its statistics.
    if runtime.db.dialect.name == "sqlite":
        [(statement, parameters)] = [s for s in statements if "FROM runs" in s[0]]
        with runtime.db.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        assert any("USING INDEX ix_runs_flow_rare_status" in row[-1] for row in plan), plan


def test_a_replay_keeps_the_failure_it_replaces(runtime: Runtime, services: Blocking) -> None:
    # A replay resumes in the same rows of the ledger: the failed step's error, input and
    # attempts were written over, and nothing said the run had ever failed or who replayed it.
    _, token = make_flow(services, ECHO, FAILING, LAST)
    run_id = deliver(runtime, token).run_ids[0]
    failed, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    before = services.runs.detail(run_id).steps[1]

    services.runs.replay(run_id, by="ops@example.com")
    wait_status(runtime, services, run_id, RunStatus.FAILED)
    services.runs.replay(run_id, ReplayWith.CURRENT)
    wait_status(runtime, services, run_id, RunStatus.FAILED)

    detail = services.runs.detail(run_id)
    assert [(r.row.replayed_by, r.row.status, r.row.error) for r in detail.replays] == [
        ("ops@example.com", RunStatus.FAILED, failed.error),
        (None, RunStatus.FAILED, failed.error),
    ]
    first = detail.replays[0]
    assert (first.row.from_version, first.row.to_version) == (1, 1)
    # Only the step that had not succeeded, as the ledger had it: what it was sent, its error.
    [kept] = first.steps
    assert {k: getattr(kept, k) for k in StepRow.model_fields} == {
        k: getattr(before, k) for k in StepRow.model_fields
    }
    assert (kept.step_key, kept.status, kept.error) == ("refused", "failed", before.error)
    assert first.row.replayed_at >= (before.finished_at or 0)


def test_a_replay_records_the_version_it_moves_to(runtime: Runtime, services: Blocking) -> None:
    flow_id, token = make_flow(services, ECHO, enabled=False)
    run_id = deliver(runtime, token).run_ids[0]  # held: the flow is off
    doc = FlowDocument.model_validate(services.flows.get(flow_id).document)
    doc.name = "renamed"
    services.flows.save(doc, flow_id)  # version 2
    services.runs.replay(run_id, ReplayWith.CURRENT)
    [replay] = services.runs.detail(run_id).replays
    assert (replay.row.status, replay.row.error, replay.steps) == (RunStatus.HELD, None, [])
    assert (replay.row.from_version, replay.row.to_version) == (1, 2)


def test_every_failed_run_of_a_flow_replays_at_once(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After an outage of the app a flow calls: its failed runs replayed in one go, in batches,
    # each once, even when it fails again while the next batch is being replayed.
    monkeypatch.setattr(runs_service, "_REPLAY_BATCH", 2)
    replay = runs_service._replay
    batches: list[int] = []

    def fails_again_at_once(s: Session, runs: list[RunRow], *args: Any) -> None:
        batches.append(len(runs))
        assert sum(batches) <= 3, "a run was replayed twice"
        replay(s, runs, *args)
        for run in runs:
            run.status = RunStatus.FAILED  # as if a worker had failed it again already
            s.add(run)

    monkeypatch.setattr(runs_service, "_replay", fails_again_at_once)
    flow_id, token = make_flow(services, FAILING)
    _, other_token = make_flow(services, FAILING)
    failed = []
    for _ in range(3):
        failed.append(deliver(runtime, token).run_ids[0])
        time.sleep(0.002)  # windows are read from ids, to the millisecond
    other = deliver(runtime, other_token).run_ids[0]
    for run_id in [*failed, other]:
        wait_status(runtime, services, run_id, RunStatus.FAILED)

    assert services.runs.replay_failed(flow_id, by="ops@example.com") == 3
    assert batches == [2, 1]
    monkeypatch.setattr(runs_service, "_replay", replay)
    for run_id in failed:
        [kept] = services.runs.detail(run_id).replays
        assert kept.row.replayed_by == "ops@example.com"
        assert [s.step_key for s in kept.steps] == ["refused"]
    assert services.runs.detail(other).replays == []

    # Only those created in the window, when one is given.
    newest = services.runs.history(failed[-1])[0].created_at
    assert services.runs.replay_failed(flow_id, since=newest) == 1
    assert [len(services.runs.detail(r).replays) for r in failed] == [1, 1, 2]
    with pytest.raises(NotFound):
        services.runs.replay_failed("no-such-flow")


def test_held_runs_are_released_with_the_version_published_since(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, FAILING, on_failure={"pause_after": 1})
    first = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, first, RunStatus.FAILED)
    [held] = deliver(runtime, token).run_ids
    assert services.runs.history(held)[0].status == RunStatus.HELD
    # The fix is published while the flow is paused; resuming runs the held run with it.
    fixed = FlowDocument.model_validate({"name": "test", "steps": [ECHO]})
    assert services.flows.save(fixed, flow_id).row.version == 2
    _, released = services.flows.resume(flow_id)
    assert released == 1
    run, steps = wait_status(runtime, services, held, RunStatus.SUCCEEDED)
    assert run.flow_version == 2 and [s.step_key for s in steps] == ["notify"]


WAIT = {"key": "wait", "delay": {"duration": "1h"}}


def test_a_run_waiting_at_a_delay_is_cancelled_and_a_replay_brings_it_back(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO, WAIT, LAST)
    run_id = deliver(runtime, token).run_ids[0]
    parked = ["succeeded", "waiting"]
    run_until(runtime, lambda: [s.status for s in services.runs.history(run_id)[1]] == parked)

    run = services.runs.cancel(run_id, by="ada@example.com")
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled by ada@example.com")
    assert run.finished_at is not None and run.lease_owner is None
    detail = services.runs.detail(run_id)
    assert [(s.step_key, s.status) for s in detail.steps] == [
        ("notify", "succeeded"),
        ("wait", "cancelled"),
    ]
    assert detail.not_run == ["last"] and detail.state == "cancelled"
    assert (detail.can_cancel, detail.can_replay, detail.resumes_at) == (False, True, "wait")
    with pytest.raises(
        Conflict, match=r"\(its status: cancelled\): only runs that are queued, waiting"
    ):
        services.runs.cancel(run_id)

    replayed = services.runs.replay(run_id)
    assert (replayed.status, replayed.error, replayed.finished_at) == (RunStatus.QUEUED, None, None)
    [replay] = services.runs.detail(run_id).replays
    assert (replay.row.status, replay.row.error) == ("cancelled", "cancelled by ada@example.com")


def test_a_cancelled_run_is_never_taken_up_and_a_running_one_is_not_cancelled(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO)
    cancelled = deliver(runtime, token).run_ids[0]
    assert services.runs.cancel(cancelled).error == "cancelled"
    other = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, other, RunStatus.SUCCEEDED)
    run, steps, _ = services.runs.history(cancelled)
    assert (run.status, run.claims, steps) == (RunStatus.CANCELLED, 0, [])

    # A run a worker holds may be calling an app: it is not stopped halfway.
    running = deliver(runtime, token).run_ids[0]
    with Session(runtime.db) as s:
        row = s.get(RunRow, running)
        assert row is not None
        row.status = RunStatus.RUNNING
        s.add(row)
        s.commit()
    with pytest.raises(Conflict, match=r"\(its status: running\)"):
        services.runs.cancel(running)
    with pytest.raises(NotFound):
        services.runs.cancel("no-such-run")


def test_a_run_whose_worker_died_is_cancelled_and_that_worker_writes_nothing_more(
    runtime: Runtime, services: Blocking
) -> None:
    run_id = claimed_by_a_dying_worker(runtime, services)
    # While its lease holds, a worker may be calling an app: not cancelled.
    assert not services.runs.detail(run_id).can_cancel
    with pytest.raises(Conflict, match=r"\(its status: running\)"):
        services.runs.cancel(run_id)
    time.sleep(0.35)  # the lease runs out: no worker holds the run any more
    assert services.runs.detail(run_id).can_cancel
    assert services.runs.cancel(run_id, by="ops").error == "cancelled by ops"
    # The worker, back, can record nothing of it; no other worker takes it up.
    now = time.time()
    late = StepRecord("first", 0, StepStatus.SUCCEEDED, 1, now, now, {"text": "x"}, {})
    with pytest.raises(Exception, match=run_id):
        runtime.writer.submit_sync(RecordStep(run_id, "dead-worker", 60, late))
    assert runtime.writer.submit_sync(ClaimRuns("other", 10, 60)).runs == []
    run, steps, _ = services.runs.history(run_id)
    assert (run.status, steps) == (RunStatus.CANCELLED, [])


def test_a_held_run_is_cancelled(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(services, ECHO, enabled=False)
    held = deliver(runtime, token).run_ids[0]
    assert services.runs.detail(held).can_cancel
    assert services.runs.cancel(held).status == RunStatus.CANCELLED
    assert services.runs.detail(held).held_in_flow == 0


def test_deleting_a_flow_cancels_its_runs_no_worker_holds(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO, WAIT, LAST)
    parked = deliver(runtime, token).run_ids[0]
    run_until(runtime, lambda: services.runs.history(parked)[0].available_at > time.time())
    queued = deliver(runtime, token).run_ids[0]
    _, other_token = make_flow(services, ECHO)
    others = deliver(runtime, other_token).run_ids[0]

    assert services.flows.delete(flow_id).cancelled == 2
    for run_id in (parked, queued):
        run = services.runs.history(run_id)[0]
        assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled: its flow was deleted")
    assert [s.status for s in services.runs.history(parked)[1]] == ["succeeded", "cancelled"]
    # Another flow's runs are left alone.
    assert services.runs.history(others)[0].status == RunStatus.QUEUED


def test_a_retrying_run_is_cancelled_its_last_attempt_kept_as_it_was(
    runtime: Runtime, services: Blocking
) -> None:
    run_id = retrying_run(runtime, services)
    assert services.runs.detail(run_id).state == "retrying"
    [attempt] = services.runs.history(run_id)[1]

    services.runs.cancel(run_id)
    [step] = services.runs.history(run_id)[1]
    assert step.status == StepStatus.CANCELLED
    assert (step.started_at, step.finished_at, step.error) == (
        attempt.started_at,
        attempt.finished_at,
        attempt.error,
    )
