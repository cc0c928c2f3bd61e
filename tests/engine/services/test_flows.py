"""The flows service: search by name, and YAML import and export."""

from __future__ import annotations

import pytest

from maillon.engine.errors import Invalid
from tests.support.flows import ECHO, make_flow
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
    assert results[1].view is None and results[1].problems[0].startswith("steps[0].key:")
    assert "no action 'nope'" in results[2].problems[0]
    with pytest.raises(Invalid, match="line 2, column 1"):
        services.flows.import_yaml("name: x\n- y\n")

    exported = services.flows.export_yaml(results[0].view.row.id)
    assert exported.startswith(f"id: {results[0].view.row.id}\nname: Sales alert\nenabled: true")
    again = services.flows.import_yaml(exported)
    assert again[0].view is not None and again[0].view.row.id == results[0].view.row.id
    assert again[0].view.row.version == 2


def test_flows_are_searched_by_name(services: Blocking) -> None:
    make_flow(services, ECHO, name="Investor e-mails")
    make_flow(services, ECHO, name="Sheets register")
    assert [v.row.name for v in services.flows.all("E-MAIL")] == ["Investor e-mails"]
    assert [v.row.name for v in services.flows.all("%")] == []
    assert len(services.flows.all()) == 2
