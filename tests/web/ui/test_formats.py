"""How values are shown: a delivery's body in a few words."""

from __future__ import annotations

from maillon.web.ui.formats import gist


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
