from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest
from pydantic import ValidationError

from maillon.connectors.particeep import connector as particeep
from maillon.connectors.registry import Registry
from maillon.engine.errors import Invalid
from maillon.engine.flows import (
    FlowSpec,
    FlowValidationError,
    RunFailedTrigger,
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
        "trigger.type: unknown trigger type 'timer' (the types are: webhook, "
        "maillon.run_failed, schedule)",
        "steps[0] (Notify Sales).key: 'Notify Sales' is not a step key: keys are lower-case "
        "letters, digits and _, starting with a letter, at most 64 characters (for example "
        "'notify_sales')",
        "steps[2] (c): unknown field 'inputs' (the fields are: key, action, connection, input, "
        "max_attempts, for_each)",
        "steps[3] (d).action: missing (every step needs an action: <connector>.<action>, e.g. "
        "slack.send_message)",
        "the flow: unknown field 'colour' (the fields are: name, description, trigger, steps, "
        "max_attempts, digest, retention, on_failure, enabled)",
        # The save checks of the parts that could be read come with them.
        "steps[1] (b): no connection named 'nope': add one of that name for the app probe first",
        "steps[4] (b).key: the key 'b' is used by an earlier step",
    ]


def test_no_validation_library_text_reaches_people() -> None:
    doc = {"name": "", "steps": [{**STEP, "max_attempts": "many"}], "trigger": "webhook"}
    problems = problems_of(doc)
    assert problems == [
        "name: should have at least 1 character",
        "trigger: should be a mapping of fields (type, dedup, signature)",
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
        "trigger: unknown field 'event' (the fields are: type, dedup, signature)"
    ]
    with pytest.raises(FlowValidationError) as caught:
        parse_document({**doc, "trigger": {"type": "particeep.evnt"}}, registry, {"p": "probe"})
    assert caught.value.problems == [
        "trigger.type: unknown trigger type 'particeep.evnt' (the types are: webhook, "
        "maillon.run_failed, schedule, particeep.event)"
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


def test_a_yaml_value_that_cannot_be_built_is_refused_at_its_line() -> None:
    """A date that does not exist (or an integer too long to read) is the file's fault: refused
    as invalid, not raised as a bare ValueError (a server error since those are no 400s)."""
    with pytest.raises(Invalid) as caught:
        load_yaml("name: one\nsteps:\n  - key: w\n    delay: {until: 2026-02-30}\n")
    assert caught.value.problems == [
        "line 4, column 20: not valid YAML (day is out of range for month)"
    ]
    with pytest.raises(Invalid, match="line 1, column 4: not valid YAML"):
        load_yaml("a: " + "1" * 5000)


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


# -- size limits and properties of the flow-file parser ----------------------------------------


def test_a_flow_too_large_to_save_is_refused_quickly() -> None:
    # A 10**7-character template took seconds and memory to parse, check and compile.
    huge = {"name": "big", "steps": [{**STEP, "connection": "p1", "input": {"text": "x" * 10**7}}]}
    started = time.monotonic()
    with pytest.raises(FlowValidationError, match="larger than 500,000 characters"):
        parse_document(huge, REGISTRY, {"p1": "probe"})
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    nested = {
        "name": "deep",
        "steps": [{**STEP, "connection": "p1", "input": {"text": "x", "number": deep}}],
    }
    with pytest.raises(FlowValidationError, match="more than 32 levels deep"):
        parse_document(nested, REGISTRY, {"p1": "probe"})
    with pytest.raises(Invalid, match="larger than 5,000,000 characters"):
        load_yaml("name: x\n" + "#" * 6_000_000)
    assert time.monotonic() - started < 1.0


_YAML_PIECES = [
    "name: ",
    "steps:",
    "\n",
    "  - ",
    "key: ",
    "action: ",
    "probe.send_echo",
    "input:",
    "    text: ",
    "'{{ event.a }}'",
    "{% for %}",
    "trigger:",
    "type: ",
    "webhook",
    "dedup: ",
    "connection: ",
    "p1",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "&a ",
    "*a",
    "!!python/object",
    "---",
    "max_attempts: ",
    "0",
    "-1",
    "1e999",
    "null",
    "~",
    "'",
    '"',
    "enabled: ",
    "yes",
    "? ",
]


@hypothesis.settings(max_examples=200, deadline=None, database=None)
@hypothesis.given(
    st.one_of(
        st.text(max_size=120), st.lists(st.sampled_from(_YAML_PIECES), max_size=40).map("".join)
    )
)
def test_the_flow_file_parser_raises_only_its_own_errors(text: str) -> None:
    try:
        docs = load_yaml(text)
    except Invalid:
        return
    for doc in docs:
        with contextlib.suppress(FlowValidationError):
            parse_document(doc, REGISTRY, {"p1": "probe"})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@hypothesis.settings(max_examples=200, deadline=None, database=None)
@hypothesis.given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _JSON,
            "trigger": _JSON | st.just({"type": "webhook", "dedup": "{{ event.a }}"}),
            "steps": st.lists(
                _JSON
                | st.fixed_dictionaries(
                    {"key": st.text(max_size=8), "action": st.just("probe.send_echo")},
                    optional={"input": _JSON, "connection": _JSON, "max_attempts": _JSON},
                ),
                max_size=3,
            ),
            "max_attempts": _JSON,
            "enabled": _JSON,
        },
    )
)
def test_any_flow_document_is_read_or_refused_with_reasons(raw: dict[str, Any]) -> None:
    problems = ["(read)"]
    try:
        parse_document(raw, REGISTRY, {"p1": "probe"})
    except FlowValidationError as exc:
        problems = exc.problems
    assert problems


