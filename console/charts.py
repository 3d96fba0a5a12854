"""Geometry for the overview's stacked bar chart, drawn as SVG by the template.

Plain arithmetic instead of a chart library: the page stays server-rendered, works
without JavaScript and needs no inline styles (colours are SVG presentation
attributes, which the Content-Security-Policy allows).
"""

from dataclasses import dataclass, field
from datetime import date

WIDTH = 720
HEIGHT = 240
LEFT = 40  # room for the y-axis labels
RIGHT = 24  # room for the last date label, centred under the last bar
BOTTOM = 28  # room for the date labels
TOP = 12

# Colour-blind-safe palette (Okabe-Ito), each with at least 3:1 contrast on white.
KIND_STYLES = {
    "created": ("Created", "#0072B2"),
    "updated": ("Updated", "#8a6d00"),
    "deactivated": ("Deactivated or deleted", "#D55E00"),
    "groups": ("Group changes", "#7a4f8f"),
}


@dataclass
class Bar:
    kind: str
    label: str
    colour: str
    x: float
    y: float
    width: float
    height: float
    count: int


@dataclass
class Day:
    day: date
    total: int
    bars: list[Bar] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # in KIND_STYLES order, for the table
    label_x: float = 0.0
    show_label: bool = False


@dataclass
class Chart:
    days: list[Day]
    ticks: list[tuple[float, int]]
    legend: list[tuple[str, str]]
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_bottom: int = HEIGHT - BOTTOM
    plot_right: int = WIDTH - RIGHT


def _nice_max(value: int) -> int:
    """The smallest 'round' number (1, 2, 5 times 10^n) at or above value, at least 4."""
    value = max(value, 4)
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def stacked_bars(series: list[tuple[date, dict[str, int]]]) -> Chart:
    """Lay out one stacked bar per day; `series` comes from selectors.daily_changes."""
    totals = [sum(counts.values()) for _, counts in series]
    top = _nice_max(max(totals, default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(len(series), 1)
    bar_width = max(slot * 0.7, 1)
    days = []
    for index, (day, counts) in enumerate(series):
        x = LEFT + index * slot + (slot - bar_width) / 2
        baseline = HEIGHT - BOTTOM
        entry = Day(
            day=day,
            total=sum(counts.values()),
            label_x=x + bar_width / 2,
            counts=[counts.get(kind, 0) for kind in KIND_STYLES],
        )
        # Label every fifth day from the most recent backwards, so "today" is labelled.
        entry.show_label = (len(series) - 1 - index) % 5 == 0
        for kind, (label, colour) in KIND_STYLES.items():
            count = counts.get(kind, 0)
            if not count:
                continue
            height = plot_height * count / top
            baseline -= height
            entry.bars.append(
                Bar(
                    kind,
                    label,
                    colour,
                    round(x, 1),
                    round(baseline, 1),
                    round(bar_width, 1),
                    round(height, 1),
                    count,
                )
            )
        days.append(entry)
    # top is 1, 2 or 5 times a power of ten (at least 4): a fifth or a quarter of it
    # is a whole number, so every tick is labelled exactly.
    step = top // 5 if top % 5 == 0 else top // 4
    ticks = [
        (round(HEIGHT - BOTTOM - plot_height * value / top, 1), value)
        for value in range(0, top + 1, step)
    ]
    legend = [(label, colour) for label, colour in KIND_STYLES.values()]
    return Chart(days=days, ticks=ticks, legend=legend, total=sum(totals))
