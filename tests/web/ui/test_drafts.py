"""The editor's form and back: steering steps and branches survive a round trip unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from maillon.connectors.http import connector as http
from maillon.engine.conditions import OPERATORS
from maillon.engine.flows import FlowDocument
from maillon.engine.i18n import use_locale
from maillon.web.ui.drafts import Draft, place, to_document
from maillon.web.ui.schema import as_text
from maillon.web.ui.steering import OPERATOR_NAMES
from maillon.web.ui.timing import ScheduleDraft

CONNECTORS = {"http": http}

FLOW: dict[str, Any] = {
    "name": "Refunds",
    "enabled": False,
    # What the editor has no inputs for goes through the form as it is.
    "trigger": {"type": "webhook", "signature": {"connection": "sender", "preset": "github"}},
    "max_attempts": 3,
    "retention": {"days": 7, "failed_days": 30},
    "steps": [
        {
            "key": "big_only",
            "filter": {"any": [{"value": "{{ event.amount }}", "op": "at_least", "to": "100000"}]},
        },
        {
            "key": "route",
            "paths": {
                "mode": "every",
                "branches": [
                    {
                        "name": "refunds",
                        "when": {
                            "all": [
                                {"value": "{{ event.status }}", "op": "equals", "to": "REFUNDED"},
                                {"value": "{{ event.comment }}", "op": "exists"},
                            ]
                        },
                        "steps": [
                            {
                                "key": "tell",
                                "action": "http.send_request",
                                "input": {"url": "https://example.com/r"},
                            },
                            {
                                "key": "later",
                                "delay": {"until": "{{ event.due }}", "timezone": "Europe/Paris"},
                            },
                        ],
                    },
                    {
                        "name": "nested",
                        "when": {
                            "any": [
                                {"all": [{"value": "{{ event.a }}", "op": "is_empty"}]},
                                {"value": "{{ event.b }}", "op": "in", "to": "x, y"},
                            ]
                        },
                        "steps": [],
                    },
                ],
            },
        },
        {
            "key": "rows",
            "action": "http.send_request",
            "for_each": "{{ event.items }}",
            "input": {"url": "https://example.com/{{ item.sku }}"},
        },
        {"key": "wait", "delay": {"duration": "1d"}},
        {"key": "pretty", "format": {"amount": "{{ event.amount | money('EUR', 'fr_FR') }}"}},
    ],
}


def _form(draft: Draft) -> dict[str, str]:
    """What the rendered editor would post back for ``draft`` (the fields the page writes)."""
    out: dict[str, str] = {"name": draft.name}
    for i, s in enumerate(draft.steps):
        p = f"steps-{i}-"
        out |= {p + "key": s.key, p + "kind": s.kind, p + "parent": s.parent}
        if s.kind == "action":
            out |= {p + "action": s.action, p + "for_each": s.for_each}
            out |= {p + "input-" + k: v for k, v in s.inputs.items()}
        st = s.steering
        groups = [("", st.group)] + [(f"branch-{b}-", br.group) for b, br in enumerate(st.branches)]
        for at, group in groups:
            out[p + at + "match"] = group.match
            if group.nested:
                out[p + at + "group"] = group.nested
            for c, cond in enumerate(group.conditions):
                out |= {p + at + f"cond-{c}-value": cond.value, p + at + f"cond-{c}-op": cond.op}
                out[p + at + f"cond-{c}-to"] = cond.to
        for b, br in enumerate(st.branches):
            out[p + f"branch-{b}-name"] = br.name
            if s.kind == "paths" and br.name:
                out[p + f"branch-{b}-was"] = br.name
        if s.kind == "paths":
            out[p + "was"] = s.key
        out |= {p + "mode": st.mode, p + "duration": st.duration, p + "until": st.until}
        out[p + "timezone"] = st.timezone
        for r, (name, value) in enumerate(st.formats):
            out |= {p + f"fmt-{r}-name": name, p + f"fmt-{r}-value": value}
    return out


def test_a_flow_with_every_kind_of_step_comes_back_from_the_form_unchanged() -> None:
    document = FlowDocument.model_validate(FLOW)
    draft = Draft.read(_form(Draft.of(document.spec)))
    assert [(s.key, s.parent) for s in draft.steps] == [
        ("big_only", ""),
        ("route", ""),
        ("tell", "route.refunds"),
        ("later", "route.refunds"),
        ("rows", ""),
        ("wait", ""),
        ("pretty", ""),
    ]
    again, problems = to_document(draft, CONNECTORS, enabled=False, stored=document.spec)
    assert problems == {}
    assert again == document


def test_an_input_at_its_default_is_saved_only_where_the_flow_already_set_it() -> None:
    url = {"url": "https://e.com/"}
    step: dict[str, Any] = {"key": "get", "action": "http.send_request", "input": url}
    plain = FlowDocument.model_validate({"name": "Plain", "enabled": False, "steps": [step]})
    form = _form(Draft.of(plain.spec))
    # What the page posts: every select with its choice, the default one included.
    form |= {"steps-0-input-method": "GET", "steps-0-input-follow_redirects": "true"}
    again, _ = to_document(Draft.read(form), CONNECTORS, enabled=False, stored=plain.spec)
    assert again == plain
    # A flow that sets one at its default (written so in YAML) keeps it.
    explicit = FlowDocument.model_validate(
        {
            "name": "Plain",
            "enabled": False,
            "steps": [{**step, "input": {**url, "method": "GET"}}],
        }
    )
    again, _ = to_document(Draft.read(form), CONNECTORS, enabled=False, stored=explicit.spec)
    assert again == explicit


def test_the_settings_the_editor_has_no_inputs_for_come_from_the_stored_flow() -> None:
    document = FlowDocument.model_validate(FLOW)
    form = _form(Draft.of(document.spec))
    # A form knows nothing of them: without the stored flow they would be lost.
    lost, _ = to_document(Draft.read(form), CONNECTORS, enabled=False)
    assert lost is not None and lost.spec.max_attempts is None
    kept, _ = to_document(Draft.read(form), CONNECTORS, enabled=False, stored=document.spec)
    assert kept is not None
    assert kept.spec.trigger == document.spec.trigger  # the signature check
    assert (kept.spec.max_attempts, kept.spec.retention) == (3, document.spec.retention)


def test_steps_move_within_their_branch_and_go_with_their_paths_step() -> None:
    draft = Draft.of(FlowDocument.model_validate(FLOW).spec)
    draft.move(3, -1)  # "later" above "tell", inside the branch
    assert [s.key for s in draft.steps][:4] == ["big_only", "route", "later", "tell"]
    draft.move(1, -1)  # the paths step above the filter, its branch's steps with it
    assert [s.key for s in draft.steps][:4] == ["route", "later", "tell", "big_only"]
    draft.add_step("http.send_request", "route.nested")
    assert [(s.key, s.parent) for s in draft.steps][3] == ("send_request", "route.nested")
    draft.remove(0)
    assert [s.key for s in draft.steps] == ["big_only", "rows", "wait", "pretty"]


def test_a_branch_renamed_in_the_form_keeps_its_steps_and_takes_new_ones() -> None:
    form = _form(Draft.of(FlowDocument.model_validate(FLOW).spec))
    # "refunds" renamed "money_back", and the paths step "route" renamed "split", unsaved: the
    # page still says "route.refunds" in its steps' -parent and in "Add it to".
    form["steps-1-branch-0-name"] = "money_back"
    form["steps-1-key"] = "split"
    draft = Draft.read(form)
    assert [(s.key, s.parent) for s in draft.steps][1:4] == [
        ("split", ""),
        ("tell", "split.money_back"),
        ("later", "split.money_back"),
    ]
    assert draft.branch("route.refunds") == "split.money_back"
    assert draft.branch("route.nested") == "split.nested"
    draft.add_step("http.send_request", "route.refunds")
    assert [(s.key, s.parent) for s in draft.steps][4] == ("send_request", "split.money_back")
    document, problems = to_document(draft, CONNECTORS, enabled=False)
    assert problems == {} and document is not None
    [money_back, _nested] = document.spec.steps[1].paths.branches  # type: ignore[union-attr]
    assert [s.key for s in money_back.steps] == ["tell", "later", "send_request"]


def test_a_step_for_a_branch_that_is_gone_is_not_added_elsewhere() -> None:
    form = _form(Draft.of(FlowDocument.model_validate(FLOW).spec))
    form["steps-1-branch-1-name"] = ""  # the branch "nested" emptied of its name
    draft = Draft.read(form)
    assert draft.branch("route.nested") is None
    count = len(draft.steps)
    for gone in ("route.nested", "nowhere.at_all"):
        with pytest.raises(LookupError):
            draft.add_step("http.send_request", gone)
    assert len(draft.steps) == count
    draft.add_step("http.send_request", "")
    assert draft.steps[-1].parent == ""


def test_a_problem_in_a_branch_step_is_placed_by_its_key() -> None:
    keys = {"route": 1, "tell": 2}
    problem = "steps[1] (route).paths.branches[0] (refunds).steps[0] (tell).input.url: bad"
    assert place(problem, keys) == "steps-2-input-url"
    assert place("steps[1] (route).paths.branches[0] (refunds).when.all[0].to: x", keys) == (
        "steps-1"
    )


def test_every_operator_has_words_in_the_editor() -> None:
    assert set(OPERATOR_NAMES) == set(OPERATORS)
    assert as_text(100000) == "100000"


def test_a_new_schedule_is_read_in_the_time_zone_of_whoever_writes_it() -> None:
    with use_locale("fr", "Europe/Paris"):
        assert ScheduleDraft().timezone == "Europe/Paris"
        assert ScheduleDraft.read({"schedule-cron": "0 9 * * *"}, "schedule-").timezone == (
            "Europe/Paris"
        )
    assert ScheduleDraft().timezone == "UTC"


def test_numbers_typed_with_digits_int_cannot_read_are_left_for_validation() -> None:
    """ "²" is a key of French keyboards and passes str.isdigit(); int() refuses it. Typed
    into a count or an interval, the form keeps the text and saving says what is wrong,
    rather than a server error."""
    form = {
        "name": "x",
        "trigger": "webhook",
        "schedule-every": "60²",
        "digest-on": "1",
        "digest-name": "daily",
        "digest-release-count": "5²",
        "steps-" + "9" * 5000 + "-key": "ignored",
    }
    draft = Draft.read(form)
    assert draft.schedule.raw()["every"] == "60²"
    digest = draft.digest.raw()
    assert digest is not None and digest["release"]["count"] == "5²"
    assert draft.steps == []
