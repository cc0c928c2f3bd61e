"""A run's details for its page, and flows by name, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event

from maillon.engine.errors import NotFound
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from tests.support.flows import ECHO, TRANSACTION, deliver, make_flow, wait_status
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
    assert detail.held_in_flow == 0


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
    assert detail.held_in_flow == 2
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
    assert services.runs.get_run(held)[0].status == RunStatus.QUEUED

    # The query repeats the index's expression exactly, or the database would scan instead.
    # SQLite's plan says so whatever the table's size; PostgreSQL's depends on its statistics.
    if runtime.db.dialect.name == "sqlite":
        [(statement, parameters)] = [s for s in statements if "FROM runs" in s[0]]
        with runtime.db.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        assert any("USING INDEX ix_runs_flow_rare_status" in row[-1] for row in plan), plan
