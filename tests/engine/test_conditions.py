"""Conditions on templated values: every operator, AND/OR groups, and the reasons given."""

from __future__ import annotations

from typing import Any

import pytest

from maillon.engine.conditions import OPERATORS, Group, evaluate

EVENT = {
    "amount": 150000,
    "amount_text": "150000",
    "status": "REFUNDED",
    "email": "ada@example.com",
    "tags": ["vip", "loan"],
    "comment": "",
    "nothing": None,
    "created_at": "2026-05-04T09:15:00Z",
    "custom": {"source": "web"},
}


def held(value: Any, op: str, to: Any = None) -> bool:
    group = Group.model_validate({"all": [{"value": value, "op": op, "to": to}]})
    return evaluate(group, {"event": EVENT}).held


CASES: list[tuple[str, str, Any, bool]] = [
    ("{{ event.status }}", "equals", "REFUNDED", True),
    ("{{ event.status }}", "equals", "refunded", False),
    ("{{ event.amount }}", "equals", "150000", True),  # a number equals its text
    ("{{ event.amount_text }}", "equals", 150000.0, True),
    ("{{ event.status }}", "not_equals", "PENDING", True),
    ("{{ event.status }}", "not_equals", "REFUNDED", False),
    ("{{ event.email }}", "contains", "@example", True),
    ("{{ event.tags }}", "contains", "vip", True),  # a list contains an item
    ("{{ event.tags }}", "contains", "vi", False),
    ("{{ event.custom }}", "contains", "source", True),  # a mapping contains a key
    ("{{ event.email }}", "not_contains", "@gmail", True),
    ("{{ event.email }}", "starts_with", "ada@", True),
    ("{{ event.email }}", "starts_with", "bob@", False),
    ("{{ event.email }}", "ends_with", ".com", True),
    ("{{ event.email }}", "ends_with", ".fr", False),
    ("{{ event.amount }}", "greater_than", 100000, True),
    ("{{ event.amount }}", "greater_than", "150000", False),
    ("{{ event.amount_text }}", "greater_than", "99999", True),  # numbers, not text order
    ("{{ event.amount }}", "less_than", 200000, True),
    ("{{ event.amount }}", "at_least", 150000, True),
    ("{{ event.amount }}", "at_most", 149999, False),
    ("{{ event.created_at }}", "greater_than", "2026-05-01", True),  # dates as dates
    ("{{ event.created_at }}", "less_than", "2026-05-04T11:30:00+02:00", True),
    ("{{ event.created_at }}", "at_least", "2026-05-04T09:15:00+00:00", True),
    ("{{ event.status }}", "greater_than", 3, False),  # neither numbers nor dates
    ("{{ event.email }}", "exists", None, True),
    ("{{ event.missing }}", "exists", None, False),
    ("{{ event.nothing }}", "exists", None, False),
    ("{{ event.missing }}", "not_exists", None, True),
    ("{{ event.comment }}", "is_empty", None, True),
    ("{{ event.missing }}", "is_empty", None, True),
    ("{{ event.tags }}", "is_empty", None, False),
    ("{{ event.email }}", "is_not_empty", None, True),
    ("{{ event.email }}", "matches", r"^[a-z]+@example\.(com|fr)$", True),
    ("{{ event.email }}", "matches", r"^bob", False),
    ("{{ event.email }}", "matches", "(unclosed", False),  # a bad pattern holds nothing
    ("{{ event.status }}", "in", ["REFUNDED", "CANCELLED"], True),
    ("{{ event.status }}", "in", "PENDING, REFUNDED", True),  # a list typed in one input
    ("{{ event.amount }}", "in", [1, 150000], True),
    ("{{ event.status }}", "not_in", ["PENDING"], True),
    ("{{ event.status }}", "not_in", "REFUNDED,CANCELLED", False),
    ("{{ event.missing }}", "equals", "x", False),  # a missing field holds nothing
    ("{{ event.missing }}", "not_equals", "x", False),
    ("{{ event.status }}", "equals", "{{ event.status }}", True),  # `to` is a template too
]


@pytest.mark.parametrize(("value", "op", "to", "expected"), CASES)
def test_each_operator(value: str, op: str, to: Any, expected: bool) -> None:
    assert held(value, op, to) is expected


def test_every_operator_is_tested_above() -> None:
    assert {op for _, op, _, _ in CASES} == set(OPERATORS)


def test_groups_nest_with_and_or() -> None:
    group = Group.model_validate(
        {
            "all": [
                {"value": "{{ event.amount }}", "op": "greater_than", "to": 100000},
                {
                    "any": [
                        {"value": "{{ event.status }}", "op": "equals", "to": "PENDING"},
                        {"value": "{{ event.tags }}", "op": "contains", "to": "vip"},
                    ]
                },
            ]
        }
    )
    assert evaluate(group, {"event": EVENT}).held
    assert not evaluate(group, {"event": {**EVENT, "tags": []}}).held
    assert not evaluate(group, {"event": {**EVENT, "amount": 10}}).held


def test_the_reason_names_the_condition_that_decided() -> None:
    group = Group.model_validate(
        {
            "all": [
                {"value": "{{ event.status }}", "op": "equals", "to": "REFUNDED"},
                {"value": "{{ event.amount }}", "op": "greater_than", "to": 200000},
            ]
        }
    )
    verdict = evaluate(group, {"event": EVENT})
    assert verdict.reason == "event.amount (150000) is not greater than 200000"
    either = Group.model_validate(
        {
            "any": [
                {"value": "{{ event.status }}", "op": "equals", "to": "PENDING"},
                {"value": "{{ event.missing }}", "op": "exists"},
            ]
        }
    )
    assert evaluate(either, {"event": EVENT}).reason == (
        "none held: event.status ('REFUNDED') is not 'PENDING'; event.missing does not exist"
    )
    words = Group.model_validate(
        {"all": [{"value": "{{ event.status }}", "op": "greater_than", "to": 3}]}
    )
    assert evaluate(words, {"event": EVENT}).reason == (
        "event.status ('REFUNDED') is not greater than 3 (compares numbers or dates only)"
    )


@pytest.mark.parametrize(
    ("group", "problem"),
    [
        ({"all": [{"value": "x", "op": "equals"}]}, "filter.all[0].to: missing (equals compares"),
        ({"all": [{"value": "{{ event.", "op": "exists"}]}, "filter.all[0].value: template syntax"),
        ({"any": [{"value": "x", "op": "matches", "to": "(a"}]}, "filter.any[0].to: not a regular"),
    ],
)
def test_a_group_says_what_keeps_it_from_being_saved(group: dict[str, Any], problem: str) -> None:
    [found] = Group.model_validate(group).problems("filter")
    assert found.startswith(problem)


def test_a_group_is_either_all_or_any() -> None:
    with pytest.raises(ValueError, match="give either all"):
        Group.model_validate(
            {"all": [{"value": "x", "op": "exists"}], "any": [{"value": "y", "op": "exists"}]}
        )
