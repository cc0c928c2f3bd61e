"""Durations typed in English or French."""

from __future__ import annotations

import pytest

from maillon.engine.durations import seconds_in


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("1d 12h", 129_600),
        ("1w", 604_800),
        ("2.5h", 9000),
        ("15 min", 900),
        ("2 days", 172_800),
        ("3 Hours", 10_800),
        ("1 week", 604_800),
        # French: jours, heures, semaines, a decimal comma, and 1h30 for an hour and a half.
        ("2 jours", 172_800),
        ("1j", 86_400),
        ("1 j 12 h", 129_600),
        ("1,5 h", 5400),
        ("1h30", 5400),
        ("2 h 05", 7500),
        ("1 sem", 604_800),
        ("3 semaines", 1_814_400),
        ("30 secondes", 30),
    ],
)
def test_durations_as_people_type_them(text: str, seconds: float) -> None:
    assert seconds_in(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "soon", "1 month", "2 mois", "1h 30 min 2", "1h60", "-5m", "1 h et 30 min", "1" * 70],
)
def test_what_is_not_a_duration(text: str) -> None:
    assert seconds_in(text) is None
