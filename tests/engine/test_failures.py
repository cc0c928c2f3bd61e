"""What a failed run sets off: error flows (never in a loop), and auto-pause with its deliveries
held, not lost, until the flow is resumed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from maillon.connectors.registry import Registry
from maillon.connectors.slack import connector as slack
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import RUN_FAILED, FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.db import run_until
from tests.support.flows import ECHO, TRANSACTION, deliver, make_flow, wait_status
from tests.support.probe import calls, probe
from tests.support.services import Blocking

FAILING = {**ECHO, "input": {"text": "x", "fail": "permanent"}}
OK = (200, {"ok": True, "channel": "C1", "ts": "1.2"})


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """The probe and Slack, for error flows that post to a fake Slack."""
    calls.clear()
    rt = Runtime(make_settings(), registry=Registry([probe, slack]))
    rt.open()
    yield rt
    rt.close()


@pytest.fixture
def services(runtime: Runtime) -> Blocking:
    return Blocking(runtime.services)


def error_flow(services: Blocking, slack_url: str, name: str = "tell ops", **trigger: Any) -> str:
    """An error flow posting the failure to Slack; returns its id."""
    if "team-slack" not in services.connections.names():
        services.connections.create(
            "slack", "team-slack", {"bot_token": "xoxb-t", "base_url": slack_url + "api/"}
        )
    doc = FlowDocument.model_validate(
        {
            "name": name,
            "trigger": {"type": RUN_FAILED, **trigger},
            "steps": [
                {
                    "key": "tell",
                    "action": "slack.send_message",
                    "connection": "team-slack",
                    "input": {
                        "channel": "#ops",
                        "text": "{{ event.flow.name }} failed ({{ event.failure }}, "
                        "{{ event.attempts }} attempt) at {{ event.step.key }}: {{ event.error }}"
                        " {{ event.run.url }} amount={{ event.event.amount }}",
                    },
                }
            ],
        }
    )
    return str(services.flows.save(doc).row.id)


def runs_of(services: Blocking, flow_id: str) -> list[Any]:
    return list(services.runs.list_runs(flow_id=flow_id))


def test_a_failing_flow_starts_its_error_flow_which_posts_the_run_link(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/api/chat.postMessage", OK)
    flow_id, token = make_flow(services, FAILING, name="confirm investment")
    catcher = error_flow(services, fake_server.url, flows=["confirm investment"])
    run_id = deliver(runtime, token).run_ids[0]

    run_until(runtime, lambda: [r.status for r in runs_of(services, catcher)] == ["succeeded"])
    [message] = fake_server.received("POST", "/api/chat.postMessage")
    text = message.json()["text"]
    assert text == (
        "confirm investment failed (permanent, 1 attempt) at notify: step notify: probe refused "
        f"http://127.0.0.1:8000/runs/{run_id} amount=150000"
    )
    # The failure's event is stored like a delivery, and holds the original event whole.
    [error_run] = runs_of(services, catcher)
    event, _ = services.runs.get_event(error_run.event_id)
    assert event.source == RUN_FAILED
    body = json.loads(event.body)
    assert body["event"] == TRANSACTION and body["run"]["id"] == run_id
    assert body["flow"] == {"id": flow_id, "name": "confirm investment"}


def test_an_error_flow_that_fails_starts_no_other_error_flow(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/api/chat.postMessage", (200, {"ok": False, "error": "not_in_channel"}))
    _, token = make_flow(services, FAILING)
    # Two error flows for every flow: each fails, and neither starts the other (nor itself).
    first = error_flow(services, fake_server.url, "first catcher")
    second = error_flow(services, fake_server.url, "second catcher")
    deliver(runtime, token)

    def both_failed() -> bool:
        return [r.status for r in runs_of(services, first) + runs_of(services, second)] == [
            "failed",
            "failed",
        ]

    run_until(runtime, both_failed)
    # Their failures were recorded with whatever they set off: had they started runs, these
    # would be queued by now.
    assert len(runs_of(services, first)) == len(runs_of(services, second)) == 1
    assert services.runs.list_runs(status=RunStatus.QUEUED) == []
    assert len(fake_server.received("POST", "/api/chat.postMessage")) == 2


def test_an_error_flow_takes_the_failures_it_asks_for(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/api/chat.postMessage", OK)
    gives_up = {**ECHO, "input": {"text": "x", "fail": "transient:99"}, "max_attempts": 2}
    refused_id, refused = make_flow(services, FAILING, name="refused")
    tired_id, tired = make_flow(services, gives_up, name="tired")
    permanent = error_flow(services, fake_server.url, "permanent only", failure="permanent")
    exhausted = error_flow(services, fake_server.url, "exhausted only", failure="exhausted")
    by_id = error_flow(services, fake_server.url, "tired only", flows=[tired_id])
    deliver(runtime, refused)
    deliver(runtime, tired)

    def settled() -> bool:
        flows = (permanent, exhausted, by_id)
        return all(r.status == "succeeded" for f in flows for r in runs_of(services, f))

    run_until(runtime, lambda: len(fake_server.received()) == 3 and settled())

    def failed_flow(flow_id: str) -> list[str]:
        names = []
        for run in runs_of(services, flow_id):
            event, _ = services.runs.get_event(run.event_id)
            names.append(json.loads(event.body)["flow"]["name"])
        return names

    assert failed_flow(permanent) == ["refused"]
    assert failed_flow(exhausted) == ["tired"]
    assert failed_flow(by_id) == ["tired"]
    assert services.flows.get(refused_id).row.failures_in_row == 1


def test_auto_pause_holds_the_next_delivery_and_a_resume_runs_it(
    runtime: Runtime, services: Blocking
) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "{{ event.fail | default('') }}"}}
    flow_id, token = make_flow(services, step, on_failure={"pause_after": 3})
    failing = {**TRANSACTION, "fail": "permanent"}
    for i in range(3):
        run_id = deliver(runtime, token, {**failing, "n": i}).run_ids[0]
        wait_status(runtime, services, run_id, RunStatus.FAILED)
    view = services.flows.get(flow_id)
    assert view.state == "paused" and view.row.failures_in_row == 3

    fourth = deliver(runtime, token, {**TRANSACTION, "n": 4})
    assert fourth.held
    assert services.runs.history(fourth.run_ids[0])[0].status == RunStatus.HELD

    view, released = services.flows.resume(flow_id)
    assert released == 1 and view.state == "enabled" and view.row.failures_in_row == 0
    wait_status(runtime, services, fourth.run_ids[0], RunStatus.SUCCEEDED)


def test_a_paused_flow_keeps_the_count_that_paused_it_until_resumed(
    runtime: Runtime, services: Blocking
) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "{{ event.fail | default('') }}"}}
    flow_id, token = make_flow(services, step, on_failure={"pause_after": 2})
    failed = []
    for i in range(2):
        failed.append(deliver(runtime, token, {"fail": "permanent", "n": i}).run_ids[0])
        wait_status(runtime, services, failed[-1], RunStatus.FAILED)
    # While paused, a held run released succeeds, and a failed run replayed fails again:
    # neither changes the number the pause is told with.
    [held] = deliver(runtime, token, {"n": 2}).run_ids
    assert services.runs.release_held(flow_id) == 1
    wait_status(runtime, services, held, RunStatus.SUCCEEDED)
    services.runs.replay(failed[0])
    wait_status(runtime, services, failed[0], RunStatus.FAILED)
    view = services.flows.get(flow_id)
    assert view.state == "paused" and view.row.failures_in_row == 2

    view, _ = services.flows.resume(flow_id)
    assert view.state == "enabled" and view.row.failures_in_row == 0


def test_a_success_ends_the_failures_in_a_row(runtime: Runtime, services: Blocking) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "{{ event.fail | default('') }}"}}
    flow_id, token = make_flow(services, step, on_failure={"pause_after": 3})
    for i, fail in enumerate(["permanent", "permanent", "", "permanent", "permanent"]):
        run_id = deliver(runtime, token, {"fail": fail, "n": i}).run_ids[0]
        wait_status(runtime, services, run_id, RunStatus.FAILED, RunStatus.SUCCEEDED)
    view = services.flows.get(flow_id)
    assert view.state == "enabled" and view.row.failures_in_row == 2


def test_pausing_holds_the_runs_already_queued(make_settings: Callable[..., Settings]) -> None:
    runtime = Runtime(make_settings(worker_concurrency=1), registry=Registry([probe]))
    runtime.open()
    try:
        services = Blocking(runtime.services)
        flow_id, token = make_flow(services, FAILING, on_failure={"pause_after": 1})
        # Three deliveries queued at once, run one at a time: the first failure pauses the
        # flow, and the other two wait, held, instead of failing in turn.
        accepted = [deliver(runtime, token, {"n": i}) for i in range(3)]
        run_until(runtime, lambda: services.flows.get(flow_id).state == "paused")
        statuses = [services.runs.history(a.run_ids[0])[0].status for a in accepted]
        assert statuses == [RunStatus.FAILED, RunStatus.HELD, RunStatus.HELD]
    finally:
        runtime.close()


def test_an_error_flow_naming_an_unknown_flow_is_saved_with_a_warning(
    services: Blocking, fake_server: FakeServer
) -> None:
    catcher = error_flow(services, fake_server.url, flows=["confirm investment", "nowhere"])
    make_flow(services, FAILING, name="confirm investment")
    assert services.flows.get(catcher).warnings == [
        "trigger.flows: no flow is named 'nowhere': its failures would start this flow"
    ]
