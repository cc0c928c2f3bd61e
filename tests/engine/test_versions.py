"""Drafts, published versions and runs that keep theirs: publishing under load, history,
diff, restore, replay with either version, and a trigger change moving an app registration."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from examples.particeep.fake_api import FakeParticeep
from maillon.engine.errors import Conflict, NotFound
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.services.runs import ReplayWith
from maillon.engine.settings import Settings
from maillon.engine.versions import ChangeKind, diff_specs, format_change
from tests.support.flows import deliver, make_flow, wait_status, webhook
from tests.support.probe import calls
from tests.support.services import Blocking

pytestmark = pytest.mark.postgres

HTTP_STEP = {"method": "POST", "url": "http://127.0.0.1:9/", "json_body": {"id": "{{ event.id }}"}}


def _steps(version: str, fail: str | None = None) -> list[dict[str, Any]]:
    """Two steps that each say which version they belong to."""
    second: dict[str, Any] = {"text": f"{version}-b"}
    if fail:
        second["fail"] = fail
    return [
        {
            "key": "a",
            "action": "probe.send_echo",
            "connection": "p1",
            "input": {"text": f"{version}-a"},
        },
        {"key": "b", "action": "probe.send_echo", "connection": "p1", "input": second},
    ]


def _draft(services: Blocking, flow_id: str, version: str, **extra: Any) -> None:
    doc = {"name": "test", "steps": _steps(version), **extra}
    services.flows.save_draft(FlowDocument.model_validate(doc), flow_id, author="ana@example.com")


def _texts_by_run() -> dict[str, list[str]]:
    by_run: dict[str, list[str]] = {}
    for call in calls.log:
        by_run.setdefault(call["key"].split(":")[0], []).append(call["text"])
    return by_run


def test_a_draft_changes_nothing_until_it_is_published(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    _draft(services, flow_id, "v2")
    view = services.flows.get(flow_id)
    assert view.row.version == 1 and view.spec.steps[0].input == {"text": "v1-a"}
    assert view.draft is not None and view.editing.steps[0].input == {"text": "v2-a"}
    assert view.row.draft_author == "ana@example.com"

    before = deliver(runtime, token).run_ids[0]
    published = services.flows.publish(flow_id, author="ana@example.com", note="v2 texts")
    assert published.row.version == 2 and published.draft is None
    assert published.row.hook_token == token  # the URL senders know stays
    after = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, after, RunStatus.SUCCEEDED)
    wait_status(runtime, services, before, RunStatus.SUCCEEDED)

    texts = _texts_by_run()
    assert texts[before] == ["v1-a", "v1-b"]  # queued before the publish: the version it had
    assert texts[after] == ["v2-a", "v2-b"]
    assert services.runs.history(before)[0].flow_version == 1
    assert services.runs.history(after)[0].flow_version == 2
    with pytest.raises(Conflict, match="no unpublished changes"):
        services.flows.publish(flow_id)


def test_publishing_mid_load_gives_every_run_one_whole_version(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    _draft(services, flow_id, "v2")
    created: dict[str, int] = {}  # run id → the version published when it was created

    async def load() -> None:
        runtime.start_workers(2)
        try:
            version = 1
            for i in range(60):
                if i == 30:
                    # Published while the workers are busy with the first runs.
                    await runtime.services.flows.publish(flow_id, author="cli")
                    version = 2
                accepted = await webhook(runtime, token, {"i": i})
                created[accepted.run_ids[0]] = version
            deadline = asyncio.get_running_loop().time() + 20
            while len(_texts_by_run()) < 60 or any(len(t) < 2 for t in _texts_by_run().values()):
                assert asyncio.get_running_loop().time() < deadline, "runs did not finish"
                await asyncio.sleep(0.02)
        finally:
            await runtime.stop_workers()

    asyncio.run(load())
    texts = _texts_by_run()
    for run_id, version in created.items():
        assert texts[run_id] == [f"v{version}-a", f"v{version}-b"], run_id
        assert services.runs.history(run_id)[0].flow_version == version
    assert sum(1 for v in created.values() if v == 1) == 30


def test_history_diff_and_restore(runtime: Runtime, services: Blocking) -> None:
    flow_id, _ = make_flow(services, *_steps("v1"))
    _draft(services, flow_id, "v2", description="second")
    services.flows.publish(flow_id, author="ana@example.com", note="texts in v2")

    _, versions = services.flows.history(flow_id)
    assert [(v.version, v.author, v.note) for v in versions] == [
        (2, "ana@example.com", "texts in v2"),
        (1, None, None),
    ]
    changes = services.flows.diff(flow_id, 1, 2)
    assert [format_change(c) for c in changes] == [
        '~ description: "" → "second"',
        '~ steps[a].input.text: "v1-a" → "v2-a"',
        '~ steps[b].input.text: "v1-b" → "v2-b"',
    ]
    # A step added, one removed, the order changed: said as such, not as lines shifted.
    moved = {
        "name": "test",
        "steps": [
            {**_steps("v2")[1]},
            {"key": "c", "action": "probe.send_echo", "connection": "p1", "input": {"text": "c"}},
            {**_steps("v2")[0]},
        ],
    }
    services.flows.save_draft(FlowDocument.model_validate(moved), flow_id)
    kinds = [(c.path, c.kind) for c in services.flows.diff(flow_id, 2, "draft")]
    assert kinds == [
        ("description", ChangeKind.CHANGED),
        ("steps[c]", ChangeKind.ADDED),
        ("steps", ChangeKind.REORDERED),
    ]

    restored = services.flows.restore(flow_id, 1, author="bob@example.com")
    assert restored.row.version == 2  # still live as published
    assert restored.draft is not None and restored.editing.steps[0].input == {"text": "v1-a"}
    assert restored.row.draft_author == "bob@example.com"
    assert services.flows.diff(flow_id, 1, "draft") == []
    services.flows.publish(flow_id, note="back to v1")
    assert services.flows.get(flow_id).spec.steps[0].input == {"text": "v1-a"}
    assert [v.version for v in services.flows.history(flow_id)[1]] == [3, 2, 1]
    with pytest.raises(NotFound, match="no version 9"):
        services.flows.restore(flow_id, 9)

    # Restoring the live version drops the draft; discarding does too.
    _draft(services, flow_id, "v4")
    assert services.flows.restore(flow_id, 3).draft is None
    _draft(services, flow_id, "v4")
    assert services.flows.discard_draft(flow_id).draft is None


ECHO_ROWS = {"key": "rows", "action": "probe.send_echo"}


def _routed(*branches: tuple[str, str]) -> FlowDocument:
    """A flow whose paths step has a branch per (name, text its one step sends)."""
    return FlowDocument.model_validate(
        {
            "name": "Routed",
            "steps": [
                {
                    "key": "route",
                    "paths": {
                        "branches": [
                            {
                                "name": name,
                                "when": {
                                    "all": [{"value": "{{ event.to }}", "op": "equals", "to": name}]
                                },
                                "steps": [
                                    {
                                        "key": f"tell_{name}",
                                        "action": "probe.send_echo",
                                        "input": {"text": text},
                                    }
                                ],
                            }
                            for name, text in branches
                        ]
                    },
                }
            ],
        }
    )


def test_a_change_inside_a_branch_is_said_by_its_path() -> None:
    before = _routed(("big", "a"), ("small", "s"))
    changed = diff_specs(before.spec, _routed(("big", "b"), ("small", "s")).spec)
    assert [format_change(c) for c in changed] == [
        '~ steps[route].paths.branches[big].steps[tell_big].input.text: "a" → "b"'
    ]
    added = diff_specs(before.spec, _routed(("big", "a"), ("small", "s"), ("huge", "h")).spec)
    assert [(c.path, c.kind) for c in added] == [
        ("steps[route].paths.branches[huge]", ChangeKind.ADDED)
    ]
    # Items of an input that merely have a name are not matched by it: two alike would
    # hide a change, and a name that is not a text could not be a key.
    rows = [{"name": "x", "v": 1}, {"name": "x", "v": 2}]
    for changed_rows in ([{"name": "x", "v": 5}, rows[1]], [{"name": {"first": "a"}}]):
        one = FlowDocument.model_validate(
            {"name": "R", "steps": [{**ECHO_ROWS, "input": {"rows": rows}}]}
        )
        two = FlowDocument.model_validate(
            {"name": "R", "steps": [{**ECHO_ROWS, "input": {"rows": changed_rows}}]}
        )
        [change] = diff_specs(one.spec, two.spec)
        assert (change.path, change.kind) == ("steps[rows].input.rows", ChangeKind.CHANGED)
    swapped = diff_specs(before.spec, _routed(("small", "s"), ("big", "a")).spec)
    assert [(c.path, c.kind) for c in swapped] == [
        ("steps[route].paths.branches", ChangeKind.REORDERED)
    ]


def test_replay_with_the_version_it_ran_or_the_current_one(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1", fail="permanent"))
    first = deliver(runtime, token).run_ids[0]
    second = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, first, RunStatus.FAILED)
    wait_status(runtime, services, second, RunStatus.FAILED)
    services.flows.save(
        FlowDocument.model_validate({"name": "test", "steps": _steps("v2")}), flow_id
    )

    services.runs.replay(first)  # the version it ran: fails again the same way
    run, _ = wait_status(runtime, services, first, RunStatus.FAILED)
    assert run.flow_version == 1 and run.error.startswith("step b")
    services.runs.replay(second, ReplayWith.CURRENT)
    run, steps = wait_status(runtime, services, second, RunStatus.SUCCEEDED)
    assert run.flow_version == 2
    # Step a succeeded with version 1 and is not run again; b runs as version 2 has it.
    assert _texts_by_run()[second] == ["v1-a", "v1-b", "v2-b"]
    assert [json.loads(s.output or "{}").get("text") for s in steps] == ["v1-a", "v2-b"]
    detail = services.runs.detail(second)
    assert detail.flow is not None and detail.flow.version == 2


def test_a_trigger_change_moves_the_app_registration_when_published(
    make_settings: Callable[..., Settings],
) -> None:
    with FakeParticeep("k", "s") as particeep:
        app = Runtime(make_settings())  # the installed connectors: Particeep's among them
        app.open()
        try:
            services = Blocking(app.services)
            values = {"api_key": "k", "api_secret": "s", "environment": "custom"}
            services.connections.create("particeep", "pt", values | {"base_url": particeep.url})

            def document(event: str) -> FlowDocument:
                trigger = {"type": "particeep.event", "connection": "pt", "event": event}
                step = {"key": "log", "action": "http.send_request", "input": HTTP_STEP}
                return FlowDocument.model_validate(
                    {"name": "app", "trigger": trigger, "steps": [step]}
                )

            view = services.flows.save(document("transaction_created"))
            [registered] = particeep.webhooks("transaction_created")
            services.flows.save_draft(document("user_created"), view.row.id)
            # A draft moves nothing: the live flow still listens to transactions.
            assert particeep.webhooks("user_created") == []
            assert particeep.webhooks("transaction_created") == [registered]

            published = services.flows.publish(view.row.id)
            assert particeep.webhooks("transaction_created") == []
            [moved] = particeep.webhooks("user_created")
        finally:
            app.close()
        assert moved["url"] == registered["url"].replace("transaction_created", "user_created")
        assert published.subscription is not None
        assert published.subscription.event == "user_created"


def test_runs_of_a_deleted_flow_are_cancelled_or_fail_rather_than_run_nothing(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    run_id = deliver(runtime, token).run_ids[0]
    services.flows.delete(flow_id)
    run = services.runs.history(run_id)[0]
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled: its flow was deleted")
    # A run the deletion did not reach (running then, or queued by another process at that
    # moment) fails when a worker takes it up.
    with runtime.db.begin() as conn:
        conn.execute(
            text("UPDATE runs SET status = 'queued', error = NULL WHERE id = :id"), {"id": run_id}
        )
    run, _ = wait_status(runtime, services, run_id, RunStatus.FAILED)
    assert run.error == "the flow was deleted"


def test_a_run_queued_by_an_older_maillon_runs_the_published_version(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    _draft(services, flow_id, "v2")
    services.flows.publish(flow_id)
    run_id = deliver(runtime, token).run_ids[0]
    # During a rolling upgrade, a process of the previous release queues runs without a version.
    with runtime.services.runs.db.begin() as conn:
        conn.execute(text("UPDATE runs SET flow_version = 0 WHERE id = :id"), {"id": run_id})
    wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    assert _texts_by_run()[run_id] == ["v2-a", "v2-b"]


def test_a_flow_saved_by_an_older_maillon_runs_what_it_saved(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    # A process of the previous release, still running during a rolling upgrade, saves the
    # flow as it knew how: a new definition and number in ``flows``, no ``flow_versions`` row.
    v2 = FlowDocument.model_validate({"name": "test", "steps": _steps("v2")}).spec
    with runtime.services.runs.db.begin() as conn:
        conn.execute(
            text("UPDATE flows SET definition = :d, version = version + 1 WHERE id = :id"),
            {"d": v2.model_dump_json(), "id": flow_id},
        )
    run_id = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
    assert _texts_by_run()[run_id] == ["v2-a", "v2-b"]


def test_a_flow_deleted_then_saved_again_under_its_id_runs_its_new_steps(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, token = make_flow(services, *_steps("v1"))
    first = deliver(runtime, token).run_ids[0]
    wait_status(runtime, services, first, RunStatus.SUCCEEDED)
    services.flows.delete(flow_id)
    # Imported again under the same id (as an export carries it): version 1 once more.
    document = FlowDocument.model_validate({"name": "test", "steps": _steps("again")})
    view = services.flows.save(document, flow_id)
    assert view.row.version == 1
    again = deliver(runtime, view.row.hook_token).run_ids[0]
    wait_status(runtime, services, again, RunStatus.SUCCEEDED)
    assert _texts_by_run()[again] == ["again-a", "again-b"]


def test_publishes_at_the_same_time_take_one_number_each(
    runtime: Runtime, services: Blocking
) -> None:
    flow_id, _ = make_flow(services, *_steps("v1"))
    documents = [
        FlowDocument.model_validate({"name": "test", "steps": _steps(f"v{n}")}) for n in range(2, 6)
    ]

    async def publish_all() -> None:
        await asyncio.gather(*(runtime.services.flows.save(d, flow_id) for d in documents))

    asyncio.run(publish_all())
    _, versions = services.flows.history(flow_id)
    assert [v.version for v in versions] == [5, 4, 3, 2, 1]
    assert len({v.definition for v in versions}) == 5
