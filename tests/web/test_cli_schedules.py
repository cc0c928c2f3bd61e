"""``maillon flows`` with schedules and digests: the next tick shown, the examples tried against
a tick and a release, and a digest released by hand."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Cli
from tests.support.db import run_until
from tests.support.flows import TRANSACTION, deliver

EXAMPLES = Path(__file__).parents[2] / "examples"


def _connections(cli: Cli) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    cli.services.connections.create(
        "particeep", "particeep-prod", {"api_key": "k", "api_secret": "s"}
    )


def test_a_scheduled_flow_shows_its_next_tick(cli: Cli) -> None:
    _connections(cli)
    out = cli("flows", "import", str(EXAMPLES / "weekly_report.yaml")).stdout
    assert out.splitlines()[1] == "    schedule: cron 0 9 * * 1 (Europe/Paris)"

    shown = cli("flows", "show", "Monday report").stdout.splitlines()
    assert shown[1] == "# schedule: cron 0 9 * * 1 (Europe/Paris)"
    # Mondays at 9 in Paris: 07:00 or 08:00 UTC, whatever the season.
    assert shown[2].startswith("# next tick: ") and shown[2].endswith(":00:00 UTC")
    assert shown[2][len("# next tick: ") :][11:13] in ("07", "08")
    listing = cli("flows", "list").stdout
    assert "schedule: cron 0 9 * * 1 (Europe/Paris)" in listing
    cli("flows", "disable", "Monday report")
    assert "# no tick while off" in cli("flows", "show", "Monday report").stdout


def test_a_scheduled_flow_is_tried_against_its_next_tick(cli: Cli) -> None:
    _connections(cli)
    out = cli("flows", "test", str(EXAMPLES / "weekly_report.yaml")).stdout
    assert "Monday report: rendered, nothing sent, against its next tick" in out
    assert '"text": "Weekly report for the week ending ' in out


def test_a_digest_flow_is_tried_against_a_release(cli: Cli, tmp_path: Path) -> None:
    _connections(cli)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({**TRANSACTION, "issuer_id": "ada"}))
    example = str(EXAMPLES / "daily_investments_digest.yaml")
    out = cli("flows", "test", example, "--event", str(event)).stdout
    assert '"text": "1 investment today: 1,500.00 EUR by ada."' in out


def test_a_digest_is_shown_and_released_by_hand(cli: Cli) -> None:
    _connections(cli)
    source = (EXAMPLES / "daily_investments_digest.yaml").read_text()
    # Fed by a webhook here: no Particeep account is needed to collect.
    webhook = source.replace(
        "  type: particeep.event\n  connection: particeep-prod\n  event: transaction_created\n",
        "  type: webhook\n",
    )
    path = Path(cli.settings.data_dir) / "digest.yaml"
    path.write_text(webhook)
    cli("flows", "import", str(path))
    view = cli.services.flows.get("Daily investments to Slack")
    assert "release" in cli("flows", "release", view.row.id, code=1).stderr
    for amount in (100, 200):
        body = {**TRANSACTION, "amount": amount, "issuer_id": "ada"}
        deliver(cli.runtime, view.row.hook_token, body)
    run_until(cli.runtime, lambda: cli.services.schedules.timing(view.row.id).waiting == 2)

    shown = cli("flows", "show", view.row.id).stdout
    assert "# digest daily-investments: 2 items waiting, next release 20" in shown
    out = cli("flows", "release", "Daily investments to Slack").stdout
    assert out.startswith("released 2 items as run ")
    assert "0 items waiting" in cli("flows", "show", view.row.id).stdout
    assert cli("flows", "release", view.row.id, code=1).stderr == (
        "Error: nothing to release: its digest is empty\n"
    )


def test_a_scheduled_flow_is_run_by_hand(cli: Cli) -> None:
    _connections(cli)
    cli("flows", "import", str(EXAMPLES / "weekly_report.yaml"))
    out = cli("flows", "run", "Monday report").stdout
    assert out.startswith("run ") and out.endswith(" queued\n")
    detail = cli.services.runs.detail(out.split()[1])
    assert detail.run.status == "queued"
    assert detail.event is not None and json.loads(detail.event.body)["manual"] is True
    assert json.loads(detail.event.meta)["run_by"] == "cli"

    cli("flows", "disable", "Monday report")
    held = cli("flows", "run", "Monday report").stdout
    assert held.endswith(" held: the flow is off (`maillon flows resume` runs it)\n")
    webhook = (EXAMPLES / "weekly_report.yaml").read_text().split("steps:", 1)[1]
    path = Path(cli.settings.data_dir) / "hook.yaml"
    path.write_text("name: Hooked\ntrigger:\n  type: webhook\nsteps:" + webhook)
    cli("flows", "import", str(path))
    assert cli("flows", "run", "Hooked", code=1).stderr == (
        "Error: it does not run on a schedule: it runs when its trigger fires\n"
    )
