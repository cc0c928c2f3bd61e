"""``/api/alerts`` and a flow's failure state over the REST API."""

from __future__ import annotations

import httpx

from tests.support.api import Live, create_flow, hook, wait_run


def test_alerts_are_set_refused_read_and_turned_off(live: Live) -> None:
    client = live.client
    assert client.get("/api/alerts").json() == {"settings": None, "batches": []}
    client.post("/api/connections", json={"app": "probe", "name": "p1", "values": {}})

    refused = client.put("/api/alerts", json={"connection": "p1", "to": "#ops"})
    assert refused.status_code == 400
    assert "alerts go through a google, slack, smtp connection" in refused.json()["detail"]
    assert client.put("/api/alerts", json={"connection": "p1"}).status_code == 400  # no "to"
    # Alerts off: a test alert cannot go, and says why.
    assert "alerts are off" in client.post("/api/alerts/test").json()["detail"]

    assert client.delete("/api/alerts").status_code == 204
    assert client.get("/api/alerts").json()["settings"] is None


def test_a_flow_shows_its_failures_in_a_row_and_its_pause(live: Live) -> None:
    flow = create_flow(
        live,
        name="pauses",
        on_failure={"pause_after": 1},
        steps=[
            {
                "key": "echo",
                "action": "probe.send_echo",
                "connection": "p1",
                "input": {"text": "x", "fail": "permanent"},
            }
        ],
    )
    assert flow["state"] == "enabled" and flow["failures_in_row"] == 0
    assert flow["on_failure"] == {"alert": True, "pause_after": 1}
    answer = httpx.post(hook(live, flow), json={"n": 1}).json()
    wait_run(live.client, answer["run_ids"][0], "failed")
    shown = live.client.get(f"/api/flows/{flow['id']}").json()
    assert shown["state"] == "paused" and shown["enabled"] is False
    assert shown["failures_in_row"] == 1 and shown["paused_at"] is not None
    held = httpx.post(hook(live, flow), json={"n": 2}).json()
    assert held["held"] is True
    resumed = live.client.post(f"/api/flows/{flow['id']}/resume").json()
    assert resumed["released"] == 1
    assert resumed["flow"]["state"] == "enabled" and resumed["flow"]["failures_in_row"] == 0
    wait_run(live.client, held["run_ids"][0], "failed")  # it ran (and failed again)
