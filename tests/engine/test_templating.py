from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest

from maillon.engine.i18n import use_locale
from maillon.engine.templating import (
    Budget,
    JsonInputError,
    TemplateRenderError,
    compile_check,
    json_input,
    referenced_paths,
    render_unblocking,
    render_value,
    renders_quickly,
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


def refused_quickly(match: str, *args: Any, within: float = 0.5, **kwargs: Any) -> None:
    """``render_value(*args, **kwargs)`` fails with ``match`` in its error, within ``within``
    seconds: before anything large is built (a C call no deadline interrupts)."""
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=match):
        render_value(*args, **kwargs)
    assert time.monotonic() - started < within


def test_a_lone_expression_keeps_its_type() -> None:
    assert render_value("{{ event.amount }}", CTX) == 150000
    assert render_value("{{ event.custom }}", CTX) == {"a": 1}
    assert render_value(" {{ event.amount / 100 }} ", CTX) == 1500.0
    assert render_value("{{ event.amount }} {{ event.currency }}", CTX) == "150000 EUR"


def test_a_lone_expression_that_is_no_json_value_renders_to_its_text() -> None:
    # A datetime kept as it is failed the step (and the editor's preview) where its input was
    # encoded as JSON: a request's body, the run's record.
    value = {"at": "{{ now('UTC') }}", "both": "{{ [now('UTC'), 1, {'n': 2.5}] }}"}
    rendered = render_value(value, CTX)
    json.dumps(rendered)
    assert rendered["at"].startswith("20") and rendered["at"].endswith("+00:00")
    assert render_value("at {{ now('UTC') }}", CTX)[3:][:4] == rendered["at"][:4]
    assert rendered["both"][0].endswith("+00:00")
    assert rendered["both"][1:] == [1, {"n": 2.5}]


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


# -- budgets: a template cannot stall or exhaust the process ----------------------------------

_NESTED_LOOPS = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    "source",
    [
        _NESTED_LOOPS,
        # Self-recursion that branches: 2**40 calls, each shallow.
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    ],
)
def test_a_template_past_its_time_budget_fails_within_it(source: str) -> None:
    refused_quickly(
        r"time budget of 0\.3s", {"text": source}, CTX, budget=Budget(seconds=0.3), within=1.0
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**9 }}",
        "{{ [0] * 10**9 }}",
        "{{ 'a' | center(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ 'a'.zfill(999999999) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'ab' | batch(10**9, 'x') | list }}",
        "{{ ('x' * 1000).replace('', 'y' * 10000) }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        "{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}",
        "{{ event.custom | tojson * 10**6 }}",
    ],
)
def test_a_template_past_its_output_budget_fails_before_building_it(source: str) -> None:
    refused_quickly(
        "output budget of 100,000 characters",
        {"text": source},
        CTX,
        budget=Budget(max_chars=100_000),
    )


# One list held 300,000 times (or 2,000,000): a few megabytes in memory, but hundreds of
# millions of characters once written out, by a single C call no deadline can interrupt.
SHARED: dict[str, Any] = {"event": {"rows": [[1] * 1000] * 300_000, "words": ["x" * 10**6] * 1000}}
_LITERALS = "{% set a = [1] * 500000 %}{% set b = [a, a, a, a, a, a, a, a] %}"


@pytest.mark.parametrize(
    "source",
    [
        # Built by the template: refused where the shared parts are repeated or combined.
        "{{ ([[1] * 1000] * 300000) | string | length }}",
        "{{ ([[1] * 2000000] * 2000000) | length }}",
        "{{ (['x' * 1000000] * 1000) | join | length }}",
        "{{ (['x' * 1000] * 2000000) | length }}",
        "{{ [[1] * 1000] + [[1] * 1000] * 2000 }}",
        _LITERALS + "{{ b | length }}",
        _LITERALS + "{{ [b, b] == [b, b] }}",
        # Given by the event: refused where they are written out.
        "{{ event.rows | string | length }}",
        "{{ event.rows | tojson | length }}",
        "{{ event.rows | pprint | length }}",
        "{{ event.rows | join | length }}",
        "{{ event.words | join(',') | length }}",
        "{{ ','.join(event.words) | length }}",
        "{{ event.words | map('upper') | join | length }}",
        "{{ event.rows | upper | length }}",
        "{{ event.rows | center(10) | length }}",
        "{{ event.rows | slug | length }}",
        "{{ event.rows }}",
        "rows: {{ event.rows }}",
        "{{ event.rows ~ '' }}",
        "{{ '%s' % (event.rows,) }}",
        "{{ '%s' | format(event.rows) }}",
        "{{ '{}'.format(event.rows) }}",
        "{% set ns = namespace(rows=event.rows) %}{{ ns | string }}",
        "{{ {'rows': event.rows} | length }}",
        # Amplified by an argument.
        "{{ [[1] * 1000] | tojson(indent=100000) | length }}",
        "{{ ('x\n' * 100000) | indent(20000) | length }}",
    ],
)
def test_a_value_made_of_shared_parts_is_refused_before_it_is_written(source: str) -> None:
    refused_quickly("output budget of 2,000,000 characters", {"text": source}, SHARED)


