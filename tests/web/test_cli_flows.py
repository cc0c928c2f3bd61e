"""``maillon flows``, through the real command line against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from maillon.connectors.testing import FakeServer
from tests.support.cli import Cli

EXAMPLES = Path(__file__).parents[2] / "examples"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_export_round_trip(cli: Cli, tmp_path: Path) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    out = cli("flows", "import", str(EXAMPLES / "transaction_to_slack.yaml")).stdout
    flow_id = out.split()[0]
    assert out.splitlines()[0].endswith(
        "  New Particeep transaction to Slack  (created, version 1)"
    )
    assert "hook: https://maillon.example.com/hooks/" in out

    exported = cli("flows", "export", flow_id).stdout
    doc = yaml.safe_load(exported)
    assert doc["id"] == flow_id
    assert doc["steps"][0]["action"] == "slack.send_message"
    assert doc["trigger"]["dedup"] == "{{ event.id }}"
    assert cli("flows", "export", "New Particeep transaction to Slack").stdout == exported

    # Re-importing an exported flow (it has an id) updates it instead of creating a twin.
    doc["name"] = "Renamed"
    cli("flows", "import", "--publish", str(write(tmp_path, "flow.yaml", yaml.safe_dump(doc))))
    listing = cli("flows", "list").stdout
    assert listing.count("hook:") == 1 and "Renamed" in listing


def test_importing_an_edited_file_again_updates_the_flow_of_that_name(
    cli: Cli, tmp_path: Path
) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    source = EXAMPLES / "transaction_to_slack.yaml"
    first = cli("flows", "import", str(source)).stdout
    edited = write(tmp_path, "edited.yaml", source.read_text().replace("#sales", "#deals"))

    again = cli("flows", "import", str(edited)).stdout

    assert again.split()[0] == first.split()[0] and "(draft saved; live: version 1;" in again
    assert again.splitlines()[1] == first.splitlines()[1]  # the same hook URL
    [view] = cli.services.flows.all()
    assert view.spec.steps[0].input["channel"] == "#sales"  # live: as published
    assert view.editing.steps[0].input["channel"] == "#deals"
    published = cli("flows", "import", "--publish", "--note", "deals", str(edited)).stdout
    assert "(published, version 2)" in published
    assert cli.services.flows.all()[0].spec.steps[0].input["channel"] == "#deals"
    copy = cli("flows", "import", "--new", str(edited)).stdout
    assert "(created, version 1)" in copy and copy.splitlines()[1] != first.splitlines()[1]
    # Two flows share the name now: the file must say which one it updates.
    refused = cli("flows", "import", str(edited), code=1)
    assert "name: 2 flows are named 'New Particeep transaction to Slack'" in refused.stderr


def test_new_says_why_it_does_not_copy_a_document_with_an_id(cli: Cli, tmp_path: Path) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    flow_id = cli("flows", "import", str(EXAMPLES / "transaction_to_slack.yaml")).stdout.split()[0]
    exported = write(tmp_path, "exported.yaml", cli("flows", "export", flow_id).stdout)

    again = cli("flows", "import", "--new", str(exported))

    assert again.stdout.split()[0] == flow_id and "(unchanged, version 1)" in again.stdout
    assert again.stderr == (
        "    --new does not apply: the document gives an id, so it saved the flow of that id "
        "(delete its `id:` line to import it as a new flow)\n"
    )
    assert len(cli.services.flows.all()) == 1
    assert cli("flows", "import", str(exported)).stderr == ""  # without --new, nothing to say


def test_a_file_without_a_flow_is_refused(cli: Cli, tmp_path: Path) -> None:
    for name, text in [("empty.yaml", ""), ("comments.yaml", "# nothing yet\n---\n")]:
        path = write(tmp_path, name, text)
        result = cli("flows", "import", str(path), code=1)
        assert result.stderr == f"{path}: the file holds no flow\n"
        assert result.stdout == ""


def test_a_yaml_mistake_is_one_line_with_its_place(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: one\nsteps:\n  - key: a\n   action: x\n")
    result = cli("flows", "import", str(path), code=1)
    assert result.stderr == (
        f"{path}: line 4, column 4: not valid YAML (expected <block end>, but found "
        "'<block mapping start>')\n"
    )


def test_every_problem_of_a_flow_is_listed_in_plain_words(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flow.yaml",
        """\