def test_an_error_flow_and_a_failure_policy_read_and_say_their_mistakes() -> None:
    doc = {
        "name": "tell ops",
        "trigger": {"type": "maillon.run_failed", "flows": ["confirm"], "failure": "exhausted"},
        "on_failure": {"pause_after": 3},
        "steps": [STEP],
    }
    read = parse_document(doc, REGISTRY, {"p": "probe"})
    trigger = read.trigger
    assert isinstance(trigger, RunFailedTrigger)
    assert trigger.matches("id-1", "confirm", "exhausted")
    assert not trigger.matches("id-1", "confirm", "permanent")
    assert not trigger.matches("id-2", "other", "exhausted")
    assert read.failure_policy.pause_after == 3 and read.failure_policy.alert
    assert problems_of(
        {
            **doc,
            "trigger": {"type": "maillon.run_failed", "failure": "sometimes", "event": "x"},
            "on_failure": {"pause_after": 0, "mail": True},
        }
    ) == [
        "trigger.failure: Input should be 'any', 'permanent' or 'exhausted'",
        "trigger: unknown field 'event' (the fields are: type, flows, failure)",
        "on_failure.pause_after: Input should be greater than or equal to 1",
        "on_failure: unknown field 'mail' (the fields are: alert, pause_after)",
    ]


STEERED = """\
name: Big tickets
steps:
  - key: big_only
    filter:
      all:
        - {value: "{{ event.amount }}", op: greater_than, to: 100000}
  - key: route
    paths:
      mode: every
      branches:
        - name: refunds
          when: {any: [{value: "{{ event.status }}", op: in, to: [REFUNDED, CANCELLED]}]}
          steps:
            - {key: note, action: probe.send_echo, connection: p, input: {text: refund}}
        - name: otherwise
          steps:
            - key: rows
              action: probe.send_echo
              connection: p
              for_each: "{{ event.items }}"
              input: {text: "{{ item.sku }} {{ loop.index }}"}
  - key: wait
    delay: {duration: 1d 12h}
  - key: pretty
    format:
      amount: "{{ event.amount | money(event.currency, 'fr_FR') }}"
  - key: after
    action: probe.send_echo
    connection: p
    input: {text: "{{ steps.pretty.amount }} {{ steps.note.text }}"}
"""


