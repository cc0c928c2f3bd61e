"""Filter, paths, loops, delays and format steps, run by the real queue, worker and executor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from maillon.connectors.http import connector as http
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus, StepStatus
from maillon.engine.runtime import Runtime
from maillon.engine.services.runs import ReplayWith
from maillon.engine.settings import Settings
from tests.support.db import run_until
from tests.support.flows import TRANSACTION, deliver, make_flow, wait_status
from tests.support.probe import calls, probe
from tests.support.services import Blocking


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """The probe and the HTTP connector (to post to a fake server)."""
    calls.clear()
    rt = Runtime(make_settings(), registry=Registry([probe, http]))
    rt.open()
    yield rt
    rt.close()


def echo(key: str, text: str, **extra: object) -> dict[str, object]:
    return {"key": key, "action": "probe.send_echo", "connection": "p1", "input": {"text": text}}


def big_only(threshold: int = 100_000) -> dict[str, object]:
    return {
        "key": "big_only",
        "filter": {"all": [{"value": "{{ event.amount }}", "op": "greater_than", "to": threshold}]},
    }


def test_a_filter_that_holds_lets_the_run_go_on(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(
        services, big_only(), echo("notify", "passed: {{ steps.big_only.passed }}")
    )
    _run, steps = wait_status(
        runtime, services, deliver(runtime, token).run_ids[0], "succeeded", "failed", "filtered"
    )
    assert [(s.step_key, s.status) for s in steps] == [
        ("big_only", "succeeded"),
        ("notify", "succeeded"),
    ]
    assert [c["text"] for c in calls.log] == ["passed: True"]


def test_a_filter_that_does_not_hold_ends_the_run_filtered_saying_why(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, big_only(200_000), echo("notify", "never"))
    run_id = deliver(runtime, token).run_ids[0]
    run, steps = wait_status(runtime, services, run_id, "filtered", "failed")
    assert run.status == RunStatus.FILTERED
    assert run.error == "step big_only: event.amount (150000) is not greater than 200000"
    assert run.finished_at is not None
    assert [(s.step_key, s.status) for s in steps] == [("big_only", StepStatus.FILTERED)]
    assert calls.log == []
    # Counted apart from successes and failures, and listed under its own status.
    [filtered] = services.runs.list_runs(flow_id, RunStatus.FILTERED)
    assert filtered.id == run_id
    board = services.stats.dashboard()
    assert sum(h.filtered for h in board.hours) == 1
    assert sum(h.failed + h.succeeded for h in board.hours) == 0
    assert services.stats.activity([flow_id])[flow_id].last_state == RunStatus.FILTERED


def _paths(mode: str) -> dict[str, object]:
    return {
        "key": "route",
        "paths": {
            "mode": mode,
            "branches": [
                {
                    "name": "refunds",
                    "when": {
                        "any": [{"value": "{{ event.status }}", "op": "equals", "to": "REFUNDED"}]
                    },
                    "steps": [echo("refund_note", "refund {{ event.id }}")],
                },
                {
                    "name": "big",
                    "when": {
                        "all": [{"value": "{{ event.amount }}", "op": "at_least", "to": 100000}]
                    },
                    "steps": [
                        echo("big_note", "big {{ event.amount }}"),
                        echo("big_again", "after {{ steps.big_note.text }}"),
                    ],
                },
                {"name": "otherwise", "steps": [echo("other_note", "other")]},
            ],
        },
    }


@pytest.mark.parametrize(
    ("mode", "status", "branches", "texts"),
    [
        ("first", "REFUNDED", ["refunds"], ["refund tx-1"]),
        ("first", "PENDING", ["big"], ["big 150000", "after big 150000"]),
        (
            "every",
            "REFUNDED",
            ["refunds", "big", "otherwise"],
            ["refund tx-1", "big 150000", "after big 150000", "other"],
        ),
    ],
)
def test_paths_run_the_first_or_every_matching_branch_then_the_steps_after(
    runtime: Runtime,
    services: Blocking,
    mode: str,
    status: str,
    branches: list[str],
    texts: list[str],
) -> None:
    after = echo("after", "{{ steps.route.branches | join(',') }} {{ steps.before.text }}")
    _, token = make_flow(services, echo("before", "first"), _paths(mode), after)
    body = {**TRANSACTION, "id": "tx-1", "status": status}
    _run, steps = wait_status(
        runtime, services, deliver(runtime, token, body).run_ids[0], "succeeded"
    )
    assert [c["text"] for c in calls.log] == ["first", *texts, f"{','.join(branches)} first"]
    route = next(s for s in steps if s.step_key == "route")
    assert json.loads(route.output)["branches"] == branches
    # The ledger in the order of the flow, branches included.
    assert [s.step_key for s in steps] == ["before", "route", *_keys(texts), "after"]


def _keys(texts: list[str]) -> list[str]:
    names = {
        "refund": "refund_note",
        "big": "big_note",
        "after": "big_again",
        "other": "other_note",
    }
    return [names[t.split()[0]] for t in texts]


def test_a_retry_inside_a_branch_repeats_no_step_that_succeeded(
    runtime: Runtime, services: Blocking
) -> None:
    flaky = {
        "key": "flaky",
        "action": "probe.send_echo",
        "connection": "p1",
        "input": {"text": "flaky", "fail": "transient:2", "retry_after": 0},
    }
    paths = {
        "key": "route",
        "paths": {"branches": [{"name": "all", "steps": [echo("one", "one"), flaky]}]},
    }
    _, token = make_flow(services, echo("before", "before"), paths, echo("after", "after"))
    run, steps = wait_status(
        runtime, services, deliver(runtime, token).run_ids[0], "succeeded", "failed", "filtered"
    )
    assert [c["text"] for c in calls.log] == ["before", "one", "flaky", "flaky", "flaky", "after"]
    assert run.claims == 3
    assert {s.step_key: s.attempts for s in steps}["flaky"] == 3


def test_a_loop_posts_once_per_item_and_retries_only_the_item_that_failed(
    runtime: Runtime, services: Blocking, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/rows/0", (200, {"row": 0}))
    fake_server.on(
        "POST", "/rows/1", (503, {"busy": True}, {"Retry-After": "0"}), (200, {"row": 1})
    )
    fake_server.on("POST", "/rows/2", (200, {"row": 2}))
    step = {
        "key": "rows",
        "action": "http.send_request",
        "for_each": "{{ event.items }}",
        "input": {
            "method": "POST",
            "url": fake_server.url + "rows/{{ loop.index0 }}",
            "json_body": {
                "sku": "{{ item.sku }}",
                "n": "{{ loop.index }}",
                "of": "{{ loop.length }}",
            },
        },
    }
    summary = echo("summary", "{{ steps.rows | map(attribute='body.row') | join('+') }}")
    _, token = make_flow(services, step, summary)
    body = {**TRANSACTION, "items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]}
    run, steps = wait_status(
        runtime, services, deliver(runtime, token, body).run_ids[0], "succeeded", "failed"
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    sent = [(r.path, r.json()) for r in fake_server.received("POST")]
    assert sent == [
        ("/rows/0", {"sku": "A", "n": 1, "of": 3}),
        ("/rows/1", {"sku": "B", "n": 2, "of": 3}),
        ("/rows/1", {"sku": "B", "n": 2, "of": 3}),
        ("/rows/2", {"sku": "C", "n": 3, "of": 3}),
    ]
    keys = [r.headers.get("idempotency-key") for r in fake_server.received("POST")]
    assert keys[1] == keys[2] == f"{run.id}:rows[1]"
    by_key = {s.step_key: s for s in steps}
    assert {k: by_key[k].attempts for k in ("rows[0]", "rows[1]", "rows[2]")} == {
        "rows[0]": 1,
        "rows[1]": 2,
        "rows[2]": 1,
    }
    assert [o["body"] for o in json.loads(by_key["rows"].output)] == [
        {"row": 0},
        {"row": 1},
        {"row": 2},
    ]
    assert calls.log[-1]["text"] == "0+1+2"


def test_a_loop_over_something_not_a_list_fails_in_words(
    runtime: Runtime, services: Blocking
) -> None:
    step = {**echo("each", "{{ item }}"), "for_each": "{{ event.currency }}"}
    _, token = make_flow(services, step)
    run, _ = wait_status(runtime, services, deliver(runtime, token).run_ids[0], "failed")
    assert run.error == "step each: for_each gave a text, not a list of items"


def test_a_delay_parks_the_run_in_the_queue_until_its_time(
    runtime: Runtime, services: Blocking
) -> None:
    wait = {"key": "wait", "delay": {"duration": "1s"}}
    _, token = make_flow(services, echo("before", "before"), wait, echo("after", "after"))
    started = time.time()
    run_id = deliver(runtime, token).run_ids[0]
    run_until(runtime, lambda: len(services.runs.history(run_id)[1]) == 2)
    parked, steps, _ = services.runs.history(run_id)
    # Parked: queued, due in a second, holding no worker (no lease), the delay waiting.
    assert parked.status == RunStatus.QUEUED and parked.lease_owner is None
    assert parked.available_at == pytest.approx(started + 1, abs=0.5)
    assert parked.error is None  # waiting is no error
    assert {s.step_key: s.status for s in steps} == {"before": "succeeded", "wait": "waiting"}
    _run, steps = wait_status(runtime, services, run_id, "succeeded")
    assert time.time() - started >= 1
    assert [c["text"] for c in calls.log] == ["before", "after"]
    assert [s.status for s in steps] == ["succeeded"] * 3
    # The delay took the whole wait.
    assert steps[1].started_at is not None and steps[1].finished_at is not None
    assert steps[1].finished_at - steps[1].started_at >= 0.9


def test_a_delay_until_a_templated_date_time(runtime: Runtime, services: Blocking) -> None:
    wait = {"key": "wait", "delay": {"until": "{{ event.remind_at }}"}}
    _, token = make_flow(services, wait, echo("after", "after"))
    due = time.time() + 1.5
    remind_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + f".{int(due % 1 * 1e6):06d}Z"
    body = {**TRANSACTION, "remind_at": remind_at}
    run, steps = wait_status(
        runtime, services, deliver(runtime, token, body).run_ids[0], "succeeded"
    )
    assert json.loads(steps[0].output)["until"] == pytest.approx(due, abs=0.01)
    assert calls.log[0]["at"] >= 0  # the action ran, after the delay
    assert run.claims == 2


def test_a_format_step_names_values_later_steps_read(runtime: Runtime, services: Blocking) -> None:
    fmt = {
        "key": "pretty",
        "format": {
            "amount": "{{ event.amount | money(event.currency, 'fr_FR') }}",
            "day": "{{ '2026-05-04T09:15:00Z' | date('full', 'Europe/Paris', 'fr_FR') }}",
            "status": "{{ event.status | lookup({'PENDING': 'en attente'}) }}",
        },
    }
    _, token = make_flow(
        services,
        fmt,
        echo(
            "notify", "{{ steps.pretty.amount }}, {{ steps.pretty.day }}, {{ steps.pretty.status }}"
        ),
    )
    wait_status(
        runtime, services, deliver(runtime, token).run_ids[0], "succeeded", "failed", "filtered"
    )
    assert calls.log[0]["text"] == "1\u202f500,00\xa0€, lundi 4 mai 2026, en attente"


def test_replaying_a_failed_run_keeps_the_branch_chosen_then(
    runtime: Runtime, services: Blocking
) -> None:
    broken = {
        "key": "broken",
        "action": "probe.send_echo",
        "connection": "p1",
        "input": {"text": "{{ event.missing }}"},
    }
    paths = {
        "key": "route",
        "paths": {"branches": [{"name": "only", "steps": [echo("one", "one"), broken]}]},
    }
    flow_id, token = make_flow(services, paths)
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, "failed")
    document = services.flows.get(flow_id).document
    document["steps"][0]["paths"]["branches"][0]["steps"][1]["input"]["text"] = "fixed"
    services.flows.save(FlowDocument.model_validate(document), flow_id)
    services.runs.replay(run_id, ReplayWith.CURRENT)
    _run, _ = wait_status(runtime, services, run_id, "succeeded")
    assert [c["text"] for c in calls.log] == ["one", "fixed"]