name: Alerts
trigger: {type: timer}
steps:
  - key: Notify
    action: slack.send_message
    connection: team-slack
    input: {channel: "#sales", text: hi}
""",
    )
    result = cli("flows", "import", str(path), code=1)
    assert result.stderr.splitlines() == [
        f"{path}: 'Alerts' was not saved:",
        "  trigger.type: unknown trigger type 'timer' (the types are: webhook, "
        "maillon.run_failed, schedule, particeep.event)",
        "  steps[0] (Notify).key: 'Notify' is not a step key: keys are lower-case letters, "
        "digits and _, starting with a letter, at most 64 characters (for example 'notify')",
        "  steps[0] (Notify): no connection named 'team-slack': add one of that name for the "
        "app slack first",
    ]
    assert "pydantic" not in result.output


def test_import_prints_the_save_warnings(cli: Cli, tmp_path: Path) -> None:
    cli.services.connections.create(
        "particeep", "particeep-prod", {"api_key": "k", "api_secret": "s"}
    )
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    path = write(
        tmp_path,
        "flow.yaml",
        """\
name: Big tickets
enabled: false
trigger: {type: particeep.event, connection: particeep-prod, event: transaction_created}
steps:
  - key: notify
    action: slack.send_message
    connection: team-slack
    input:
      channel: "#sales"
      text: "{{ event.amuont }} in {{ steps.lookup.ts }}"
""",
    )
    result = cli("flows", "import", str(path))
    assert result.stderr.splitlines() == [
        "    warning: steps[0] (notify).input.text: the sample event has no field 'amuont'",
        "    warning: steps[0] (notify).input.text: no earlier step 'lookup'",
    ]
    assert "(created, version 1)" in result.stdout


def test_flows_are_shown_switched_and_deleted_by_name(cli: Cli) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    flow_id = cli("flows", "import", str(EXAMPLES / "transaction_to_slack.yaml")).stdout.split()[0]
    name = "New Particeep transaction to Slack"

    shown = cli("flows", "show", name).stdout
    assert shown.startswith("# enabled, version 1\n# hook: https://maillon.example.com/hooks/")
    assert yaml.safe_load(shown)["id"] == flow_id  # what follows the comments imports again

    assert cli("flows", "disable", name).stdout.startswith(f"{flow_id}  disabled  {name}\n")
    assert "disabled (deliveries are held)" in cli("flows", "show", flow_id).stdout
    assert cli("flows", "enable", flow_id).stdout.startswith(f"{flow_id}  enabled  {name}\n")

    assert "Aborted" in cli("flows", "delete", name, input="n\n", code=1).output
    deleted = cli("flows", "delete", name, input="y\n").stdout
    assert deleted.endswith(f"deleted {flow_id}  {name}\n")
    assert cli("flows", "show", name, code=1).stderr == f"Error: no flow {name}\n"


HTTP_FLOW = """\
name: Tell the CRM
steps:
  - key: post
    action: http.send_request
    input:
      method: POST
      url: "URL/investors"
      json_body:
        investor: "{{ event.investor.name }}"
        city: "{{ event.investor.address.city | default('unknown') }}"
  - key: again
    action: http.send_request
    input:
      url: "URL/investors/{{ steps.post.body.id }}"
