from __future__ import annotations

from typing import Any

import pytest

from maillon.engine.templating import (
    TemplateRenderError,
    compile_check,
    referenced_paths,
    render_value,
)

CTX: dict[str, Any] = {
    "event": {
        "amount": 150000,
        "currency": "EUR",
        "created_at": "2026-05-02T09:15:00Z",
        "custom": {"a": 1},
    },
    "steps": {"notify": {"ts": "1.2"}},
}


def test_a_lone_expression_keeps_its_type() -> None:
    assert render_value("{{ event.amount }}", CTX) == 150000
    assert render_value("{{ event.custom }}", CTX) == {"a": 1}
    assert render_value(" {{ event.amount / 100 }} ", CTX) == 1500.0
    assert render_value("{{ event.amount }} {{ event.currency }}", CTX) == "150000 EUR"


def test_nested_structures_are_rendered() -> None:
    value = {"a": ["{{ event.currency }}", 3, None], "b": {"c": "ts={{ steps.notify.ts }}"}}
    assert render_value(value, CTX) == {"a": ["EUR", 3, None], "b": {"c": "ts=1.2"}}


def test_business_filters() -> None:
    assert render_value("{{ event.amount | money(event.currency) }}", CTX) == "1,500.00 EUR"
    paris = "{{ event.created_at | date('%d/%m/%Y %H:%M', 'Europe/Paris') }}"
    assert render_value(paris, CTX) == "02/05/2026 11:15"
    assert render_value("{{ event.nope | default('n/a') }}", CTX) == "n/a"
    with pytest.raises(TemplateRenderError, match="unknown timezone 'Mars/Base'"):
        render_value("{{ event.created_at | date('%Y', 'Mars/Base') }}", CTX)


@pytest.mark.parametrize("source", ["{{ event.missing }}", "x {{ event.missing }} y"])
def test_missing_fields_fail_and_say_which(source: str) -> None:
    with pytest.raises(TemplateRenderError) as info:
        render_value({"text": source}, CTX)
    assert str(info.value) == "input.text: no field 'missing'"


@pytest.mark.parametrize(
    "source",
    [
        "{{ event.__class__.__mro__ }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ event.custom.update({'b': 2}) }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_the_sandbox_blocks_internals_and_mutation(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        render_value(source, CTX)
    assert CTX["event"]["custom"] == {"a": 1}


def test_syntax_errors_are_found_at_save_time() -> None:
    compile_check({"ok": "{{ event.a }}", "list": ["plain"]})
    with pytest.raises(TemplateRenderError, match=r"input.bad\[0\]: template syntax error"):
        compile_check({"bad": ["{{ event.a "]})


def test_referenced_paths() -> None:
    source = "{{ event.a.b }} {{ steps.x['ts'] }} {% if event.c %}{{ event.c }}{% endif %}"
    assert referenced_paths(source) == {("event", "a", "b"), ("steps", "x", "ts"), ("event", "c")}
