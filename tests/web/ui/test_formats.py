"""How values are shown: a delivery's body in a few words."""

from __future__ import annotations

from maillon.web.ui.assets import templates
from maillon.web.ui.formats import gist, page_json, pretty_json


def test_a_body_in_a_few_words_starts_with_its_top_level() -> None:
    body = {
        "data": {"id": "t-1", "amount": 150000},
        "type": "transaction_created",
        "tags": ["a", "b"],
        "paid": False,
        "note": "two\n  lines",
    }
    assert gist(body, limit=200) == (
        "type: transaction_created · paid: false · note: two lines · data.id: t-1 · "
        "data.amount: 150000"
    )


def test_a_long_body_is_cut_and_an_empty_one_says_nothing() -> None:
    cut = gist({"a": "x" * 100, "b": 1})
    assert len(cut) == 60 and cut.endswith("…")
    assert gist({}) == gist([1, 2]) == gist("text") == ""
    # However large the body, only its first values are looked at.
    assert gist({f"k{i}": {} for i in range(100_000)}) == ""


def test_json_on_pages_keeps_letters_and_order_but_escapes_what_a_page_cannot_hold() -> None:
    # An app may answer a lone half of a UTF-16 pair: as it is, the page failed to encode.
    value = {"name": "Zoé", "amount": 1, "emoji": "x\ud83d", "bidi": "a\u202eb"}
    assert page_json(value) == (
        '{"name": "Zoé", "amount": 1, "emoji": "x\\ud83d", "bidi": "a\\u202eb"}'
    )
    env = templates().to_engine().engine
    shown = env.from_string("<code>{{ v | tojson }}</code>").render(v=value)
    shown.encode()  # a page that can be sent
    assert '"name": "Zoé", "amount": 1' in shown and "\\ud83d" in shown
    assert env.from_string("{{ v | tojson }}").render(v="<b>") == '"\\u003cb\\u003e"'
    assert pretty_json('{"x": "\\ud83d"}')[0] == '{\n  "x": "\\ud83d"\n}'
