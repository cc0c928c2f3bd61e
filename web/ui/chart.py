"""The dashboard's chart of runs per hour: stacked bars that the server draws as SVG.

No charting library and no script: :func:`hourly_chart` computes the geometry in the SVG's own
units, and ``dashboard/_chart.html`` writes it out, with a title, a description and a table
of the same figures for screen readers. The drawing scales with its container; on narrow
screens the stylesheet enlarges the labels and hides every other hour's (``minor``), so that
the text stays readable at 360 px.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from maillon.engine.i18n import format_clock
from maillon.engine.services.stats import HourCount

__all__ = ["Bar", "HourlyChart", "Tick", "hourly_chart"]

#: The drawing's size in its own units (the viewBox), and the plot's margins.
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 40


@dataclass(frozen=True)
class Bar:
    """One hour: its figures and where its two stacked parts are drawn."""

    hour: int
    label: str
    succeeded: int
    failed: int
    x: float
    width: float
    #: The succeeded part sits on the axis, the failed part on top of it.
    ok_y: float
    ok_height: float
    ko_y: float
    ko_height: float
    #: Whether the hour is written under the axis, and whether only on wide screens.
    labelled: bool
    minor: bool

    @property
    def total(self) -> int:
        """Runs that finished in the hour."""
        return self.succeeded + self.failed


@dataclass(frozen=True)
class Tick:
    """A value on the vertical axis and its height."""

    value: int
    y: float

    @property
    def label(self) -> str:
        """The value, four characters at most (``1.5k`` rather than ``1,500``), so that the
        axis keeps its width when the labels are enlarged for narrow screens."""
        if self.value >= 1_000_000:
            return f"{self.value / 1_000_000:g}M"
        if self.value >= 1000:
            return f"{self.value / 1000:g}k"
        return str(self.value)


@dataclass(frozen=True)
class HourlyChart:
    """Everything the template draws."""

    bars: list[Bar]
    ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    axis_y: int = HEIGHT - BOTTOM

    @property
    def succeeded(self) -> int:
        """Runs that succeeded over the whole chart."""
        return sum(bar.succeeded for bar in self.bars)

    @property
    def failed(self) -> int:
        """Runs that failed over the whole chart."""
        return sum(bar.failed for bar in self.bars)

    @property
    def busiest(self) -> Bar | None:
        """The hour with the most finished runs (``None`` when no run finished)."""
        best = max(self.bars, key=lambda bar: bar.total, default=None)
        return best if best is not None and best.total else None


def _scale_top(highest: int) -> tuple[int, int]:
    """The axis' top value and its step: 1, 2 or 5 times a power of ten, four steps at most."""
    if highest <= 0:
        return 1, 1
    rough = highest / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return math.ceil(highest / step) * step, step


def hourly_chart(hours: Sequence[HourCount]) -> HourlyChart:
    """Stacked bars of ``hours`` (oldest first), hours labelled every three hours in the
    reader's time zone."""
    top_value, step = _scale_top(max((h.succeeded + h.failed for h in hours), default=0))
    axis_y = HEIGHT - BOTTOM
    plot_height = axis_y - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(hours))

    def height(value: int) -> float:
        return round(plot_height * value / top_value, 2)

    bars = []
    for index, h in enumerate(hours):
        ok, ko = height(h.succeeded), height(h.failed)
        bars.append(
            Bar(
                hour=h.hour,
                label=format_clock(h.hour),
                succeeded=h.succeeded,
                failed=h.failed,
                x=round(LEFT + index * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                ok_y=round(axis_y - ok, 2),
                ok_height=ok,
                ko_y=round(axis_y - ok - ko, 2),
                ko_height=ko,
                labelled=index % 3 == 0,
                minor=index % 6 != 0,
            )
        )
    ticks = [
        Tick(value, round(axis_y - height(value), 2)) for value in range(0, top_value + 1, step)
    ]
    return HourlyChart(bars=bars, ticks=ticks)
