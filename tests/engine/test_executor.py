"""The engine end to end without HTTP: intake → queue → worker → executor → ledger."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from maillon.connectors.registry import Registry
from maillon.engine.executor import RetryPolicy
from maillon.engine.flows import FlowDocument
from maillon.engine.intake import Accepted, UnknownHook
from maillon.engine.models import RunStatus, StepStatus
from maillon.engine.queue import ClaimRuns, RecordStep, StepRecord
from maillon.engine.redaction import MASK as SECRET_MASK
from maillon.engine.runtime import Runtime
from maillon.engine.services.runs import ReplayWith
from maillon.engine.settings import Settings
from tests.support.flows import (
    ECHO,
    TRANSACTION,
    claimed_by_a_dying_worker,
    deliver,
    make_flow,
    wait_status,
    webhook,
)
from tests.support.probe import SendEcho, calls, probe
from tests.support.services import Blocking


def test_a_delivery_runs_its_steps_with_rendered_templates(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(
        services,
        ECHO,
        {
            "key": "second",
            "action": "probe.send_echo_sync",
            "connection": "p1",
            "input": {"text": "after {{ steps.notify.text }}", "number": "{{ event.amount }}"},
        },
    )
    accepted = deliver(runtime, token)
    run, steps = wait_status(runtime, services, accepted.run_ids[0], RunStatus.SUCCEEDED)
    assert [s.step_key for s in steps] == ["notify", "second"]
    first, second = (json.loads(s.output) for s in steps)
    assert first["text"] == "1,500.00 EUR PENDING"
    assert first["label"] == "conn-label"
    assert first["idempotency_key"] == f"{run.id}:notify"
    assert second["text"] == "after 1,500.00 EUR PENDING"
    assert second["number"] == 150000
    assert json.loads(steps[1].input) == {"text": "after 1,500.00 EUR PENDING", "number": 150000}


def test_secret_inputs_reach_the_action_but_are_not_recorded(
    runtime: Runtime, services: Blocking
) -> None:
    ok = {**ECHO, "input": {"text": "x", "secret": "{{ event.currency }}-s3cret"}}
    bad = {**ECHO, "key": "bad", "input": {"text": "y", "secret": "s3cret", "fail": "permanent"}}
    _, token = make_flow(services, ok, bad)
    _, steps = wait_status(runtime, services, deliver(runtime, token).run_ids[0], RunStatus.FAILED)
    assert [c["secret"] for c in calls.log] == ["EUR-s3cret", "s3cret"]
    assert [json.loads(s.input) for s in steps] == [
        {"text": "x", "secret": SECRET_MASK},
        {"text": "y", "secret": SECRET_MASK, "fail": "permanent"},
    ]


def test_transient_errors_are_retried_then_succeed(runtime: Runtime, services: Blocking) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "transient:2", "retry_after": 0}}
    _, token = make_flow(services, step)
    run_id = deliver(runtime, token).run_ids[0]
    run, steps = wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    assert [c["attempt"] for c in calls.log] == [1, 2, 3]
    assert steps[0].attempts == 3
    assert run.claims == 3


def test_transient_errors_give_up_after_max_attempts(runtime: Runtime, services: Blocking) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "transient:99"}, "max_attempts": 3}
    _, token = make_flow(services, step)
    run_id = deliver(runtime, token).run_ids[0]
    run, steps = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert len(calls.log) == 3
    assert run.error == "step notify: probe busy (gave up after 3 attempts)"
    assert steps[0].status == "failed"


def test_a_single_attempt_is_counted_in_the_singular(runtime: Runtime, services: Blocking) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "transient:99"}, "max_attempts": 1}
    _, token = make_flow(services, step)
    run_id = deliver(runtime, token).run_ids[0]
    run, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error == "step notify: probe busy (gave up after 1 attempt)"


def test_retry_after_is_honoured(runtime: Runtime, services: Blocking) -> None:
    step = {**ECHO, "input": {"text": "x", "fail": "transient:1", "retry_after": 0.4}}
    _, token = make_flow(services, step)
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    first, second = calls.log
    assert (first["attempt"], second["attempt"]) == (1, 2)
    # The backoff alone would have been ~0.01 s: the wait is the server's Retry-After.
    assert second["at"] - first["at"] >= 0.4


def test_permanent_error_fails_at_once_and_later_steps_do_not_run(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(
        services, {**ECHO, "input": {"text": "x", "fail": "permanent"}}, {**ECHO, "key": "after"}
    )
    run_id = deliver(runtime, token).run_ids[0]
    run, steps = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert len(calls.log) == 1
    assert run.error == "step notify: probe refused"
    assert [s.step_key for s in steps] == ["notify"]
    assert json.loads(steps[0].input) == {"text": "x", "fail": "permanent"}
    # What the connector said besides the message is kept with the step.
    assert json.loads(steps[0].details) == {"code": "nope"}


def test_template_and_validation_errors_name_the_field(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, {**ECHO, "input": {"text": "{{ event.missing }}"}})
    run_id = deliver(runtime, token).run_ids[0]
    run, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error == "step notify: template error in input.text: no field 'missing'"

    _, token = make_flow(services, {**ECHO, "input": {"text": "x", "number": "{{ event.status }}"}})
    run_id = deliver(runtime, token).run_ids[0]
    run, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error is not None
    assert run.error.startswith(
        "step notify: invalid input: number: Input should be a valid integer"
    )


def test_replay_resumes_at_the_failed_step(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(
        services, {**ECHO, "key": "first"}, {**ECHO, "input": {"text": "x", "fail": "transient:2"}}
    )
    flow_spec_steps = 2
    flow = services.flows.all()[0]
    doc = FlowDocument.model_validate(flow.document)
    second = doc.actions()[1]
    second.max_attempts = 1
    services.flows.save(doc, flow.row.id)
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert [c["key"].split(":")[1] for c in calls.log] == ["first", "notify"]

    second.max_attempts = 3
    services.flows.save(doc, flow.row.id)
    # The probe fails once more, then succeeds: the fixed version's budget, afresh.
    services.runs.replay(run_id, ReplayWith.CURRENT)
    run, steps = wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    # "first" succeeded before and was not run again.
    assert [c["key"].split(":")[1] for c in calls.log] == ["first", "notify", "notify", "notify"]
    assert len(steps) == flow_spec_steps
    assert run.error is None


def test_a_step_recorded_twice_in_one_write_keeps_the_later_record(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO)
    run_id = deliver(runtime, token).run_ids[0]
    runtime.writer.submit_sync(ClaimRuns("worker", 10, lease_seconds=60))
    now = time.time()
    first = StepRecord("notify", 0, StepStatus.FAILED, 1, now, now, error="refused")
    again = StepRecord("notify", 0, StepStatus.SUCCEEDED, 2, now, now, None, {"ok": True})
    # One upsert statement cannot touch a row twice (PostgreSQL refuses it): the later wins,
    # as if the two had been written one after the other.
    runtime.writer.submit_sync(
        RecordStep(run_id, "worker", 60, again, RunStatus.SUCCEEDED, also=(first,))
    )
    run, steps, _ = services.runs.history(run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert [(s.step_key, s.status, s.attempts, s.error) for s in steps] == [
        ("notify", StepStatus.SUCCEEDED, 2, None)
    ]


def test_only_failed_or_held_runs_replay(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(services, ECHO)
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    with pytest.raises(ValueError, match="only failed, held or cancelled runs replay"):
        services.runs.replay(run_id)


def test_a_run_of_a_dead_worker_is_recovered_without_rerunning_done_steps(
    runtime: Runtime, services: Blocking
) -> None:
    # A worker claims the run with a short lease, records the first step, then dies.
    run_id = claimed_by_a_dying_worker(runtime, services)
    now = time.time()
    done = StepRecord(
        "first", 0, StepStatus.SUCCEEDED, 1, now, now, {"text": "x"}, {"text": "from before"}
    )
    runtime.writer.submit_sync(RecordStep(run_id, "dead-worker", 0.3, done))
    # Nobody may take it while the lease holds.
    assert runtime.writer.submit_sync(ClaimRuns("other", 10, 60)).runs == []
    # The lease running out is what recovers a dead worker's run: wait it out (0.3 s).
    time.sleep(0.35)

    run, steps = wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    assert [c["key"].split(":")[1] for c in calls.log] == ["second"]
    assert json.loads(steps[0].output) == {"text": "from before"}
    assert run.claims == 2
    # The dead worker coming back cannot overwrite what the new owner recorded.
    with pytest.raises(Exception, match=run_id):
        runtime.writer.submit_sync(
            RecordStep(run_id, "dead-worker", 1, None, RunStatus.FAILED, "x")
        )


def test_unknown_token_is_refused_and_stores_nothing(runtime: Runtime, services: Blocking) -> None:
    with pytest.raises(UnknownHook):
        deliver(runtime, "no-such-token")
    assert services.runs.list_events() == []


def test_duplicates_by_idempotency_key_and_by_dedup_template(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO, trigger={"type": "webhook", "dedup": "{{ event.id }}"})
    first = deliver(runtime, token)
    again = deliver(runtime, token, {**TRANSACTION, "status": "SUCCEEDED"})
    assert again.duplicate
    assert (again.event_id, again.run_ids) == (first.event_id, first.run_ids)
    other = deliver(runtime, token, {**TRANSACTION, "id": "another"})
    assert not other.duplicate

    _, token2 = make_flow(services, {**ECHO, "key": "k2"})
    a = deliver(runtime, token2, key="abc")
    b = deliver(runtime, token2, key="abc")
    assert b.duplicate
    assert b.event_id == a.event_id
    assert len(services.runs.list_events()) == 3


def test_duplicates_inside_one_batch(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(services, ECHO)

    async def burst() -> list[Accepted]:
        return await asyncio.gather(
            *[webhook(runtime, token, {}, "same-key" if i % 2 else None) for i in range(20)]
        )

    results = asyncio.run(burst())
    keyed = [r for i, r in enumerate(results) if i % 2]
    assert len({r.event_id for r in keyed}) == 1
    assert sum(r.duplicate for r in keyed) == 9
    # A copy answered in the batch that stores the original is told the original's runs too.
    assert {tuple(r.run_ids) for r in keyed} == {tuple(keyed[0].run_ids)}
    assert len(keyed[0].run_ids) == 1
    assert len(services.runs.list_events()) == 11


@pytest.mark.parametrize("resume", ["release", "replay"])
def test_disabled_flow_holds_events_until_released(
    runtime: Runtime, services: Blocking, resume: str
) -> None:
    flow_id, token = make_flow(services, ECHO, enabled=False)
    accepted = deliver(runtime, token)
    assert accepted.held
    [held] = accepted.run_ids
    assert services.runs.history(held)[0].status == RunStatus.HELD

    # A run queued after the held one, on an enabled flow: once it has succeeded, a worker has
    # claimed with the held run in the table, and left it alone.
    _, other_token = make_flow(services, {**ECHO, "key": "other"})
    [later] = deliver(runtime, other_token).run_ids
    wait_status(runtime, services, later, RunStatus.SUCCEEDED)
    assert services.runs.history(held)[0].status == RunStatus.HELD
    assert [c["key"] for c in calls.log] == [f"{later}:other"]

    if resume == "release":
        assert services.runs.release_held(flow_id) == 1
    else:
        services.runs.replay(held)
    run, _ = wait_status(runtime, services, held, RunStatus.SUCCEEDED)
    assert run.claims == 1
    assert [c["key"] for c in calls.log] == [f"{later}:other", f"{held}:notify"]


def test_concurrent_deliveries_share_commits(runtime: Runtime, services: Blocking) -> None:
    _, token = make_flow(services, ECHO)
    before = runtime.writer.commits

    async def burst() -> list[Accepted]:
        return await asyncio.gather(*[webhook(runtime, token, {"i": i}) for i in range(200)])

    results = asyncio.run(burst())
    assert len({r.event_id for r in results}) == 200
    assert runtime.writer.commits - before < 200
    assert len(services.runs.list_events(limit=500)) == 200


def test_a_template_past_its_budget_fails_its_step_and_stalls_nothing(
    make_settings: Any, services: Blocking
) -> None:
    # A render used to run on the event loop: for as long as it took, no delivery was
    # answered and no lease was extended, so another worker took the run over and ran it
    # again. Now it renders in a worker thread and stops itself at its budget.
    rt = Runtime(make_settings(template_time_budget=0.5), registry=Registry([probe]))
    rt.open()
    try:
        slow = {
            **ECHO,
            "input": {
                "text": "{% for a in range(99999) %}{% for b in range(99999) %}"
                "{% endfor %}{% endfor %}"
            },
        }
        own = Blocking(rt.services)
        _, token = make_flow(own, slow)
        _, other = make_flow(own, {**ECHO, "key": "quick"})

        async def main() -> tuple[float, float]:
            rt.start_workers(1)
            try:
                run_id = (await webhook(rt, token)).run_ids[0]
                await asyncio.sleep(0.1)  # the render is under way
                started = time.monotonic()
                await webhook(rt, other)
                answered = time.monotonic() - started
                lag = 0.0
                while (await rt.services.runs.history(run_id))[0].status != RunStatus.FAILED:
                    tick = time.monotonic()
                    await asyncio.sleep(0.01)
                    lag = max(lag, time.monotonic() - tick)
                return answered, lag
            finally:
                await rt.stop_workers()

        answered, lag = asyncio.run(main())
        assert answered < 0.3
        assert lag < 0.3
        run_id = own.runs.list_runs(status=RunStatus.FAILED)[0].id
        run, _, _ = own.runs.history(run_id)
        assert "time budget of 0.5s" in (run.error or "")
        assert run.claims == 1
    finally:
        rt.close()


def test_an_error_text_with_a_nul_byte_is_recorded_and_the_run_ends(
    runtime: Runtime, services: Blocking
) -> None:
    # PostgreSQL refuses NUL in text: recording the step failed, the run stayed running and
    # was run again after every lease expiry, without end.
    step = {**ECHO, "input": {"text": "x", "fail": "permanent:{{ event.why }}"}}
    _, token = make_flow(services, step)
    run_id = deliver(runtime, token, {"why": "bad\x00byte"}).run_ids[0]
    run, steps = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error == "step notify: bad\ufffdbyte"
    assert steps[0].error == "bad\ufffdbyte"
    # In JSON, NUL is written \u0000: the recorded input keeps it exactly.
    assert json.loads(steps[0].input)["fail"] == "permanent:bad\x00byte"
    assert len(calls.log) == 1


def test_a_run_taken_over_too_often_fails_as_a_poison_run(
    runtime: Runtime, services: Blocking
) -> None:
    _, token = make_flow(services, ECHO)
    run_id = deliver(runtime, token).run_ids[0]
    # Each worker claims it and dies without recording anything; the lease runs out.
    for worker in ("w1", "w2", "w3"):
        claimed = runtime.writer.submit_sync(ClaimRuns(worker, 10, 0.01, max_takeovers=1))
        if worker == "w3":
            assert claimed.runs == []
        else:
            assert [r.id for r in claimed.runs] == [run_id]
        time.sleep(0.02)
    run, _, _ = services.runs.history(run_id)
    assert run.status == RunStatus.FAILED
    assert run.takeovers == 2
    assert (run.error or "").startswith("poison run: claimed again 2 times after its lease")
    assert services.runs.detail(run_id).can_replay
    # Replayed (its cause fixed), it starts afresh: claimed, not poisoned again at once.
    assert services.runs.replay(run_id).takeovers == 0
    claimed = runtime.writer.submit_sync(ClaimRuns("w4", 10, 30, max_takeovers=1))
    assert [r.id for r in claimed.runs] == [run_id]


def test_a_run_whose_step_cannot_be_recorded_fails_instead_of_running_again(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    import maillon.engine.queue

    def unrecordable(run_id: str, step: StepRecord) -> dict[str, Any]:
        raise ValueError("the database refused the row")

    monkeypatch.setattr(maillon.engine.queue, "_step_row", unrecordable)
    _, token = make_flow(services, ECHO)
    run_id = deliver(runtime, token).run_ids[0]
    run, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error == (
        "the engine could not go on with this run (ValueError: the database refused the row)"
    )
    assert len(calls.log) == 1


def test_a_stopping_worker_queues_its_run_again_before_the_next_action(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stopping waits for the step in progress, not for the whole run: a process killed at the
    # end of its grace would leave that step to be sent again.
    _, token = make_flow(services, {**ECHO, "key": "first"}, {**ECHO, "key": "second"})
    run_id = deliver(runtime, token).run_ids[0]
    stop = asyncio.Event()
    echo = SendEcho.run

    async def stopped_meanwhile(self: SendEcho, *args: Any) -> Any:
        stop.set()  # SIGTERM arrives while the first step runs
        return await echo(self, *args)

    monkeypatch.setattr(SendEcho, "run", stopped_meanwhile)
    (claimed,) = runtime.writer.submit_sync(ClaimRuns("stopping", 10, 60)).runs
    assert asyncio.run(runtime.executor.execute(claimed, "stopping", stop)) is True
    run, steps, _ = services.runs.history(run_id)
    assert run.status == RunStatus.QUEUED
    assert run.error is not None and "step second not started" in run.error
    assert [(s.step_key, s.status) for s in steps] == [("first", StepStatus.SUCCEEDED)]

    monkeypatch.setattr(SendEcho, "run", echo)
    _, steps = wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    assert [c["key"].split(":")[1] for c in calls.log] == ["first", "second"]


def test_what_a_run_records_is_written_in_the_install_language(
    make_settings: Callable[..., Settings],
) -> None:
    """Everyone reads the same record: it speaks MAILLON_DEFAULT_LOCALE, whoever acted."""
    calls.clear()
    rt = Runtime(make_settings(default_locale="fr"), registry=Registry([probe]))
    rt.open()
    try:
        services = Blocking(rt.services)
        refused = {**ECHO, "input": {"text": "x", "fail": "transient:99"}, "max_attempts": 1}
        _, token = make_flow(services, refused)
        waiting = deliver(rt, token).run_ids[0]
        assert services.runs.cancel(waiting, by="ops").error == "annulée par ops"
        run, _ = wait_status(rt, services, deliver(rt, token).run_ids[0], RunStatus.FAILED)
        assert run.error == "étape notify\u00a0: probe busy (abandon après 1 tentative)"

        big = {"all": [{"value": "{{ event.amount }}", "op": "greater_than", "to": 10**9}]}
        _, token = make_flow(services, {"key": "big", "filter": big}, ECHO)
        run, _ = wait_status(rt, services, deliver(rt, token).run_ids[0], RunStatus.FILTERED)
        assert (
            run.error == "étape big\u00a0: event.amount (150000) n’est pas supérieur à 1000000000"
        )

        _, token = make_flow(services, ECHO)
        queued = deliver(rt, token).run_ids[0]
        for worker in ("w1", "w2", "w3"):
            rt.writer.submit_sync(ClaimRuns(worker, 10, 0.01, max_takeovers=1, locale="fr"))
            time.sleep(0.02)
        poisoned, _, _ = services.runs.history(queued)
        assert (poisoned.error or "").startswith("exécution empoisonnée\u00a0: reprise 2 fois")
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("asked", "waits"), [(30.0, 30.0), (-5.0, 0.0), (99_999_999_999.0, 86_400.0)]
)
def test_an_apps_retry_after_is_followed_up_to_a_day(asked: float, waits: float) -> None:
    assert RetryPolicy(base_delay=2, max_delay=600).delay(1, asked) == waits
