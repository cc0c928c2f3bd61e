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


def test_money_is_written_as_a_language_writes_it() -> None:
    assert render_value("{{ 150000 | money('EUR', locale='fr') }}", {}) == "1\u202f500,00\u00a0€"
    assert render_value("{{ 150000 | money('EUR', locale='en') }}", {}) == "€1,500.00"
    assert render_value("{{ 9900 | money('USD', locale='en-GB') }}", {}) == "US$99.00"
    with pytest.raises(TemplateRenderError, match="unknown locale 'xx-yy'"):
        render_value("{{ 1 | money('EUR', locale='xx-yy') }}", {})


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


INVESTOR: dict[str, Any] = {"event": {"investor": {"name": "Ada", "address": None}}}


@pytest.mark.parametrize(
    "source",
    [
        "{{ event.investor.address.city | default('unknown') }}",  # address is null
        "{{ event.investor.home.city | default('unknown') }}",  # home is missing
        "{{ event.company.address.city | default('unknown') }}",  # missing from the top
        "{{ event['investor']['home']['city'] | default('unknown') }}",
    ],
)
def test_a_default_covers_every_part_of_its_path(source: str) -> None:
    assert render_value(source, INVESTOR) == "unknown"
    assert render_value(f"in {source}", INVESTOR) == "in unknown"


def test_a_missing_part_of_a_path_without_default_names_it() -> None:
    with pytest.raises(TemplateRenderError) as info:
        render_value({"text": "{{ event.investor.home.city }}"}, INVESTOR)
    assert str(info.value) == "input.text: no field 'home'"
    with pytest.raises(TemplateRenderError, match="no field 'home'"):
        render_value("{{ event.investor.home.city | upper }}", INVESTOR)


def test_fields_of_the_event_win_over_method_names() -> None:
    event = {
        "items": [{"id": "it-1"}],
        "keys": "k",
        "values": [3, 4],
        "update": "2026-05-02",
        "count": 2,
        "get": "g",
    }
    context = {"event": event}
    assert render_value("{{ event.items[0].id }}", context) == "it-1"
    assert render_value("{{ event.keys }} {{ event.update }} {{ event.get }}", context) == (
        "k 2026-05-02 g"
    )
    assert render_value("{{ event.values | sum }}", context) == 7
    assert render_value("{{ event.count + 1 }}", context) == 3
    # Without such a field, the methods are still there (read-only ones: the sandbox holds).
    assert render_value("{{ event.custom.items() | list }}", CTX) == [("a", 1)]
    with pytest.raises(TemplateRenderError):
        render_value("{{ event.custom.update({'b': 2}) }}", CTX)


@pytest.mark.parametrize(
    ("body", "source", "expected"),
    [
        ([{"id": "a1"}, {"id": "a2"}], "{{ event[0].id }}-{{ event[1].id }}", "a1-a2"),
        ([{"id": "a1"}], "{{ event | length }}", 1),
        ("plain text", "got {{ event }}", "got plain text"),
        (42, "{{ event * 2 }}", 84),
    ],
)
def test_an_event_may_be_a_list_or_a_scalar(body: Any, source: str, expected: Any) -> None:
    assert render_value(source, {"event": body}) == expected
