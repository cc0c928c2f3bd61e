"""``maillon runs`` and ``maillon events``, through the real command line, on runs executed
by the engine's workers against a fake HTTP API."""

from __future__ import annotations

import json
import re

import pytest

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.services import runs as runs_service
from tests.support.cli import Cli
from tests.support.db import run_until
from tests.support.flows import deliver


def make_flow(cli: Cli, server: FakeServer, attempts: int = 1) -> str:
    """A flow posting each event's investor to ``server`` (``attempts`` times at most);
    return its hook token."""
    doc = FlowDocument.model_validate(
        {
            "name": "Tell the CRM",
            "steps": [
                {
                    "key": "post",
                    "action": "http.send_request",
                    "input": {
                        "method": "POST",
                        "url": server.url + "investors",
                        "json_body": {"name": "{{ event.investor.name }}"},
                    },
                    "max_attempts": attempts,
                }
            ],
        }
    )
    return str(cli.services.flows.save(doc).row.hook_token)


def finished(cli: Cli, run_id: str) -> None:
    done = (RunStatus.SUCCEEDED, RunStatus.FAILED)
    run_until(cli.runtime, lambda: cli.services.runs.history(run_id)[0].status in done)


def test_runs_are_listed_shown_and_replayed(cli: Cli, fake_server: FakeServer) -> None:
    fake_server.on("POST", "/investors", (503, "down"), (201, {"id": "inv-1"}))
    token = make_flow(cli, fake_server)
    accepted = deliver(cli.runtime, token, {"investor": {"name": "Ada"}})
    [run_id] = accepted.run_ids
    finished(cli, run_id)

    listing = cli("runs", "list").stdout.splitlines()
    assert listing[0].startswith(f"{run_id}  failed     20") and listing[0].endswith(
        "  Tell the CRM"
    )
    assert listing[1].startswith("    step post: ") and "gave up after 1 attempt)" in listing[1]
    assert cli(
        "runs", "list", "--flow", "Tell the CRM", "--status", "failed", "--since", "1h"
    ).stdout.startswith(run_id)
    assert cli("runs", "list", "--status", "succeeded").stdout == ""
    assert cli("runs", "list", "--since", "2999-01-01").stdout == ""
    assert "is neither a duration" in cli("runs", "list", "--since", "soon", code=2).stderr

    shown = cli("runs", "show", run_id).stdout
    assert shown.startswith(f"run {run_id}  failed\n")
    assert f"  event     {accepted.event_id}\n" in shown
    assert "step 1: post  failed  1 attempt (took " in shown
    assert '      "json_body": {\n        "name": "Ada"\n      }' in shown
    assert "  error: POST " in shown and "503" in shown
    assert '"status": 503' in shown  # the connector's details

    assert "  (version 1)\n" in shown.splitlines(keepends=True)[1]
    assert cli("runs", "replay", run_id).stdout == f"{run_id}  queued  (flow version 1)\n"
    finished(cli, run_id)
    again = cli("runs", "show", run_id).stdout
    assert again.startswith(f"run {run_id}  succeeded\n") and '"id": "inv-1"' in again
    assert re.search(r"\n  finished  .* \(took [0-9.]+ s since the last replay\)\n", again)
    # Then the replay, with the failure it replaced.
    replayed = again[again.index("\nreplayed ") + 1 :]
    assert " by cli  (flow version 1 -> 1); before: failed\n" in replayed.splitlines(True)[0]
    assert "  step 1: post  failed  1 attempt (took " in replayed and "503" in replayed
    assert cli("runs", "list").stdout.splitlines()[0].endswith("  Tell the CRM  (replayed 1x)")
    assert (
        "only failed, held or cancelled runs replay" in cli("runs", "replay", run_id, code=1).stderr
    )
    # Every failed run of the flow, by its name: none is left.
    assert cli("runs", "replay-failed", "Tell the CRM").stdout == "0 failed runs queued again\n"
    assert cli("runs", "replay-failed", "nope", code=1).stderr == "Error: no flow nope\n"
    assert cli("runs", "show", "nope", code=1).stderr == "Error: no run nope\n"


def test_an_event_is_shown_with_its_runs(cli: Cli, fake_server: FakeServer) -> None:
    fake_server.on("POST", "/investors", (201, {"id": "inv-1"}))
    token = make_flow(cli, fake_server)
    accepted = deliver(cli.runtime, token, {"investor": {"name": "Ada"}})
    finished(cli, accepted.run_ids[0])

    out = cli("events", "show", accepted.event_id).stdout

    assert out.startswith(f"event {accepted.event_id}  from webhook  received 20")
    body = out.split("  body:\n", 1)[1].split("runs:", 1)[0]
    assert json.loads(body) == {"investor": {"name": "Ada"}}
    assert f"  {accepted.run_ids[0]}  succeeded  flow " in out


def test_a_step_tried_several_times_shows_its_last_attempts_time(
    cli: Cli, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/investors", (503, "down"))
    token = make_flow(cli, fake_server, attempts=2)
    [run_id] = deliver(cli.runtime, token, {"investor": {"name": "Ada"}}).run_ids
    finished(cli, run_id)
    assert "step 1: post  failed  2 attempts (the last took " in cli("runs", "show", run_id).stdout


def test_a_run_parked_by_a_delay_is_shown_as_waiting_and_cancelled(cli: Cli) -> None:
    doc = FlowDocument.model_validate(
        {"name": "Later", "steps": [{"key": "wait", "delay": {"duration": "1h"}}]}
    )
    token = str(cli.services.flows.save(doc).row.hook_token)
    [run_id] = deliver(cli.runtime, token, {}).run_ids
    run_until(
        cli.runtime, lambda: [s.status for s in cli.services.runs.history(run_id)[1]] == ["waiting"]
    )

    assert cli("runs", "list").stdout.startswith(f"{run_id}  waiting    20")
    assert cli("runs", "list", "--status", "waiting").stdout.startswith(run_id)
    assert cli("runs", "list", "--status", "retrying").stdout == ""
    shown = cli("runs", "show", run_id).stdout.splitlines()
    assert shown[0] == f"run {run_id}  waiting"
    assert any(re.fullmatch(r"  waits     until 20.* \(a delay step\)", line) for line in shown)
    assert not any(line.startswith("  next try") for line in shown)

    assert cli("runs", "cancel", run_id).stdout == f"{run_id}  cancelled\n"
    assert "cancelled by the command line" in cli("runs", "show", run_id).stdout
    refused = cli("runs", "cancel", run_id, code=1).stderr
    assert "cannot be cancelled (its status: cancelled): only runs that are queued" in refused


def test_runs_are_found_by_what_their_event_says(
    cli: Cli, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_service, "SEARCH_WINDOW", 2)
    token = make_flow(cli, fake_server)
    [ada] = deliver(cli.runtime, token, {"investor": {"name": "Ada Lovelace"}}).run_ids
    for _ in range(2):
        deliver(cli.runtime, token, {"investor": {"name": "Bob"}})

    first = cli("runs", "list", "--containing", "lovelace")
    # Nothing among the two newest: the list is empty, and stderr says where to go on from.
    assert first.stdout == ""
    further = re.search(r"older ones: --before (\S+)\)", first.stderr)
    assert further is not None
    back = cli("runs", "list", "--containing", "lovelace", "--before", further.group(1))
    assert back.stdout.startswith(f"{ada}  queued")
    assert (
        cli("runs", "list", "--containing", " ", code=1)
        .stderr.strip()
        .endswith("search for 1 to 200 characters")
    )
