"""The dashboard's chart geometry and the pages' formats, as plain functions."""

from __future__ import annotations

import json

from maillon.engine.i18n import use_locale
from maillon.engine.services.stats import HourCount
from maillon.web.ui.chart import hourly_chart
from maillon.web.ui.formats import ago, duration, first_line, pretty_json

HOUR = 3600
START = 1_780_000_000 // HOUR * HOUR


def day(*counts: tuple[int, int]) -> list[HourCount]:
    """24 hours from START, the last ones with ``counts`` (succeeded, failed)."""
    padded = [(0, 0)] * (24 - len(counts)) + list(counts)
    return [HourCount(START + i * HOUR, ok, ko) for i, (ok, ko) in enumerate(padded)]


def test_bars_stack_failed_on_succeeded_under_a_round_scale() -> None:
    chart = hourly_chart(day((30, 0), (100, 37)))
    assert len(chart.bars) == 24
    assert [t.value for t in chart.ticks] == [0, 50, 100, 150]
    last = chart.bars[-1]
    plot = chart.axis_y - chart.top
    assert last.ok_y + last.ok_height == chart.axis_y
    assert last.ko_y + last.ko_height == last.ok_y
    assert abs(last.ok_height + last.ko_height - plot * 137 / 150) < 0.05
    assert chart.ticks[-1].y == chart.top
    assert (chart.succeeded, chart.failed) == (130, 37)
    assert chart.busiest is last
    # Bars stay inside the plot, in order, one slot each.
    assert chart.bars[0].x > chart.left
    assert all(a.x < b.x for a, b in zip(chart.bars, chart.bars[1:], strict=False))
    assert last.x + last.width < chart.right


def test_hours_are_labelled_in_the_readers_zone_every_three_and_every_six_on_phones() -> None:
    chart = hourly_chart(day())
    assert chart.bars[0].label == "8:00\u202fPM"  # START: 1,780,000,000 s rounded down, in UTC
    with use_locale("fr", "Europe/Paris"):
        assert hourly_chart(day()).bars[0].label == "22:00"
    labelled = [bar.label for bar in chart.bars if bar.labelled]
    assert len(labelled) == 8
    assert [bar.label for bar in chart.bars if bar.labelled and not bar.minor] == labelled[::2]


def test_an_empty_day_draws_no_bar_and_has_no_busiest_hour() -> None:
    chart = hourly_chart(day())
    assert all(bar.ok_height == bar.ko_height == 0 for bar in chart.bars)
    assert [t.value for t in chart.ticks] == [0, 1]
    assert chart.busiest is None


def test_axis_labels_stay_short() -> None:
    assert [t.label for t in hourly_chart(day((4000, 0))).ticks] == ["0", "1k", "2k", "3k", "4k"]
    assert hourly_chart(day((2_500_000, 0))).ticks[-1].label == "3M"


def test_formats() -> None:
    assert [duration(s) for s in (None, 0.25, 4.24, 185, 7800, 200_000)] == [
        "—",
        "250 ms",
        "4.2 s",
        "3 min 5 s",
        "2 h 10 min",
        "2 d 7 h",
    ]
    assert [ago(1000 - s, now=1000) for s in (5, 180, 7200, 200_000)] == [
        "just now",
        "3 min ago",
        "2 h ago",
        "2 d ago",
    ]
    assert first_line("step a: refused\nTraceback ...") == "step a: refused"
    assert first_line("x" * 300, limit=10) == "x" * 9 + "…"
    assert pretty_json('{"a":[1,2]}') == ('{\n  "a": [\n    1,\n    2\n  ]\n}', False)
    assert pretty_json("not json") == ("not json", False)
    text, cut = pretty_json(json.dumps({"k": "v" * 500}), limit=100)
    assert (len(text), cut) == (100, True)