"""


def http_flow(tmp_path: Path, server: FakeServer) -> Path:
    """:data:`HTTP_FLOW` calling ``server``."""
    return write(tmp_path, "flow.yaml", HTTP_FLOW.replace("URL/", server.url))


def test_a_flow_file_is_rendered_against_a_sample_without_sending(
    cli: Cli, tmp_path: Path, fake_server: FakeServer
) -> None:
    flow = http_flow(tmp_path, fake_server)
    event = write(tmp_path, "event.json", json.dumps({"investor": {"name": "Ada"}}))

    out = cli("flows", "test", str(flow), "--event", str(event)).stdout

    assert out.startswith("Tell the CRM: rendered, nothing sent, against the event given\n")
    assert '"investor": "Ada",\n        "city": "unknown"' in out
    # Earlier outputs are examples from the action's output model (body: {"id": 42}).
    assert f'"url": "{fake_server.url}investors/42"' in out
    assert fake_server.requests == []
    assert cli.services.flows.all() == []  # tested, not saved


def test_a_step_that_cannot_render_fails_the_test(
    cli: Cli, tmp_path: Path, fake_server: FakeServer
) -> None:
    flow = http_flow(tmp_path, fake_server)
    event = write(tmp_path, "event.json", '{"investor": {}}')
    result = cli("flows", "test", str(flow), "--event", str(event), code=1)
    assert "  ERROR: template error in input.json_body.investor: no field 'name'" in result.stdout
    bad = write(tmp_path, "bad.json", '{"investor": ')
    broken = cli("flows", "test", str(flow), "--event", str(bad), code=1)
    assert broken.stderr == (
        "Error: the sample event is not valid JSON: line 1, column 14: Expecting value\n"
    )


def test_sending_runs_each_step_for_real_and_shows_outputs(
    cli: Cli, tmp_path: Path, fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/investors", (201, {"id": "inv-7"}))
    fake_server.on("GET", "/investors/inv-7", (200, {"id": "inv-7", "name": "Ada"}))
    flow = http_flow(tmp_path, fake_server)
    event = write(tmp_path, "event.json", '{"investor": {"name": "Ada"}}')

    out = cli("flows", "test", str(flow), "--event", str(event), "--send").stdout

    assert out.startswith("Tell the CRM: run for real, against the event given\n")
    assert [r.path for r in fake_server.requests] == ["/investors", "/investors/inv-7"]
    assert '"status": 201' in out and '"name": "Ada"' in out


def test_a_saved_flow_is_tested_against_its_apps_sample(cli: Cli, tmp_path: Path) -> None:
    cli.services.connections.create(
        "particeep", "particeep-prod", {"api_key": "k", "api_secret": "s"}
    )
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    source = (EXAMPLES / "transaction_to_slack_particeep.yaml").read_text()
    off = write(tmp_path, "flow.yaml", source.replace("name:", "enabled: false\nname:", 1))
    cli("flows", "import", str(off))

    out = cli("flows", "test", "New Particeep transaction to Slack (Particeep source)").stdout

    assert "rendered, nothing sent, against its app's sample event" in out
    assert '"text": "New transaction: 1,500.00 EUR (PENDING, WALLET) by investor' in out


def test_a_missing_flow_file_or_flow_is_named(cli: Cli) -> None:
    assert "no file nowhere.yaml" in cli("flows", "test", "nowhere.yaml", code=2).stderr
    assert cli("flows", "test", "No such flow", code=1).stderr == "Error: no flow No such flow\n"


def test_fields_named_like_methods_are_the_events_own(cli: Cli, tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "flow.yaml",
        """\
name: Order lines
steps:
  - key: post
    action: http.send_request
    input:
      url: "http://127.0.0.1:9/orders"
      json_body:
        first: "{{ event.items[0].sku }}"
        note: "{{ event.update }} / {{ event.count }} / {{ event.keys | join(',') }}"
""",
    )
    order = {"items": [{"sku": "A-1"}], "update": "2026-05-02", "count": 3, "keys": ["k1", "k2"]}
    event = write(tmp_path, "order.json", json.dumps(order))

    out = cli("flows", "test", str(flow), "--event", str(event)).stdout

    assert '"first": "A-1"' in out and '"note": "2026-05-02 / 3 / k1,k2"' in out


def test_a_file_that_is_not_text_is_one_line(cli: Cli, tmp_path: Path) -> None:
    binary = tmp_path / "flow.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    result = cli("flows", "import", str(binary), code=1)
    assert result.stderr == (f"{binary}: not UTF-8 text (invalid start byte at byte 6)\n")
    tested = cli("flows", "test", str(binary), code=1)
    assert tested.stderr == f"Error: {binary}: not UTF-8 text (invalid start byte at byte 6)\n"


STEERED_FLOW = """\
name: Refunds and big tickets
steps:
  - key: big_only
    filter:
      all: [{value: "{{ event.amount }}", op: at_least, to: 100000}]
  - key: route
    paths:
      branches:
        - name: refunds
          when: {all: [{value: "{{ event.status }}", op: equals, to: REFUNDED}]}
          steps:
            - {key: refund, action: http.send_request, input: {url: "URL/refunds"}}
        - name: otherwise
          steps:
            - key: rows
              action: http.send_request
              for_each: "{{ event.items }}"
              input: {url: "URL/rows/{{ item.sku }}"}
  - key: wait
    delay: {duration: 1d}
  - key: pretty
    format: {amount: "{{ event.amount | money(event.currency, 'fr_FR') }}"}
