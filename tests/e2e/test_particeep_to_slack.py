"""End to end: the app served for real, a flow created through the API, a Particeep-like
``transaction_created`` delivery posted to its hook, and a fake Slack receiving the message."""

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

EXAMPLE = Path(__file__).parents[2] / "examples" / "transaction_to_slack.yaml"
TRANSACTION = {
    "id": "0f6c1c9e-5d1b-4f7e-9a55-2b8f5c0e1d11",
    "created_at": "2026-05-02T09:15:00Z",
    "issuer_id": "7d0e5c1a",
    "issuer_type": "USER",
    "recipient_id": "a1b2",
    "recipient_type": "ENTERPRISE",
    "fundraise_id": "c3d4",
    "fundraise_type": "FUNDRAISE_LOAN",
    "amount": 150000,
    "fees": 0,
    "currency": "EUR",
    "status": "PENDING",
    "payment_method": "WALLET",
    "custom": {},
}
OK = (200, {"ok": True, "channel": "C1", "ts": "1700000000.000100"})


@pytest.fixture
def app_url(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, httpx.Client]]:
    app = create_app(make_settings())
    with LiveServer(app) as url:
        _, token = Blocking(app.state.runtime.services).tokens.create("e2e")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield url, client


def setup_flow(client: httpx.Client, slack: FakeServer) -> str:
    r = client.post(
        "/api/connections",
        json={
            "app": "slack",
            "name": "team-slack",
            "values": {"bot_token": "xoxb-test", "base_url": slack.url + "api/"},
        },
    )
    assert r.status_code == 201, r.text
    flow = load_yaml(EXAMPLE.read_text())[0]
    r = client.post("/api/flows", json=flow)
    assert r.status_code == 201, r.text
    return str(r.json()["hook_url"].rsplit("/", 1)[1])


def test_transaction_reaches_slack_rendered(
    app_url: tuple[str, httpx.Client], fake_server: FakeServer
) -> None:
    url, client = app_url
    fake_server.on("POST", "/api/chat.postMessage", OK)
    token = setup_flow(client, fake_server)

    answer = httpx.post(f"{url}/hooks/{token}", json=TRANSACTION).json()
    run = wait_run(client, answer["run_ids"][0], "succeeded")

    [request] = fake_server.received("POST", "/api/chat.postMessage")
    assert request.headers["authorization"] == "Bearer xoxb-test"
    body = request.json()
    assert body["channel"] == "#sales"
    assert body["text"] == ("New transaction: 1,500.00 EUR (PENDING, WALLET) by investor 7d0e5c1a")
    assert run["steps"][0]["output"]["ts"] == "1700000000.000100"

    # Particeep sends the same transaction again: no second run, so no second message. The
    # answer comes once the delivery is committed, so a run it had started would be listed.
    again = httpx.post(f"{url}/hooks/{token}", json=TRANSACTION).json()
    assert again["duplicate"] is True and again["run_ids"] == answer["run_ids"]
    assert [r["id"] for r in client.get("/api/runs").json()] == answer["run_ids"]
    assert len(fake_server.received("POST", "/api/chat.postMessage")) == 1


def test_slack_rate_limit_is_retried_after_retry_after(
    app_url: tuple[str, httpx.Client], fake_server: FakeServer
) -> None:
    url, client = app_url
    fake_server.on(
        "POST",
        "/api/chat.postMessage",
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}),
        (500, "upstream down"),
        OK,
    )
    token = setup_flow(client, fake_server)
    answer = httpx.post(f"{url}/hooks/{token}", json=TRANSACTION).json()
    run = wait_run(client, answer["run_ids"][0], "succeeded")
    assert run["steps"][0]["attempts"] == 3
    assert len(fake_server.received("POST", "/api/chat.postMessage")) == 3


def test_unknown_channel_fails_at_once_and_replays_after_the_fix(
    app_url: tuple[str, httpx.Client], fake_server: FakeServer
) -> None:
    url, client = app_url
    fake_server.on(
        "POST", "/api/chat.postMessage", (200, {"ok": False, "error": "channel_not_found"})
    )
    token = setup_flow(client, fake_server)
    answer = httpx.post(f"{url}/hooks/{token}", json=TRANSACTION).json()
    run = wait_run(client, answer["run_ids"][0], "failed")
    assert "channel_not_found" in run["error"]
    assert run["steps"][0]["attempts"] == 1
    assert len(fake_server.received("POST", "/api/chat.postMessage")) == 1

    fake_server.on("POST", "/api/chat.postMessage", OK)  # the bot was invited to the channel
    assert client.post(f"/api/runs/{run['id']}/replay").status_code == 200
    wait_run(client, run["id"], "succeeded")
    assert len(fake_server.received("POST", "/api/chat.postMessage")) == 2