def test_steering_steps_round_trip_through_yaml() -> None:
    [raw] = load_yaml(STEERED)
    document = parse_document(raw, REGISTRY, {"p": "probe"})
    assert [s.key for s in document.all_steps()] == [
        "big_only",
        "route",
        "note",
        "rows",
        "wait",
        "pretty",
        "after",
    ]
    exported = document.model_dump(mode="json", exclude_none=True)
    [again] = load_yaml(dump_yaml([exported]))
    assert parse_document(again, REGISTRY, {"p": "probe"}) == document
    sample = {"amount": 1, "status": "x", "currency": "EUR"}
    assert field_warnings(document.spec, REGISTRY, sample) == [
        "steps[1] (route).paths.branches[1] (otherwise).steps[0] (rows).for_each: the sample "
        "event has no field 'items'",
    ]


def test_every_broken_template_of_a_step_is_reported_at_once() -> None:
    step = {**STEP, "input": {"text": "{{ x | nofilter }}", "fail": "{{ y "}}
    assert problems_of({"name": "f", "steps": [step]}) == [
        "steps[0] (a).input.text: template syntax error: No filter named 'nofilter'.",
        "steps[0] (a).input.fail: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
    ]


def test_every_problem_of_steering_steps_is_reported_at_once() -> None:
    raw = {
        "name": "f",
        "steps": [
            {"key": "check", "filter": {"all": [{"value": "{{ event.amount }}", "op": "bigger"}]}},
            {"key": "wait", "delay": {"duration": "a while"}},
            {"key": "later", "delay": {"duration": "1d", "until": "{{ event.due }}"}},
            {
                "key": "route",
                "paths": {
                    "mode": "some",
                    "branches": [
                        {
                            "name": "a",
                            "when": {"all": [{"value": "x", "op": "equals"}]},
                            "steps": [
                                {"key": "check", "action": "probe.nope", "connection": "p"},
                                {"key": "Bad Key", "format": {"x": "{{ 1 }}"}},
                            ],
                        },
                        {"name": "a", "steps": []},
                    ],
                },
            },
            {"key": "fmt", "format": {"Not A Name": "{{ oops"}},
            {"key": "each", "action": "probe.send_echo", "connection": "p", "for_each": "{{ x"},
        ],
    }
    problems = problems_of(raw)
    assert problems == [
        "steps[0] (check).filter.all[0].op: Input should be 'equals', 'not_equals', 'contains', "
        "'not_contains', 'starts_with', 'ends_with', 'greater_than', 'less_than', 'at_least', "
        "'at_most', 'exists', 'not_exists', 'is_empty', 'is_not_empty', 'matches', 'in' or "
        "'not_in'",
        "steps[2] (later).delay: give either duration (e.g. 1d) or until (a date-time)",
        "steps[3] (route).paths.mode: Input should be 'first' or 'every'",
        "steps[3] (route).paths.branches[0] (a).steps[1] (Bad Key).key: 'Bad Key' is not a step "
        "key: keys are lower-case letters, digits and _, starting with a letter, at most 64 "
        "characters (for example 'bad_key')",
        "steps[1] (wait).delay.duration: 'a while' is not a duration (for example 90s, 15m, 2h, "
        "1d, 1d 12h)",
        "steps[3] (route).paths.branches[0] (a).when.all[0].to: missing (equals compares the "
        "value with something)",
        "steps[3] (route).paths.branches[1] (a).name: another branch of these paths is named 'a'",
        "steps[3] (route).paths.branches[0] (a).steps[0] (check): connector 'probe' has no "
        "action 'nope' (send_echo, send_echo_sync)",
        "steps[4] (fmt).format.Not A Name: not a name: lower-case letters, digits and _, "
        "starting with a letter, at most 64 characters",
        "steps[4] (fmt).format.Not A Name: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
        "steps[5] (each).for_each: template syntax error: unexpected end of template, expected "
        "'end of print statement'.",
        "steps[3] (route).paths.branches[0] (a).steps[0] (check).key: the key 'check' is used "
        "by an earlier step",
    ]


def test_a_step_key_with_accents_is_suggested_without_them() -> None:
    [problem] = problems_of({"name": "x", "steps": [{**STEP, "key": "Étape Une"}]})
    assert problem.endswith("(for example 'etape_une')")


def test_a_step_key_suggested_spells_letters_without_accents_too() -> None:
    [problem] = problems_of({"name": "x", "steps": [{**STEP, "key": "Ølberg Straße"}]})
    assert problem.endswith("(for example 'olberg_strasse')")