"""


def test_a_flow_test_follows_filters_paths_loops_delays_and_formats(
    cli: Cli, tmp_path: Path, fake_server: FakeServer
) -> None:
    flow = write(tmp_path, "flow.yaml", STEERED_FLOW.replace("URL/", fake_server.url))
    body = {"amount": 150000, "currency": "EUR", "status": "PENDING"}
    items = [{"sku": "A"}, {"sku": "B"}]
    event = write(tmp_path, "event.json", json.dumps({**body, "items": items}))

    out = cli("flows", "test", str(flow), "--event", str(event)).stdout

    assert '"reason": "event.amount (150000) is at least 100000"' in out
    assert '"branches": [\n        "otherwise"\n      ]' in out
    assert "step refund (http.send_request)\n  not run: branch refunds not taken" in out
    assert f'"url": "{fake_server.url}rows/A"' in out and f'"url": "{fake_server.url}rows/B"' in out
    assert '"amount": "1\u202f500,00\xa0€"' in out
    assert fake_server.requests == []

    small = write(tmp_path, "small.json", json.dumps({**body, "amount": 5}))
    out = cli("flows", "test", str(flow), "--event", str(small)).stdout
    assert '"passed": false' in out
    assert "step wait (delay)\n  not run: the filter big_only did not hold" in out


def test_drafts_are_published_diffed_and_restored(cli: Cli, tmp_path: Path) -> None:
    cli("connections", "add", "slack", "team-slack", "--set", "bot_token=xoxb-secret")
    source = EXAMPLES / "transaction_to_slack.yaml"
    flow_id = cli("flows", "import", str(source)).stdout.split()[0]
    edited = write(tmp_path, "edited.yaml", source.read_text().replace("#sales", "#deals"))
    cli("flows", "import", str(edited))

    assert "# unpublished changes saved " in cli("flows", "show", flow_id).stdout
    assert cli("flows", "diff", flow_id).stdout.splitlines() == [
        "# 1 → draft",
        '~ steps[notify].input.channel: "#sales" → "#deals"',
    ]
    assert "#deals" in cli("flows", "export", "--draft", flow_id).stdout
    assert "#deals" not in cli("flows", "export", flow_id).stdout
    out = cli("flows", "publish", flow_id, "--note", "deals channel").stdout
    assert out.startswith(f"{flow_id}  New Particeep transaction to Slack  published, version 2")
    assert cli("flows", "diff", flow_id).stdout.splitlines()[1:] == ["no changes"]
    refused = cli("flows", "publish", flow_id, code=1)
    assert "has no unpublished changes to publish" in refused.stderr

    history = cli("flows", "history", flow_id).stdout.splitlines()
    assert history[0].startswith("    2  ") and history[0].endswith("  cli  (live)")
    assert history[1] == "       deals channel"
    assert history[2].startswith("    1  ") and history[2].endswith("  cli")
    assert cli("flows", "diff", flow_id, "1", "2").stdout.splitlines()[1].startswith("~ steps")

    restored = cli("flows", "restore", flow_id, "1").stdout
    assert restored.endswith("version 1 restored: draft saved\n")
    assert cli("flows", "history", flow_id).stdout.startswith("draft  unpublished changes")
    assert "discarded" in cli("flows", "discard", flow_id).stdout
    assert "no version 5" in cli("flows", "restore", flow_id, "5", code=1).stderr
