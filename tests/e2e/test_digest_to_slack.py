"""End to end: the daily investments example served for real, five Particeep-like transactions
posted to its hook, and one Slack message (to a fake Slack) about all five."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import load_yaml
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from tests.support.api import wait_run
from tests.support.server import LiveServer
from tests.support.services import Blocking

EXAMPLE = Path(__file__).parents[2] / "examples" / "daily_investments_digest.yaml"
OK = (200, {"ok": True, "channel": "C1", "ts": "1700000000.000100"})


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, httpx.Client]]:
    app = create_app(make_settings())
    with LiveServer(app) as url:
        _, token = Blocking(app.state.runtime.services).tokens.create("e2e")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield url, client


def test_five_transactions_become_one_slack_message(
    client: tuple[str, httpx.Client], fake_server: FakeServer
) -> None:
    url, api = client
    fake_server.on("POST", "/api/chat.postMessage", OK)
    api.post(
        "/api/connections",
        json={
            "app": "slack",
            "name": "team-slack",
            "values": {"bot_token": "xoxb-test", "base_url": fake_server.url + "api/"},
        },
    ).raise_for_status()
    flow = load_yaml(EXAMPLE.read_text())[0]
    # Delivered to the flow's own URL rather than through a Particeep account, and released at
    # five transactions rather than at 6 p.m.
    flow["trigger"] = {"type": "webhook"}
    flow["digest"]["release"]["count"] = 5
    created = api.post("/api/flows", json=flow)
    assert created.status_code == 201, created.text
    hook = url + "/hooks/" + created.json()["hook_url"].rsplit("/", 1)[1]

    investors = ["ana", "ben", "chloé", "dan", "eva"]
    collecting = []
    for i, investor in enumerate(investors):
        assert not fake_server.received("POST", "/api/chat.postMessage")
        body = {
            "id": f"tx-{i}",
            "amount": 10000 * (i + 1),
            "currency": "EUR",
            "issuer_id": investor,
        }
        answer = httpx.post(hook, json=body).json()
        collecting.append(answer["run_ids"][0])
        wait_run(api, collecting[-1])  # the transaction is collected, nothing is sent

    # The fifth collected released the digest: a run of its own, the newest.
    release = api.get("/api/runs").json()[0]
    assert release["id"] not in collecting
    run = wait_run(api, release["id"])
    [message] = fake_server.wait_for("POST", "/api/chat.postMessage")
    assert message.json()["text"] == (
        "5 investments today: 100.00 EUR by ana; 200.00 EUR by ben; 300.00 EUR by chloé; "
        "400.00 EUR by dan; 500.00 EUR by eva."
    )
    assert run["steps"][0]["key"] == "summary"