def test_a_product_of_huge_numbers_is_refused() -> None:
    # Squaring in a loop doubles the size each turn, each product one C call.
    source = (
        "{% set ns = namespace(x=2 ** 2000) %}{% for i in range(30) %}"
        "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}"
    )
    refused_quickly("product too large", source, CTX)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ['a', 'b', event.currency] | join(', ') }}", "a, b, EUR"),
        ("{{ event.custom | tojson }}", '{"a": 1}'),
        ("{{ event | tojson | length > 50 }}", True),
        ("{{ '-' * 20 }}", "-" * 20),
        ("{{ [0] * 3 + [1] }}", [0, 0, 0, 1]),
        ("{{ event.amount | money(event.currency) }}", "1,500.00 EUR"),
        ("{{ event.amount | number }}", "150,000"),
        ("{{ '%s-%05d' % (event.currency, 42) }}", "EUR-00042"),
        ("{{ '{}/{}'.format(event.currency, event.custom.a) }}", "EUR/1"),
        ("{{ [event.custom, event.custom] }}", [{"a": 1}, {"a": 1}]),
        ("{{ ('a\nb' | indent(2)) ~ '|' ~ ((['x'] * 3) | join('.')) }}", "a\n  b|x.x.x"),
        ("{% set ns = namespace(n=1) %}{{ ns.n }} {{ range(3) | join }}", "1 012"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: Any) -> None:
    assert render_value(source, CTX) == expected


def test_lists_are_not_summed() -> None:
    # sum(start=[]) concatenates in one C loop, quadratic in the number of lists: a deadline
    # cannot interrupt it.
    with pytest.raises(TemplateRenderError, match="sum adds numbers"):
        render_value("{{ range(99999) | batch(1) | sum(start=[]) }}", CTX)
    assert render_value("{{ [1, 2] | sum(start=10) }}", CTX) == 13


def test_huge_powers_are_refused() -> None:
    with pytest.raises(TemplateRenderError, match="power too large"):
        render_value("{{ 10 ** 10000000 }}", CTX)
    assert render_value("{{ 2 ** 64 }}", CTX) == 2**64


def test_a_rendered_input_is_held_to_the_output_budget_as_a_whole() -> None:
    # Each field fits, together they do not: a step's input is stored and shown whole.
    context = {"event": {"big": "x" * 60_000}}
    value = {"a": "{{ event.big }}", "b": "{{ event.big }}"}
    with pytest.raises(TemplateRenderError, match="output budget"):
        render_value(value, context, budget=Budget(max_chars=100_000))
    assert render_value({"a": "{{ event.big }}"}, context, budget=Budget(max_chars=100_000))


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% include 'other' %}", "cannot include, import or extend"),
        ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "nested too deeply"),
        ("{{ 'x' }}" * 20_000, "longer than 100,000 characters"),
    ],
)
def test_what_cannot_be_bounded_is_refused_when_saved(source: str, reason: str) -> None:
    with pytest.raises(TemplateRenderError, match=reason):
        compile_check({"text": source})


def test_a_recursive_macro_fails_cleanly() -> None:
    with pytest.raises(TemplateRenderError, match="recursion too deep"):
        render_value("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", CTX)


# -- properties: whatever the source and the data, the renderer fails only in its own words ----

_PIECES = [
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "for x in ",
    "endfor",
    "if ",
    "endif",
    "set ",
    "macro m(a)",
    "endmacro",
    "m(",
    "range(",
    ")",
    "(",
    "[",
    "]",
    "event",
    ".",
    "a",
    "l",
    "x",
    "'s'",
    "9",
    "99999999",
    "*",
    "**",
    "~",
    "+",
    "%",
    "|",
    "center(",
    "join",
    "format",
    "replace(",
    "batch(",
    "default(",
    "money",
    "date",
    "tojson",
    "namespace(",
    "loop",
    ",",
    "-",
    "/",
    "//",
    "==",
    "and",
    "not",
    "None",
    "__class__",
    "__mro__",
    "self",
]


@hypothesis.settings(max_examples=200, deadline=None, database=None)
@hypothesis.given(
    source=st.one_of(
        st.text(max_size=80),
        st.lists(st.sampled_from(_PIECES), max_size=25).map("".join),
    ),
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=12,
    ),
)
def test_the_renderer_raises_only_its_own_error(source: str, data: Any) -> None:
    context = {"event": {"a": data, "l": [data, data]}, "steps": {}}
    budget = Budget(seconds=0.05, max_chars=10_000)
    with contextlib.suppress(TemplateRenderError):
        compile_check({"text": source})
        render_value({"text": source}, context, budget=budget)


