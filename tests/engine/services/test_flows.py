"""The flows service: search by name, and YAML import and export."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from tests.support.flows import ECHO, deliver, make_flow, wait_status
from tests.support.probe import calls
from tests.support.services import Blocking

GOOD = """\
name: Sales alert
steps:
  - key: notify
    action: probe.send_echo
    connection: p1
    input: {text: "{{ event.amount }}"}
---
name: Broken
steps:
  - {key: Bad-Key, action: probe.send_echo}
---
name: Unknown action
steps:
  - {key: a, action: probe.nope, connection: p1}
"""


def test_import_saves_each_document_or_says_why_not(services: Blocking) -> None:
    make_flow(services, ECHO)  # creates the probe connection p1
    results = services.flows.import_yaml(GOOD)
    assert [r.name for r in results] == ["Sales alert", "Broken", "Unknown action"]
    assert results[0].view is not None and results[0].problems == []
    assert results[1].view is None
    assert results[1].problems[0].startswith("steps[0] (Bad-Key).key: 'Bad-Key' is not a step key")
    assert "no action 'nope'" in results[2].problems[0]
    with pytest.raises(Invalid, match="line 2, column 1"):
        services.flows.import_yaml("name: x\n- y\n")
    for nothing in ("", "# a flow, one day\n", "---\n---\n"):
        with pytest.raises(Invalid, match=r"^the file holds no flow$"):
            services.flows.import_yaml(nothing)

    exported = services.flows.export_yaml(results[0].view.row.id)
    assert exported.startswith(f"id: {results[0].view.row.id}\nname: Sales alert\nenabled: true")
    # The same flow again: the same flow, and nothing to publish (no draft, no new version).
    again = services.flows.import_yaml(exported, match_names=False)
    assert again[0].view is not None and again[0].view.row.id == results[0].view.row.id
    assert again[0].by_id and not results[0].by_id  # its id chose it, whatever match_names
    assert again[0].view.row.version == 1 and again[0].view.draft is None
    edited = exported.replace("{{ event.amount }}", "{{ event.amount }} EUR")
    [drafted] = services.flows.import_yaml(edited)
    assert drafted.view is not None and not drafted.published
    assert drafted.view.row.version == 1 and drafted.view.draft is not None
    [published] = services.flows.import_yaml(edited, publish=True, author="cli", note="in EUR")
    assert published.view is not None and published.published
    assert published.view.row.version == 2 and published.view.draft is None


def test_flows_are_searched_by_name(services: Blocking) -> None:
    make_flow(services, ECHO, name="Investor e-mails")
    make_flow(services, ECHO, name="Sheets register")
    assert [v.row.name for v in services.flows.all("E-MAIL")] == ["Investor e-mails"]
    assert [v.row.name for v in services.flows.all("%")] == []
    assert len(services.flows.all()) == 2


SALES = """\
name: Sales alert
steps:
  - key: notify
    action: probe.send_echo
    connection: p1
    input: {text: "{{ event.amount }}"}
