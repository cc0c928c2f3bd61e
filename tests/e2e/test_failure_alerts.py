"""When a flow fails, someone hears about it, end to end: the app served for real, set up over
its REST API; a fake Slack that refuses one channel; an error flow that posts each failure with
its run's link; the install's alerts, batched; auto-pause holding the next delivery until a
resume; and Particeep's refusal to register an event told the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.testing import FakeServer, Recorded
from maillon.engine.settings import Settings
from tests.support.api import wait_run
from tests.support.server import serve_at_public_url
from tests.support.services import Blocking
from tests.support.wait import wait_for

POST = ("POST", "/api/chat.postMessage")
KEY, SECRET = "key-1", "secret-2"


def slack_answer(request: Recorded) -> tuple[int, dict[str, Any]]:
    """Slack as it is: a channel the bot was not invited to is refused, the others take it."""
    if request.json()["channel"] == "#missing":
        return 200, {"ok": False, "error": "channel_not_found"}
    return 200, {"ok": True, "channel": "C1", "ts": "1.2"}


@dataclass
class Install:
    url: str
    api: httpx.Client
    slack: FakeServer
    services: Blocking

    def messages(self, channel: str) -> list[str]:
        return [
            r.json()["text"] for r in self.slack.received(*POST) if r.json()["channel"] == channel
        ]


@pytest.fixture
def install(make_settings: Callable[..., Settings], fake_server: FakeServer) -> Iterator[Install]:
    fake_server.on(*POST, slack_answer)

    def settings(**values: Any) -> Settings:
        return make_settings(alert_poll_interval=0.1, **values)

    with serve_at_public_url(settings) as (url, _, app):
        services = Blocking(app.state.runtime.services)
        _, token = services.tokens.create("e2e")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as api:
            r = api.post(
                "/api/connections",
                json={
                    "app": "slack",
                    "name": "team-slack",
                    "values": {"bot_token": "xoxb-t", "base_url": fake_server.url + "api/"},
                },
            )
            assert r.status_code == 201, r.text
            alerts = {"connection": "team-slack", "to": "#alerts", "interval": 1}
            assert api.put("/api/alerts", json=alerts).status_code == 200
            yield Install(url, api, fake_server, services)


def post_flow(api: httpx.Client, doc: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/api/flows", json=doc)
    assert r.status_code == 201, r.text
    return r.json()


def test_failures_reach_the_error_flow_and_the_alerts_and_a_paused_flow_holds_then_resumes(
    install: Install,
) -> None:
    api = install.api
    flow = post_flow(
        api,
        {
            "name": "confirm investment",
            "on_failure": {"pause_after": 3},
            "steps": [
                {
                    "key": "notify",
                    "action": "slack.send_message",
                    "connection": "team-slack",
                    "input": {
                        "channel": "{{ event.channel }}",
                        "text": "amount {{ event.amount }}",
                    },
                }
            ],
        },
    )
    post_flow(
        api,
        {
            "name": "tell ops",
            "trigger": {"type": "maillon.run_failed", "flows": ["confirm investment"]},
            "steps": [
                {
                    "key": "tell",
                    "action": "slack.send_message",
                    "connection": "team-slack",
                    "input": {
                        "channel": "#ops",
                        "text": "{{ event.flow.name }}: {{ event.error }} {{ event.run.url }}",
                    },
                }
            ],
        },
    )
    hook = install.url + "/hooks/" + flow["hook_url"].rsplit("/", 1)[1]
    failed = []
    for amount in (1, 2, 3):
        answer = httpx.post(hook, json={"channel": "#missing", "amount": amount}).json()
        failed.append(wait_run(api, answer["run_ids"][0], "failed")["id"])

    # The error flow told #ops of each failure, with the run's link.
    wait_for(lambda: len(install.messages("#ops")) == 3, what="the error flow's messages")
    for run_id in failed:
        assert any(f"{install.url}/runs/{run_id}" in text for text in install.messages("#ops"))
    assert "channel_not_found" in install.messages("#ops")[0]

    # The install's alerts said it too, batched, and that the flow is paused.
    paused = wait_for(
        lambda: [t for t in install.messages("#alerts") if "Maillon paused the flow" in t],
        what="the alert saying the flow is paused",
    )
    assert f"maillon flows resume {flow['id']}" in paused[0]
    told = sum(
        1 if " failed at " in t else int(t.split(" failed ")[1].split()[0])
        for t in install.messages("#alerts")
    )
    assert told == 3
    shown = api.get(f"/api/flows/{flow['id']}").json()
    assert shown["state"] == "paused" and shown["failures_in_row"] == 3

    # The next delivery is held, not lost; resuming runs it.
    answer = httpx.post(hook, json={"channel": "#sales", "amount": 4}).json()
    assert answer["held"] is True
    resumed = api.post(f"/api/flows/{flow['id']}/resume").json()
    assert resumed["released"] == 1 and resumed["flow"]["state"] == "enabled"
    wait_run(api, answer["run_ids"][0], "succeeded")
    assert install.messages("#sales") == ["amount 4"]


def test_a_refused_particeep_registration_and_the_drift_a_repair_puts_right_raise_alerts(
    install: Install,
) -> None:
    with FakeParticeep(KEY, SECRET) as particeep:
        values = {"api_key": KEY, "api_secret": SECRET, "environment": "custom"}
        r = install.api.post(
            "/api/connections",
            json={
                "app": "particeep",
                "name": "particeep-prod",
                "values": {**values, "base_url": particeep.url},
            },
        )
        assert r.status_code == 201, r.text
        # The event's five webhooks are taken by the customer's own tools.
        taken = [
            particeep.add_webhook("transaction_created", f"https://crm.example/{i}")
            for i in range(5)
        ]
        flow = post_flow(
            install.api,
            {
                "name": "investments",
                "trigger": {
                    "type": "particeep.event",
                    "connection": "particeep-prod",
                    "event": "transaction_created",
                },
                "steps": [
                    {
                        "key": "notify",
                        "action": "slack.send_message",
                        "connection": "team-slack",
                        "input": {"channel": "#sales", "text": "{{ event.amount }}"},
                    }
                ],
            },
        )
        assert flow["subscription"]["status"] == "failed"

        [alert] = wait_for(lambda: install.messages("#alerts"), what="the registration alert")
        assert "particeep refused to send transaction_created to Maillon" in alert
        assert "at most 5 per event" in alert and "maillon sources repair particeep-prod" in alert

        # The customer frees a slot; the repair (run from cron, say) registers the event and
        # says what it put right.
        particeep.remove_webhook(taken[0]["id"])
        [result] = install.services.sources.sync_accounts("particeep-prod", dry_run=False)
        assert [event for event, _ in result.report.created] == ["transaction_created"]
        drift = wait_for(
            lambda: [t for t in install.messages("#alerts") if "had drifted" in t],
            what="the drift alert",
        )
    assert "registered again: transaction_created" in drift[0]
