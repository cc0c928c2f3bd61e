"""``maillon alerts`` and the failure settings ``maillon flows`` shows, through the real command
line; a flow paused by its failures, then resumed."""

from __future__ import annotations

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from tests.support.cli import Cli
from tests.support.db import run_until
from tests.support.flows import deliver

POST = ("POST", "/api/chat.postMessage")
OK = (200, {"ok": True, "channel": "C1", "ts": "1.2"})


def slack(cli: Cli, fake_server: FakeServer) -> None:
    cli(
        "connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-t",
        "--set", f"base_url={fake_server.url}api/",
    )  # fmt: skip


def test_alerts_are_set_shown_tested_and_switched_off(cli: Cli, fake_server: FakeServer) -> None:
    fake_server.on(*POST, OK)
    assert cli("alerts", "show").stdout.startswith("alerts: off")
    slack(cli, fake_server)
    refused = cli("alerts", "set", "nowhere", "#ops", code=1)
    assert "no connection named 'nowhere'" in refused.output
    out = cli("alerts", "set", "team-slack", "#ops", "--interval", "600").stdout
    assert out == "alerts: to #ops through team-slack, at most one message per flow every 600 s\n"
    assert cli("alerts", "test").stdout == "sent: check that it arrived\n"
    [message] = fake_server.received(*POST)
    assert message.json()["channel"] == "#ops" and "test alert" in message.json()["text"]
    assert cli("alerts", "off").stdout == "alerts: off\n"
    assert cli("alerts", "show").stdout.startswith("alerts: off")


def test_flows_show_says_the_failure_settings_and_resume_runs_what_a_pause_held(
    cli: Cli, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, (200, {"ok": False, "error": "channel_not_found"}))
    slack(cli, fake_server)
    cli("alerts", "set", "team-slack", "#alerts")
    doc = FlowDocument.model_validate(
        {
            "name": "confirm",
            "on_failure": {"pause_after": 1},
            "steps": [
                {
                    "key": "notify",
                    "action": "slack.send_message",
                    "connection": "team-slack",
                    "input": {"channel": "#sales", "text": "{{ event.id }}"},
                }
            ],
        }
    )
    row = cli.services.flows.save(doc).row
    shown = cli("flows", "show", "confirm").stdout
    assert "# alerts: to #alerts through team-slack, at most one message per flow every " in shown
    assert "# auto-pause: after 1 failed runs in a row (0 so far)" in shown

    deliver(cli.runtime, row.hook_token, {"id": "t1"})
    run_until(cli.runtime, lambda: cli.services.flows.get(row.id).state == "paused")
    held = deliver(cli.runtime, row.hook_token, {"id": "t2"})
    assert held.held
    shown = cli("flows", "show", row.id).stdout
    assert "# PAUSED by Maillon " in shown and f"`maillon flows resume {row.id}`" in shown
    assert "# auto-pause: after 1 failed runs in a row (1 so far)" in shown
    assert "1 failure(s) not told yet" in shown
    assert f"{row.id}  paused    confirm" in cli("flows", "list").stdout

    fake_server.on(*POST, OK)  # the bot was invited to #sales
    out = cli("flows", "resume", "confirm").stdout
    assert out.startswith(f"{row.id}  enabled  confirm  (1 held run(s) queued)")
    run_until(
        cli.runtime,
        lambda: cli.services.runs.history(held.run_ids[0])[0].status == "succeeded",
    )
