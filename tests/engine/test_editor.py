"""The editor's engine side: samples, waiting for a test event, previews, trying a step."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from maillon.engine.errors import Invalid
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


def test_a_format_steps_values_are_rendered_for_the_previews_after_it(
    runtime: Runtime, services: Blocking
) -> None:
    nice = {"key": "nice", "format": {"amount": "{{ event.amount | money('EUR', 'fr_FR') }}"}}
    broken = {"key": "broken", "format": {"oops": "{{ event.nope }}"}}
    flow_id, token = make_flow(services, nice, {**broken}, ECHO)
    deliver(runtime, token)
    spec = _spec(services, flow_id)
    sample = services.editor.sample(spec.trigger, flow_id)
    context = services.editor.context(spec, sample, before=2, flow_id=flow_id)
    # What the run would make of it, not a placeholder.
    assert context["steps"]["nice"] == {"amount": "1\u202f500,00\u00a0€"}
    shown = services.editor.preview("Received {{ steps.nice.amount }}", context)
    assert shown.value == "Received 1\u202f500,00\u00a0€"
    # A template that cannot be rendered yet leaves its example.
    assert context["steps"]["broken"] == {"oops": "text"}


def test_trying_a_step_after_a_format_step_of_its_branch_sends_the_formatted_values(
    runtime: Runtime, services: Blocking
) -> None:
    fmt = {"key": "fmt", "format": {"v": "{{ event.amount }} {{ event.currency }}"}}
    echo = {**ECHO, "key": "say", "input": {"text": "got {{ steps.fmt.v }}"}}
    route = {"key": "route", "paths": {"branches": [{"name": "all", "steps": [fmt, echo]}]}}
    flow_id, token = make_flow(services, route)
    deliver(runtime, token)
    spec = _spec(services, flow_id)
    sample = services.editor.sample(spec.trigger, flow_id)
    calls.clear()
    trial = services.editor.try_step(spec, "say", sample, flow_id)
    # What a run would send, not the format step's placeholder.
    assert trial.error is None and trial.rendered == {"text": "got 150000 EUR"}


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


TWO_STEPS = """\
name: Echo twice
steps:
  - key: first
    action: probe.send_echo
    connection: p1
    input: {text: "{{ event.amount | money(event.currency) }}"}
  - key: second
    action: probe.send_echo
    connection: p1
    input: {text: "after {{ steps.first.text }}", number: "{{ event.amount }}"}
"""


def test_a_flow_file_is_rendered_step_by_step_without_calling_anything(
    services: Blocking,
) -> None:
    make_flow(services, ECHO)  # the probe connection p1
    [test] = services.editor.test_yaml(TWO_STEPS, '{"amount": 150000, "currency": "EUR"}')

    assert test.ok and not test.sent and test.sample is not None
    assert test.sample.origin == "given"
    first, second = test.steps
    assert first.trial is not None and first.trial.rendered == {"text": "1,500.00 EUR"}
    # Earlier outputs are examples shaped by the action's output model (text: "text").
    assert second.trial is not None
    assert second.trial.rendered == {"text": "after text", "number": 150000}
    assert calls.log == []
    assert services.flows.all("Echo twice") == []  # tested, not saved


def test_a_step_that_cannot_render_or_validate_says_why(services: Blocking) -> None:
    make_flow(services, ECHO)
    [test] = services.editor.test_yaml(TWO_STEPS, '{"amount": "lots", "currency": "EUR"}')
    first, second = (s.trial for s in test.steps)
    assert first is not None and first.error is not None
    assert first.error.startswith("template error in input.text:")
    assert second is not None and second.error is not None
    assert second.error.startswith("invalid input: number: Input should be a valid integer")
    assert second.rendered == {"text": "after text", "number": "lots"}
    assert not test.ok
    assert test.warnings == []
    [missing] = services.editor.test_yaml(TWO_STEPS, '{"amount": 1}')
    assert missing.warnings == [
        "steps[0] (first).input.text: the sample event has no field 'currency'"
    ]


def test_sent_steps_run_for_real_and_feed_each_other(services: Blocking) -> None:
    make_flow(services, ECHO)
    [test] = services.editor.test_yaml(
        TWO_STEPS, '{"amount": 150000, "currency": "EUR"}', send=True
    )
    assert test.ok and test.sent
    assert [c["text"] for c in calls.log] == ["1,500.00 EUR", "after 1,500.00 EUR"]
    second = test.steps[1].trial
    assert second is not None and second.output["text"] == "after 1,500.00 EUR"

    calls.clear()
    failing = TWO_STEPS.replace(
        'input: {text: "{{ event.amount', 'input: {fail: permanent, text: "{{ event.amount', 1
    )
    [test] = services.editor.test_yaml(failing, '{"amount": 1, "currency": "EUR"}', send=True)
    assert test.steps[0].trial is not None and test.steps[0].trial.error == "probe refused"
    assert test.steps[1].trial is None  # not run on an output that does not exist
    assert len(calls.log) == 1


def test_a_saved_flow_is_tested_against_its_newest_delivery(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, ECHO, name="Sales alert")
    [problem] = services.editor.test_stored("Sales alert").problems
    assert problem.startswith("no sample event: the flow has received none yet")
    deliver(runtime, token)
    test = services.editor.test_stored("Sales alert")
    assert test.flow_id == flow_id and test.sample is not None and test.sample.origin == "event"
    assert test.steps[0].trial is not None
    assert test.steps[0].trial.rendered == {"text": "1,500.00 EUR PENDING"}
    # The file of a saved flow is tested against that flow's deliveries too.
    [from_file] = services.editor.test_yaml(services.flows.export_yaml(flow_id))
    assert from_file.flow_id == flow_id and from_file.ok


def test_flow_tests_refuse_what_cannot_be_read(services: Blocking) -> None:
    [broken] = services.editor.test_yaml("name: x\nsteps: [{key: Bad, action: probe.send_echo}]")
    assert broken.problems[0].startswith("steps[0] (Bad).key:") and broken.steps == []
    with pytest.raises(Invalid, match=r"not valid JSON: line 1, column 2"):
        services.editor.test_yaml(TWO_STEPS, "{oops")


def test_a_control_steps_example_output_is_shaped_as_its_kind_records_it(
    services: Blocking,
) -> None:
    doc = FlowDocument.model_validate(
        {
            "name": "control",
            "steps": [
                {
                    "key": "only",
                    "filter": {
                        "all": [{"value": "{{ event.status }}", "op": "equals", "to": "PAID"}]
                    },
                },
                {"key": "route", "paths": {"branches": [{"name": "all", "steps": [ECHO]}]}},
                {"key": "wait", "delay": {"duration": "1h"}},
            ],
        }
    )
    only, route, wait = doc.steps
    # The field picker offers what a run of each would give: nothing of the other kinds.
    assert services.editor.step_example(only) == {"passed": True, "reason": ""}
    assert services.editor.step_example(route) == {"branches": [], "reasons": {}}
    assert services.editor.step_example(wait) == {"until": 0.0}
