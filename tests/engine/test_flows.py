from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from maillon.connectors.particeep import connector as particeep
from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.flows import (
    FlowSpec,
    FlowValidationError,
    dump_yaml,
    field_warnings,
    load_yaml,
    parse_document,
)
from tests.support.probe import probe

STEP = {"key": "a", "action": "probe.send_echo", "connection": "p", "input": {"text": "hi"}}


def test_valid_flow_passes() -> None:
    FlowSpec.model_validate({"name": "f", "steps": [STEP]}).check(Registry([probe]), {"p": "probe"})


def test_connection_of_another_app_is_refused() -> None:
    spec = FlowSpec.model_validate({"name": "f", "steps": [STEP]})
    with pytest.raises(FlowValidationError, match="connection 'p' is for slack, not probe"):
        spec.check(Registry([probe]), {"p": "slack"})


def test_shape_errors_are_pydantics_own() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        FlowSpec.model_validate({"name": "f", "steps": [STEP], "extra": 1})


REGISTRY = Registry([probe])


def problems_of(doc: Mapping[str, Any], connections: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_document(doc, REGISTRY, {"p": "probe"} if connections is None else connections)
    return caught.value.problems


def test_a_document_that_reads_is_checked_as_when_saved() -> None:
    doc = parse_document({"name": "f", "steps": [STEP]}, REGISTRY, {"p": "probe"})
    assert doc.steps[0].key == "a" and doc.enabled
    assert problems_of({"name": "f", "steps": [STEP, STEP]}) == [
        "steps[1] (a).key: the key 'a' is used by an earlier step"
    ]


def test_every_problem_of_a_flow_is_reported_at_once_in_plain_words() -> None:
    doc = {
        "name": "f",
        "trigger": {"type": "timer", "cron": "* * * * *"},
        "steps": [
            {**STEP, "key": "Notify Sales"},
            {**STEP, "key": "b", "connection": "nope"},
            {**STEP, "key": "c", "inputs": {}},
            {"key": "d"},
            {**STEP, "key": "b"},
        ],
        "colour": "blue",
    }
    assert problems_of(doc) == [
        "trigger.type: unknown trigger type 'timer' (the types are: webhook, schedule)",
        "steps[0] (Notify Sales).key: 'Notify Sales' is not a step key: keys are lower-case "
        "letters, digits and _, starting with a letter, at most 64 characters (for example "
        "'notify_sales')",
        "steps[2] (c): unknown field 'inputs' (the fields are: key, action, connection, input, "
        "max_attempts)",
        "steps[3] (d).action: missing (every step needs an action: <connector>.<action>, e.g. "
        "slack.send_message)",
        "the flow: unknown field 'colour' (the fields are: name, description, trigger, steps, "
        "max_attempts, digest, retention, enabled)",
        # The save checks of the parts that could be read come with them.
        "steps[1] (b): no connection named 'nope'",
        "steps[4] (b).key: the key 'b' is used by an earlier step",
    ]


def test_no_validation_library_text_reaches_people() -> None:
    doc = {"name": "", "steps": [{**STEP, "max_attempts": "many"}], "trigger": "webhook"}
    problems = problems_of(doc)
    assert problems == [
        "name: String should have at least 1 character",
        "trigger: should be a mapping of fields (type, dedup)",
        "steps[0] (a).max_attempts: Input should be a valid integer, unable to parse string as "
        "an integer",
    ]
    assert not any("pydantic" in p or "Value error" in p for p in problems)


def test_an_app_trigger_missing_its_fields_says_which() -> None:
    registry = Registry([probe, particeep])
    doc = {"name": "f", "trigger": {"type": "particeep.event"}, "steps": [STEP]}
    with pytest.raises(FlowValidationError) as caught:
        parse_document(doc, registry, {"p": "probe"})
    assert caught.value.problems == [
        "trigger.connection: missing (the name of the app connection whose events to receive)",
        "trigger.event: missing (the app's event name, e.g. transaction_created)",
    ]
    assert problems_of({"name": "f", "trigger": {"type": "webhook", "event": "x"}}) == [
        "trigger: unknown field 'event' (the fields are: type, dedup)"
    ]
    with pytest.raises(FlowValidationError) as caught:
        parse_document({**doc, "trigger": {"type": "particeep.evnt"}}, registry, {"p": "probe"})
    assert caught.value.problems == [
        "trigger.type: unknown trigger type 'particeep.evnt' (the types are: webhook, "
        "schedule, particeep.event)"
    ]


def test_bad_dedup_template_is_reported() -> None:
    spec = FlowSpec.model_validate(
        {"name": "f", "steps": [STEP], "trigger": {"type": "webhook", "dedup": "{{ event.id "}}
    )
    with pytest.raises(FlowValidationError, match=r"trigger\.dedup: template syntax error"):
        spec.check(Registry([probe]), {"p": "probe"})


def test_a_yaml_syntax_error_names_its_line_and_column() -> None:
    with pytest.raises(Invalid) as caught:
        load_yaml("name: one\nsteps:\n  - key: a\n   action: x\n")
    assert caught.value.problems == [
        "line 4, column 4: not valid YAML (expected <block end>, but found '<block mapping start>')"
    ]


def test_yaml_documents_round_trip() -> None:
    docs = [{"name": "one", "steps": [STEP]}, {"name": "deux é", "steps": [STEP]}]
    assert load_yaml(dump_yaml(docs)) == docs
    with pytest.raises(Invalid, match="document 1 is not a mapping"):
        load_yaml("- a\n- b\n")


def test_field_warnings_against_the_sample_and_earlier_outputs() -> None:
    spec = FlowSpec.model_validate(
        {
            "name": "f",
            "steps": [
                {
                    **STEP,
                    "input": {
                        "text": "{{ event.amount }} {{ event.comment }} {{ event.custom.a.b }}"
                        " {{ event.tag | default('') }} {{ steps.later.text }}"
                    },
                },
                {**STEP, "key": "b", "input": {"text": "{{ steps.a.text }} {{ steps.a.nope }}"}},
            ],
        }
    )
    sample = {"amount": 1, "custom": {"a": {"c": 1}}}
    assert field_warnings(spec, Registry([probe]), sample) == [
        "steps[0] (a).input.text: the sample event has no field 'comment'",
        "steps[0] (a).input.text: the sample event has no field 'custom.a.b'",
        "steps[0] (a).input.text: no earlier step 'later'",
        "steps[1] (b).input.text: step 'a' has no output 'nope'",
    ]
    # Without a sample, only step references are checked.
    assert len(field_warnings(spec, Registry([probe]), None)) == 2