@pytest.mark.parametrize(
    "value",
    [
        "no template at all",
        "{{ event.custom.a }}",
        "{{ event.amount | money('EUR') }} on {{ event.created_at | date }}",
        "{% if event.amount > 100 %}big{% elif event.custom %}some{% else %}small{% endif %}",
        "{{ event.currency ~ '-' ~ (event.amount // 100) }}",
        "{{ event['items'][0:3] | join(', ') | upper }}",
        "{{ event.status | default('new') | lookup({'NEW': 'nouveau'}) }}",
        {"to": "{{ event.email }}", "lines": ["{{ event.id }}", 3, None]},
    ],
)
def test_lookups_conditions_and_linear_filters_render_quickly(value: Any) -> None:
    assert renders_quickly(value)


@pytest.mark.parametrize(
    "value",
    [
        # Loops, what can grow a value far beyond its input, sorting: each may take up to
        # the time budget.
        "{% for a in event['items'] %}{{ a }}{% endfor %}",
        "{{ 'x' * 1000000 }}",
        "{{ event.currency.ljust(1000000) }}",
        "{{ event.currency | replace('E', 'EEEE') }}",
        "{{ event['items'] | map(attribute='name') | join(',') }}",
        "{{ event['items'] | sort | join(',') }}",
        "{% macro m() %}{% endmacro %}{{ m() }}",
        "{% set x = event.amount %}{{ x }}",
        "{{ now() }}",
        "{{ broken",
        {"fine": "{{ event.id }}", "nested": ["{% for a in b %}{% endfor %}"]},
    ],
)
def test_anything_else_does_not(value: Any) -> None:
    assert not renders_quickly(value)


def test_only_a_quick_template_is_rendered_on_the_event_loop() -> None:
    threads: list[int] = []

    def render() -> str:
        threads.append(threading.get_ident())
        return "rendered"

    async def main() -> int:
        assert await render_unblocking("{{ event.id }}", render) == "rendered"
        assert await render_unblocking("{% for a in b %}{% endfor %}", render) == "rendered"
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert threads[0] == loop_thread
    assert threads[1] != loop_thread


def test_json_typed_text_is_read_as_a_run_gets_it() -> None:
    assert json_input('{"amount": "{{ event.amount }}"}') == {"amount": "{{ event.amount }}"}
    assert json_input(' [1, "{{ item }}"]') == [1, "{{ item }}"]
    # One template for the whole value, or plain text, is kept as typed.
    assert json_input("{{ event.items }}") == "{{ event.items }}"
    assert json_input("{% if x %}[]{% endif %}") == "{% if x %}[]{% endif %}"
    assert json_input("plain") == "plain"
    # Quoted, a template that is one expression keeps its type once rendered.
    rendered = render_value(json_input('{"amount": "{{ event.amount }}"}'), CTX)
    assert rendered == {"amount": 150000}


def test_a_bare_template_in_json_is_refused_by_name() -> None:
    with pytest.raises(JsonInputError) as bare:
        json_input('{"name": "x {{ event.name }}", "amount": {{ event.amount }}}')
    assert bare.value.reason == (
        'a template in a JSON value goes in quotes: "{{ event.amount }}" (it keeps its type)'
    )
    with pytest.raises(JsonInputError) as unclosed:
        json_input("[{{ item.sku")
    assert '"{{ item.sku"' in unclosed.value.reason
    # A brace in a string (escaped quotes included) is text, not a template out of place.
    with pytest.raises(JsonInputError) as broken:
        json_input('{"a": "\\" {{ x }}", ')
    assert broken.value.reason.startswith("not valid JSON: ")
    with use_locale("fr"), pytest.raises(JsonInputError) as french:
        json_input('{"amount": {{ event.amount }}}')
    assert "guillemets" in french.value.reason


def test_many_fields_that_each_fit_are_measured_together_before_anything_encodes_them() -> None:
    # One list held 600 times: written out, 1.2 million characters, within the budget; 300
    # fields of it would be 360 million, were they encoded (or converted) part by part.
    context = {"big": [[1] * 1000] * 600}
    refused_quickly("output budget", {f"f{i}": "{{ big }}" for i in range(300)}, context)
    assert render_value({"a": "{{ big }}", "b": "{{ 3 }}"}, context)["a"] is context["big"]


@pytest.mark.parametrize("name", ["wordwrap(1)", "urlize"])
def test_filters_slow_on_long_text_take_a_bounded_input(name: str) -> None:
    refused_quickly("it takes at most 100,000", "{{ ('x' * 1900000) | " + name + " }}", {})
    assert render_value("{{ 'one two three' | " + name + " }}", {})
