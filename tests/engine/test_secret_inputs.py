"""Secret inputs written in a flow: a mask keeps the stored value only while its step sends it
where it went when it was given; otherwise the secret must be given again."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from maillon.connectors.http import connector as http
from maillon.connectors.registry import Registry
from maillon.engine.crypto import SecretBox
from maillon.engine.flows import FlowSpec, FlowValidationError
from maillon.engine.redaction import MASK
from maillon.engine.secret_inputs import Dropped, dropped, resealed, restore, seal, shown, unseal
from tests.support.probe import probe

REGISTRY = Registry([probe, http])
BOX = SecretBox("test-key-for-secret-inputs")
TOKEN = "INPUTSECRETBEARER5555"

#: The probe's report, then the HTTP call holding a secret input: the flow as first written.
FLOW: dict[str, Any] = {
    "name": "echo",
    "steps": [
        {"key": "call1", "action": "probe.send_echo", "connection": "p1", "input": {"text": "x"}},
        {
            "key": "call2",
            "action": "http.send_request",
            "connection": "api",
            "input": {"url": "http://127.0.0.1:8830/two", "bearer_token": TOKEN},
        },
    ],
}


def _stored() -> FlowSpec:
    """:data:`FLOW` as saved: its token sealed."""
    return seal(FlowSpec.model_validate(FLOW), REGISTRY, BOX, None)


def _edited(edit: Callable[[dict[str, Any]], None]) -> FlowSpec:
    """The stored flow as shown (the token masked), then changed by ``edit``."""
    raw = shown(_stored()).model_dump(mode="json", exclude_none=True)
    assert raw["steps"][1]["input"]["bearer_token"] == MASK
    edit(raw)
    return FlowSpec.model_validate(raw)


def _call2(raw: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = raw["steps"][1]
    return step


def _token_of(spec: FlowSpec, key: str = "call2") -> str:
    [step] = [s for s in spec.actions() if s.key == key]
    return str(unseal(step.input, BOX)["bearer_token"])


def _url(url: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: _call2(raw)["input"].update(url=url)


def _no_connection(raw: dict[str, Any]) -> None:
    del _call2(raw)["connection"]


def _stolen(raw: dict[str, Any]) -> None:
    # The probe's exploit: another connection (none: no base URL) and a URL of one's own.
    _no_connection(raw)
    _url("http://127.0.0.1:8832/stolen")(raw)


def _template(raw: dict[str, Any]) -> None:
    _url("http://127.0.0.1:8830/{{ event.id }}")(raw)


def _action(raw: dict[str, Any]) -> None:
    _call2(raw).update(action="probe.send_echo", input={"text": "x", "secret": MASK})


def _renamed(raw: dict[str, Any]) -> None:
    # The step that held the token takes another key, and a step of its old key goes elsewhere.
    old = copy.deepcopy(_call2(raw))
    old["key"] = "call3"
    del old["input"]["bearer_token"]
    _stolen(raw)
    raw["steps"].append(old)


def _copied(raw: dict[str, Any]) -> None:
    # The same mask written in a new step: it stands for nothing that step held.
    step = copy.deepcopy(_call2(raw))
    step["key"] = "call3"
    step["input"]["url"] = "http://127.0.0.1:8832/stolen"
    raw["steps"].append(step)


def _other_input(raw: dict[str, Any]) -> None:
    # The mask moved to another secret input of the same step (Basic auth's password).
    _call2(raw)["input"]["basic_password"] = MASK
    _call2(raw)["input"]["basic_username"] = "me"
    del _call2(raw)["input"]["bearer_token"]


def _branch(raw: dict[str, Any]) -> None:
    # The step moved into a branch, keeping its key: the same step, sending elsewhere.
    step = raw["steps"].pop()
    step["input"]["url"] = "http://127.0.0.1:8832/stolen"
    branch = {"name": "all", "steps": [step]}
    raw["steps"].append({"key": "route", "paths": {"mode": "every", "branches": [branch]}})


MOVES: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (_stolen, "the step's connection and url changed"),
    (_url("http://127.0.0.1:8832/stolen"), "the step's url changed"),
    (_url("https://127.0.0.1:8830/two"), "the step's url changed"),
    (_template, "the step's url changed"),
    (_no_connection, "the step's connection changed"),
    (lambda raw: _call2(raw).update(connection="other"), "the step's connection changed"),
    (_action, "the step's action changed"),
    (_renamed, "the step's connection and url changed"),
    (_copied, "step 'call3' held no bearer_token before"),
    (_other_input, "step 'call2' held no basic_password before"),
    (_branch, "the step's url changed"),
]


@pytest.mark.parametrize(("edit", "reason"), MOVES)
def test_a_kept_secret_input_sent_elsewhere_is_refused(
    edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    # Whoever could edit a flow had a secret input never shown to them sent to their server,
    # by saving the flow with the mask and a URL (or a connection) of their own.
    with pytest.raises(FlowValidationError) as refused:
        seal(_edited(edit), REGISTRY, BOX, _stored())
    [problem] = refused.value.problems
    assert ".input." in problem and "give the secret input again: " in problem
    assert reason in problem
    # Tried in the editor (which sends the value for real), the step is refused alike, or its
    # mask, standing for nothing the step held, is left as written.
    key, name = re.findall(r"\((\w+)\)\.input\.(\w+)", problem)[-1]
    if any(s.key == key and name in s.input for s in _stored().actions()):
        with pytest.raises(FlowValidationError) as tried:
            restore(_edited(edit), _stored(), REGISTRY)
        assert tried.value.problems == refused.value.problems
    else:
        [step] = [s for s in restore(_edited(edit), _stored(), REGISTRY).actions() if s.key == key]
        assert step.input[name] == MASK


def test_the_refusal_names_the_step_and_the_input() -> None:
    with pytest.raises(FlowValidationError) as refused:
        seal(_edited(_stolen), REGISTRY, BOX, _stored())
    assert refused.value.problems == [
        "steps[1] (call2).input.bearer_token: give the secret input again: the step's "
        "connection and url changed, and the kept value would be sent there"
    ]


@pytest.mark.parametrize(("edit", "reason"), MOVES)
def test_a_secret_given_again_may_go_anywhere(
    edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    def again(raw: dict[str, Any]) -> None:
        edit(raw)
        spec = FlowSpec.model_validate(raw)
        for step in spec.actions():
            step.input.update({k: "a-new-secret" for k, v in step.input.items() if v == MASK})
        raw.update(spec.model_dump(mode="json", exclude_none=True))

    saved = seal(_edited(again), REGISTRY, BOX, _stored())
    assert TOKEN not in saved.model_dump_json()
    assert "a-new-secret" not in saved.model_dump_json()  # sealed in its turn


def test_a_mask_keeps_the_value_while_the_step_sends_it_where_it_did() -> None:
    def elsewhere(raw: dict[str, Any]) -> None:
        raw["description"] = "edited"
        raw["steps"][0]["input"]["text"] = "y"
        step = _call2(raw)
        step["input"].update(method="POST", json_body={"a": 1}, headers={"X-A": "b"})
        step["input"]["url"] = "http://127.0.0.1:8830/two/ "  # the same place, as compared
        step["max_attempts"] = 2
        raw["steps"].insert(0, {"key": "first", "action": "probe.send_echo", "input": {}})

    for edit in (lambda raw: None, elsewhere):
        spec = _edited(edit)
        assert _token_of(seal(spec, REGISTRY, BOX, _stored())) == TOKEN
        assert _token_of(restore(spec, _stored(), REGISTRY)) == TOKEN


def test_a_templated_url_keeps_the_value_until_its_text_or_its_loop_changes() -> None:
    def templated(raw: dict[str, Any]) -> None:
        _call2(raw)["input"]["bearer_token"] = TOKEN
        _call2(raw)["input"]["url"] = "{{ item }}"
        _call2(raw)["for_each"] = ["http://127.0.0.1:8830/a", "http://127.0.0.1:8830/b"]

    stored = seal(_edited(templated), REGISTRY, BOX, _stored())
    shown_raw = shown(stored).model_dump(mode="json", exclude_none=True)
    same = FlowSpec.model_validate(shown_raw)
    assert _token_of(seal(same, REGISTRY, BOX, stored)) == TOKEN
    _call2(shown_raw)["for_each"] = ["http://127.0.0.1:8832/stolen"]
    with pytest.raises(FlowValidationError, match="the step's for_each changed"):
        seal(FlowSpec.model_validate(shown_raw), REGISTRY, BOX, stored)


def test_a_sealed_value_cannot_be_written_only_kept() -> None:
    # Copied from a stored definition to another step (or flow), the executor would open it.
    stored = _stored()
    sealed = stored.actions()[1].input["bearer_token"]

    def copied(raw: dict[str, Any]) -> None:
        raw["steps"][0]["input"]["secret"] = sealed

    with pytest.raises(FlowValidationError, match="a sealed value cannot be written"):
        seal(_edited(copied), REGISTRY, BOX, stored)
    with pytest.raises(FlowValidationError, match="a sealed value cannot be written"):
        restore(_edited(copied), stored, REGISTRY)


def test_a_connection_sending_elsewhere_drops_the_secret_inputs_of_its_steps() -> None:
    # A connection's base URL changed freely when it held no secret of its own, and each step
    # sending a relative URL there sent its sealed secret input to the new host.
    stored = _stored().model_dump_json()
    assert dropped(stored, "p1", "connection 'p1' changed base_url") == stored  # none held
    assert dropped(stored, "nowhere", "connection 'nowhere' was created") == stored
    text = dropped(stored, "api", "connection 'api' changed base_url")
    assert "$sealed" not in text
    assert resealed(text, BOX) == text
    spec = FlowSpec.model_validate_json(text)
    step = spec.actions()[1]
    assert step.input["url"] == "http://127.0.0.1:8830/two"  # the rest as it was
    assert shown(spec).actions()[1].input["bearer_token"] == MASK
    reason = (
        "give the secret input again: it was dropped when connection 'api' changed base_url, "
        "as it would have been sent there"
    )
    with pytest.raises(Dropped) as run:
        unseal(step.input, BOX)
    assert str(run.value) == f"input.bearer_token: {reason}"
    # Saved (or tried) with the mask, nothing is kept: the secret must be given again.
    again = FlowSpec.model_validate(shown(spec).model_dump(mode="json", exclude_none=True))
    with pytest.raises(FlowValidationError) as refused:
        seal(again, REGISTRY, BOX, spec)
    assert refused.value.problems == [f"steps[1] (call2).input.bearer_token: {reason}"]
    with pytest.raises(FlowValidationError) as refused:
        restore(again, spec, REGISTRY)
    assert refused.value.problems == [f"steps[1] (call2).input.bearer_token: {reason}"]
    again.actions()[1].input["bearer_token"] = "a-new-secret"
    assert _token_of(seal(again, REGISTRY, BOX, spec)) == "a-new-secret"
