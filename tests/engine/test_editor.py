"""The editor's engine side: samples, waiting for a test event, previews, trying a step."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from maillon.engine.flows import FlowDocument, FlowValidationError
from maillon.engine.runtime import Runtime
from tests.support.flows import ECHO, TRANSACTION, deliver, make_flow
from tests.support.probe import calls
from tests.support.services import Blocking


def _spec(services: Blocking, flow_id: str) -> Any:
    return services.flows.get(flow_id).spec


def test_a_flow_without_steps_is_saved_off_and_cannot_be_switched_on(
    services: Blocking,
) -> None:
    draft = FlowDocument(name="draft", enabled=False)
    view = services.flows.save(draft)
    assert view.spec.steps == [] and not view.row.enabled
    with pytest.raises(FlowValidationError, match="add a step"):
        services.flows.set_enabled(view.row.id, True)
    with pytest.raises(FlowValidationError, match="add a step"):
        services.flows.save(FlowDocument(name="draft"), view.row.id)


def test_the_sample_is_the_newest_delivery_or_the_one_picked(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO)
    trigger = _spec(services, flow_id).trigger
    assert services.editor.sample(trigger, flow_id).origin == "none"
    first = deliver(runtime, token, {**TRANSACTION, "amount": 1})
    deliver(runtime, token, {**TRANSACTION, "amount": 2})

    newest = services.editor.sample(trigger, flow_id)
    assert newest.origin == "event" and newest.body["amount"] == 2
    picked = services.editor.sample(trigger, flow_id, first.event_id)
    assert picked.body["amount"] == 1 and picked.event_id == first.event_id
    assert [s.body["amount"] for s in services.editor.recent_events(flow_id)] == [2, 1]


def test_waiting_for_a_test_event_sees_the_first_delivery_after_it_began(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO, enabled=False)
    deliver(runtime, token, {"old": True})
    began = time.time()
    assert services.editor.wait_for_event(flow_id, began) is None
    time.sleep(0.002)  # received_at must be later than `began` on a coarse clock
    deliver(runtime, token, {"test": 1})  # the flow is off: the delivery is held, and shown
    seen = services.editor.wait_for_event(flow_id, began)
    assert seen is not None and seen.body == {"test": 1}


def test_previews_render_in_the_run_sandbox_with_earlier_outputs(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO, {**ECHO, "key": "later"})
    deliver(runtime, token)
    spec = _spec(services, flow_id)
    sample = services.editor.sample(spec.trigger, flow_id)
    context = services.editor.context(spec, sample, before=1, flow_id=flow_id)

    ok = services.editor.preview("{{ event.amount | money('EUR') }} by {{ flow.name }}", context)
    assert ok.value == "1,500.00 EUR by test" and ok.error is None
    assert services.editor.preview("{{ event.amuont }}", context).error == "no field 'amuont'"
    syntax = services.editor.preview("{{ event.", context).error or ""
    assert syntax.startswith("template syntax error")
    # The first step's output, shaped by its action's output model.
    assert set(context["steps"]["notify"]) >= {"text", "attempt", "idempotency_key"}
    unsafe = services.editor.preview("{{ event.__class__.__mro__ }}", context)
    assert unsafe.error is not None


def test_trying_a_step_runs_the_action_for_real_and_records_nothing(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(
        services, ECHO, {**ECHO, "key": "bad", "input": {"text": "x", "fail": "permanent"}}
    )
    deliver(runtime, token)
    runs_before = len(services.runs.list_runs())
    spec = _spec(services, flow_id)
    sample = services.editor.sample(spec.trigger, flow_id)
    calls.clear()

    trial = services.editor.try_step(spec, "notify", sample, flow_id)
    assert trial.error is None and trial.rendered == {"text": "1,500.00 EUR PENDING"}
    assert trial.output["text"] == "1,500.00 EUR PENDING"
    assert calls.log[0]["key"].startswith("test-")

    failed = services.editor.try_step(spec, "bad", sample, flow_id)
    assert failed.error == "probe refused" and failed.details == {"code": "nope"}
    assert len(services.runs.list_runs()) == runs_before
    assert asyncio.iscoroutinefunction(runtime.services.editor.try_step)
