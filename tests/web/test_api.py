"""The REST API over real HTTP: authentication, flows, connections, runs and replay."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from maillon.engine.models import RunStatus
from maillon.engine.services import runs as runs_service
from maillon.engine.services.runs import NotDue
from tests.support.api import FLOW, Live, create_flow, hook, wait_run
from tests.support.probe import calls
from tests.support.wait import wait_for


@pytest.mark.parametrize(
    "path",
    [
        "/api/flows",
        "/api/runs",
        "/api/events",
        "/api/connections",
        "/api/connectors",
        "/api/alerts",
        "/api/queue",
        "/schema",
    ],
)
def test_everything_but_hooks_needs_a_token(live: Live, path: str) -> None:
    assert httpx.get(live.url + path).status_code == 401
    bad = httpx.get(live.url + path, headers={"Authorization": "Bearer mlt_wrong"})
    assert bad.status_code == 401
    assert live.client.get(path).status_code == 200


def test_a_non_ascii_authorization_scheme_is_401_not_500(live: Live) -> None:
    # hmac.compare_digest refuses non-ASCII str, and raised TypeError (a 500).
    r = httpx.get(live.url + "/api/flows", headers={b"Authorization": b"B\xe9arer x"})
    assert r.status_code == 401


def test_health_is_public(live: Live) -> None:
    assert httpx.get(live.url + "/healthz").json() == {"status": "ok"}


def test_the_queue_says_its_depth_and_the_age_of_its_oldest_due_run(live: Live) -> None:
    flow = create_flow(live)
    run_id = httpx.post(hook(live, flow), json={}).json()["run_ids"][0]
    wait_run(live.client, run_id, "succeeded")
    assert live.client.get("/api/queue").json() == {"queued": 0, "oldest_due_seconds": 0.0}


def test_flow_lifecycle(live: Live) -> None:
    flow = create_flow(live)
    assert flow["enabled"] is True and flow["version"] == 1
    assert flow["hook_url"].startswith("http://127.0.0.1:8000/hooks/")
    edited = live.client.put(f"/api/flows/{flow['id']}", json={**FLOW, "name": "renamed"}).json()
    assert edited["name"] == "renamed" and edited["version"] == 2
    assert edited["hook_url"] == flow["hook_url"]  # editing never changes the URL senders use
    assert [f["id"] for f in live.client.get("/api/flows").json()] == [flow["id"]]
    assert live.client.delete(f"/api/flows/{flow['id']}").status_code == 204
    assert live.client.get(f"/api/flows/{flow['id']}").status_code == 404
    assert httpx.post(hook(live, flow), json={}).status_code == 404


def test_invalid_flows_are_refused_with_every_problem(live: Live) -> None:
    bad = {
        "name": "bad",
        "steps": [
            {"key": "a", "action": "probe.nope", "input": {}},
            {"key": "b", "action": "probe.send_echo", "connection": "ghost", "input": {"x": 1}},
            {"key": "c", "action": "probe.send_echo", "input": {"text": "{{ event.a "}},
        ],
    }
    r = live.client.post("/api/flows", json=bad)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert (
        problems[0]
        == "steps[0] (a): connector 'probe' has no action 'nope' (send_echo, send_echo_sync)"
    )
    assert "steps[1] (b): probe.send_echo has no input x" in problems[1]
    assert problems[2] == (
        "steps[1] (b): no connection named 'ghost': add one of that name for the app probe first"
    )
    assert problems[3] == "steps[2] (c): probe.send_echo needs a connection"
    assert problems[4].startswith("steps[2] (c).input.text: template syntax error")
    assert live.client.get("/api/flows").json() == []
    r = live.client.post("/api/flows", json={"name": "x", "steps": []})
    assert r.status_code == 422
    assert r.json()["problems"] == ["steps: add a step before switching the flow on"]
    draft = live.client.post("/api/flows", json={"name": "x", "enabled": False})
    assert draft.status_code == 201 and draft.json()["steps"] == []


def test_connection_secrets_are_write_only(live: Live) -> None:
    r = live.client.post(
        "/api/connections",
        json={"app": "probe", "name": "acme", "values": {"api_key": "s3cret", "label": "ACME"}},
    )
    assert r.status_code == 201
    created = r.json()
    assert created["config"] == {"label": "ACME"}
    assert created["secrets_set"] == ["api_key"]
    assert "s3cret" not in r.text
    for path in ("/api/connections", f"/api/connections/{created['id']}", "/api/connections/acme"):
        assert "s3cret" not in live.client.get(path).text
    # Stored encrypted: not in the database file in clear.
    with live.runtime.db.connect() as conn:
        stored = conn.exec_driver_sql("SELECT config, secrets FROM connections").one()
    assert "s3cret" not in stored.config + stored.secrets
    # An update that does not mention the secret keeps it.
    r = live.client.patch("/api/connections/acme", json={"values": {"label": "ACME 2"}})
    assert r.json()["secrets_set"] == ["api_key"] and r.json()["config"] == {"label": "ACME 2"}
    assert (
        live.client.post(
            "/api/connections", json={"app": "probe", "name": "acme", "values": {}}
        ).status_code
        == 409
    )
    bad = live.client.post("/api/connections", json={"app": "nope", "name": "n", "values": {}})
    assert bad.status_code == 400 and "unknown app 'nope'" in bad.json()["detail"]


def test_connection_in_use_cannot_be_deleted(live: Live) -> None:
    create_flow(live)
    r = live.client.delete("/api/connections/p1")
    assert r.status_code == 409 and "uses connection 'p1'" in r.json()["detail"]


def test_runs_are_listed_filtered_and_replayed(live: Live) -> None:
    flow = create_flow(
        live,
        steps=[
            {
                "key": "flaky",
                "action": "probe.send_echo",
                "connection": "p1",
                "max_attempts": 1,
                "input": {"text": "x", "fail": "transient:1"},
            }
        ],
    )
    run_id = httpx.post(hook(live, flow), json={}).json()["run_ids"][0]
    failed = wait_run(live.client, run_id, "failed")
    assert failed["steps"][0]["error"] == "probe busy"
    listed = live.client.get("/api/runs", params={"status": "failed", "flow_id": flow["id"]}).json()
    assert [r["id"] for r in listed] == [run_id]
    assert live.client.get("/api/runs", params={"status": "succeeded"}).json() == []
    assert live.client.get("/api/runs", params={"status": "bogus"}).status_code == 400

    r = live.client.post(f"/api/runs/{run_id}/replay")
    assert r.status_code == 200
    done = wait_run(live.client, run_id, "succeeded")
    assert done["steps"][0]["attempts"] == 1 and len(calls.log) == 2
    # The failure the replay replaced is kept, with who replayed it (the API token).
    [replay] = done["replays"]
    assert (replay["status"], replay["error"]) == ("failed", failed["error"])
    assert replay["replayed_by"] is not None
    assert [(s["key"], s["error"]) for s in replay["steps"]] == [("flaky", "probe busy")]
    again = live.client.post(f"/api/runs/{run_id}/replay")
    assert again.status_code == 409

    # Every failed run of a flow at once.
    failing = [httpx.post(hook(live, flow), json={}).json()["run_ids"][0] for _ in range(2)]
    for failed_id in failing:
        wait_run(live.client, failed_id, "failed")
    r = live.client.post(f"/api/flows/{flow['id']}/replay-failed")
    assert (r.status_code, r.json()) == (200, {"replayed": 2})
    for failed_id in failing:
        assert len(wait_run(live.client, failed_id, "succeeded")["replays"]) == 1
    assert live.client.post("/api/flows/no-such-flow/replay-failed").status_code == 404


def test_connectors_catalog_describes_actions(live: Live) -> None:
    catalog = live.client.get("/api/connectors").json()
    probe = next(c for c in catalog if c["key"] == "probe")
    assert probe["connection"]["secret_fields"] == ["api_key"]
    action = probe["actions"][0]
    assert action["key"] == "probe.send_echo"
    assert "text" in action["input_schema"]["properties"]


def test_unknown_routes_and_invalid_bodies_keep_their_status_and_details(live: Live) -> None:
    assert live.client.get("/api/no-such-thing").status_code == 404
    r = live.client.get("/api/runs", params={"limit": "many"})
    assert r.status_code == 400
    assert r.json()["extra"]  # which parameter, and why


def test_steering_steps_over_the_api_and_filtered_runs(live: Live) -> None:
    steps = [
        {
            "key": "only_paid",
            "filter": {"all": [{"value": "{{ event.status }}", "op": "equals", "to": "PAID"}]},
        },
        {
            "key": "route",
            "paths": {
                "branches": [
                    {
                        "name": "all",
                        "steps": [
                            {
                                "key": "echo",
                                "action": "probe.send_echo",
                                "connection": "p1",
                                "for_each": "{{ event.items }}",
                                "input": {"text": "{{ item }}"},
                            }
                        ],
                    }
                ]
            },
        },
    ]
    flow = create_flow(live, steps=steps)
    assert flow["steps"][1]["paths"]["branches"][0]["steps"][0]["for_each"] == "{{ event.items }}"
    refused = live.client.post(
        "/api/flows", json={**FLOW, "steps": [{"key": "wait", "delay": {"duration": "soon"}}]}
    )
    assert refused.status_code == 422
    assert "steps[0] (wait).delay.duration: 'soon' is not a duration" in refused.text

    paid, pending = (
        httpx.post(hook(live, flow), json={"status": status, "items": ["a", "b"]}).json()
        for status in ("PAID", "PENDING")
    )
    done = wait_run(live.client, paid["run_ids"][0], "succeeded")
    assert [s["key"] for s in done["steps"]] == [
        "only_paid",
        "route",
        "echo",
        "echo[0]",
        "echo[1]",
    ]
    filtered = wait_run(live.client, pending["run_ids"][0], "filtered")
    assert filtered["error"] == "step only_paid: event.status ('PENDING') is not 'PAID'"
    listed = live.client.get("/api/runs", params={"status": "filtered"}).json()
    assert [r["id"] for r in listed] == pending["run_ids"]


def test_a_run_parked_by_a_delay_says_it_waits_and_is_cancelled(live: Live) -> None:
    flow = create_flow(live, steps=[{"key": "wait", "delay": {"duration": "1h"}}])
    [run_id] = httpx.post(hook(live, flow), json={}).json()["run_ids"]
    run = wait_for(
        lambda: (r := live.client.get(f"/api/runs/{run_id}").json())["state"] == "waiting" and r,
        what="the delay to park the run",
    )
    assert run["status"] == "queued" and run["error"] is None
    waits = dt.datetime.fromisoformat(run["available_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < waits <= dt.timedelta(hours=1)
    [listed] = live.client.get("/api/runs").json()
    assert listed["state"] == "waiting"
    assert [r["id"] for r in live.client.get("/api/runs?state=waiting").json()] == [run_id]
    assert live.client.get("/api/runs?state=retrying").json() == []
    assert live.client.get("/api/runs?state=sleeping").status_code == 400
    cancelled = live.client.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["error"] == "cancelled by API token “tests”"
    again = live.client.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "this run cannot be cancelled (its status: cancelled): only runs that are queued, "
        "waiting, retrying or held can be"
    )


def test_a_runs_state_is_one_of_the_values_the_document_lists(live: Live) -> None:
    """A client generated from the document gets an enumeration, not any string."""
    document = live.client.get("/schema/openapi.json").json()
    schemas = document["components"]["schemas"]
    state = schemas["RunOut"]["properties"]["state"]
    assert state["type"] == "string"
    assert set(state["enum"]) == {*RunStatus, *NotDue}


def test_the_document_names_the_errors_each_call_may_answer(live: Live) -> None:
    paths = live.client.get("/schema/openapi.json").json()["paths"]

    def answers(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert {"401", "429"} <= answers("get", "/api/runs")
    assert "404" not in answers("get", "/api/runs")
    assert {"401", "404", "429"} <= answers("get", "/api/runs/{run_id}")
    assert {"404", "409"} <= answers("post", "/api/runs/{run_id}/cancel")
    assert {"404", "409", "422"} <= answers("put", "/api/flows/{flow_id}")
    assert {"409", "422"} <= answers("post", "/api/flows")


def test_runs_are_searched_by_content_and_say_where_the_search_stopped(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_service, "SEARCH_WINDOW", 2)
    flow = create_flow(live, steps=[{"key": "wait", "delay": {"duration": "1h"}}])
    [ada] = httpx.post(hook(live, flow), json={"email": "ada@example.com"}).json()["run_ids"]
    for _ in range(2):
        httpx.post(hook(live, flow), json={"email": "bob@example.com"})

    first = live.client.get("/api/runs", params={"containing": "ADA@"})
    assert first.status_code == 200 and first.json() == []
    stopped = first.headers["maillon-searched-to"]
    back = live.client.get("/api/runs", params={"containing": "ada@", "before": stopped})
    assert [r["id"] for r in back.json()] == [ada]
    assert "maillon-searched-to" not in back.headers
    assert live.client.get("/api/runs", params={"containing": "x" * 201}).status_code == 400
    assert live.client.get("/api/runs", params={"containing": " "}).status_code == 400