"""


def test_importing_a_file_again_updates_the_flow_of_that_name(services: Blocking) -> None:
    make_flow(services, ECHO)  # the probe connection p1
    [first] = services.flows.import_yaml(SALES)
    assert first.created and first.view is not None
    edited = SALES.replace("event.amount", "event.amount * 2")

    [again] = services.flows.import_yaml(edited)

    assert again.view is not None and not again.created
    assert again.view.row.id == first.view.row.id
    assert again.view.row.hook_token == first.view.row.hook_token  # senders keep their URL
    # The file is the draft: the published flow runs as before until it is published.
    assert again.view.spec.steps[0].input == {"text": "{{ event.amount }}"}
    assert again.view.editing.steps[0].input == {"text": "{{ event.amount * 2 }}"}
    # Asked for, a copy is a new flow with a URL of its own.
    [copy] = services.flows.import_yaml(edited, match_names=False)
    assert copy.created and copy.view is not None
    assert copy.view.row.hook_token != first.view.row.hook_token


def test_a_name_two_flows_share_needs_the_id_of_the_one_to_update(services: Blocking) -> None:
    make_flow(services, ECHO)
    a = services.flows.import_yaml(SALES)[0].view
    b = services.flows.import_yaml(SALES, match_names=False)[0].view
    assert a is not None and b is not None

    [refused] = services.flows.import_yaml(SALES)
    assert refused.view is None
    assert refused.problems == [
        f"name: 2 flows are named 'Sales alert' ({a.row.id}, {b.row.id}): give the id of the "
        "one to update"
    ]
    [updated] = services.flows.import_yaml(f"id: {b.row.id}\n{SALES}")
    assert updated.view is not None and updated.view.row.id == b.row.id
    with pytest.raises(Conflict, match="2 flows are named 'Sales alert'"):
        services.flows.get("Sales alert")


def test_one_file_cannot_name_two_flows_alike(services: Blocking) -> None:
    make_flow(services, ECHO)
    results = services.flows.import_yaml(f"{SALES}---\n{SALES}")
    assert results[0].created
    assert results[1].problems == ["name: another flow of this file is named 'Sales alert'"]
    assert len(services.flows.all("Sales alert")) == 1


def test_flows_are_found_by_id_or_name(services: Blocking) -> None:
    flow_id, _ = make_flow(services, ECHO, name="Investor e-mails")
    assert services.flows.get("Investor e-mails").row.id == flow_id
    assert not services.flows.set_enabled("Investor e-mails", False).row.enabled
    assert "name: Investor e-mails" in services.flows.export_yaml("Investor e-mails")
    assert services.flows.delete("Investor e-mails").row.id == flow_id
    with pytest.raises(NotFound, match="no flow Investor e-mails"):
        services.flows.get("Investor e-mails")


def test_a_secret_input_written_in_a_flow_is_sealed_and_never_shown(
    runtime: Runtime, services: Blocking
) -> None:
    # The secret input was stored in the flow's definition in clear, and the API, the UI
    # and exports gave it back to whoever could read flows.
    step = {**ECHO, "input": {"text": "x", "secret": "s3cret-in-flow"}}
    flow_id, token = make_flow(services, step)
    view = services.flows.get(flow_id)
    assert view.spec.steps[0].input["secret"] == MASK
    assert "s3cret-in-flow" not in services.flows.export_yaml(flow_id)
    with runtime.db.connect() as conn:
        stored = conn.execute(text("SELECT definition FROM flows")).scalar_one()
    assert "s3cret-in-flow" not in stored
    # Saved again as shown (an edit elsewhere), the secret is kept.
    doc = FlowDocument.model_validate({**view.document, "description": "edited"})
    services.flows.save(doc, flow_id)
    wait_status(runtime, services, deliver(runtime, token).run_ids[0], RunStatus.SUCCEEDED)
    assert [c["secret"] for c in calls.log] == ["s3cret-in-flow"]
    # A mask with nothing behind it (a new flow) is refused, not sent as the secret.
    with pytest.raises(Invalid, match="give the secret input again: step 'notify' held no"):
        services.flows.save(FlowDocument.model_validate({**view.document, "name": "copy"}))


def test_a_secret_input_kept_is_never_sent_elsewhere_by_any_way_of_saving(
    runtime: Runtime, services: Blocking
) -> None:
    # Saved with the mask and a connection (or URL) of one's own, a flow sent a secret input
    # never shown to its editor wherever they chose: by PUT, a draft, an import, a trial.
    step = {**ECHO, "input": {"text": "x", "secret": "s3cret-in-flow"}}
    flow_id, token = make_flow(services, step)
    services.connections.create("probe", "p2", {"label": "theirs"})
    shown = services.flows.get(flow_id).document
    moved = {**shown, "steps": [{**shown["steps"][0], "connection": "p2"}]}
    doc = FlowDocument.model_validate(moved)
    reason = (
        "steps[0] (notify).input.secret: give the secret input again: the step's connection "
        "changed, and the kept value would be sent there"
    )
    with pytest.raises(Invalid) as published:
        services.flows.save(doc, flow_id, must_exist=True)
    with pytest.raises(Invalid) as drafted:
        services.flows.save_draft(doc, flow_id)
    assert published.value.problems == drafted.value.problems == [reason]
    exported = services.flows.export_yaml(flow_id).replace("connection: p1", "connection: p2")
    for publish in (False, True):
        [imported] = services.flows.import_yaml(exported, publish=publish)
        assert imported.view is None and imported.problems == [reason]
    sample = services.editor.sample(doc.spec.trigger, flow_id)
    with pytest.raises(Invalid, match="give the secret input again"):
        services.editor.try_step(doc.spec, "notify", sample, flow_id)
    assert calls.log == []
    view = services.flows.get(flow_id)
    assert view.row.version == 1 and view.draft is None

    # Restoring a version brings back its values with the steps they were given for.
    edited = FlowDocument.model_validate({**shown, "description": "edited"})
    services.flows.save(edited, flow_id)
    services.flows.restore(flow_id, 1)
    services.flows.publish(flow_id)
    assert _label_and_secret(runtime, services, token) == ("conn-label", "s3cret-in-flow")

    # Given again, the secret goes where its writer sends it; an edit elsewhere keeps it.
    again = {**moved, "steps": [{**moved["steps"][0], "input": {"text": "x", "secret": "mine"}}]}
    services.flows.save(FlowDocument.model_validate(again), flow_id)
    assert _label_and_secret(runtime, services, token) == ("theirs", "mine")


def _label_and_secret(runtime: Runtime, services: Blocking, token: str) -> tuple[str, str]:
    """The connection label and the secret input the flow's one probe step ran with."""
    calls.clear()
    run = deliver(runtime, token).run_ids[0]
    _, steps = wait_status(runtime, services, run, RunStatus.SUCCEEDED)
    [call] = calls.log
    return json.loads(steps[0].output)["label"], call["secret"]
