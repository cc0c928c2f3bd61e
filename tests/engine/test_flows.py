from __future__ import annotations

import pytest
from pydantic import ValidationError

from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.flows import FlowSpec, FlowValidationError, dump_yaml, field_warnings, load_yaml
from tests.support.probe import probe

STEP = {"key": "a", "action": "probe.send_echo", "connection": "p", "input": {"text": "hi"}}


def test_valid_flow_passes() -> None:
    FlowSpec.model_validate({"name": "f", "steps": [STEP]}).check(Registry([probe]), {"p": "probe"})


def test_connection_of_another_app_is_refused() -> None:
    spec = FlowSpec.model_validate({"name": "f", "steps": [STEP]})
    with pytest.raises(FlowValidationError, match="connection 'p' is for slack, not probe"):
        spec.check(Registry([probe]), {"p": "slack"})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "f", "steps": [STEP, STEP]}, "step key 'a' is used twice"),
        ({"name": "f", "steps": [{**STEP, "key": "Bad-Key"}]}, "must be lower-case"),
        ({"name": "f", "steps": [STEP], "extra": 1}, "Extra inputs are not permitted"),
        (
            {"name": "f", "steps": [STEP], "trigger": {"type": "carrier-pigeon"}},
            "should match pattern",
        ),
    ],
)
def test_shape_errors(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FlowSpec.model_validate(doc)


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
