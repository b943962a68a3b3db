"""Axis ranges and ticks for the terminal charts: round values, evenly spaced, whole numbers for counts.

plotext picks ticks by dividing the data range into equal parts, so a chart of labelled images ticks at 20.0,
142.5, 265.0 and a single point at query 0 gets an axis from -1 to 1. Every chart of the dashboard, the watcher
and `baltui report` sets its limits and ticks here instead, from the room it has (columns and rows), when it is
drawn. No Textual import: the report draws with it too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

X_TICK_COLUMNS = 10  # columns per x tick: a label of up to 6 characters and room between labels
Y_TICK_ROWS = 3  # rows per y tick
_STEPS = (1.0, 2.0, 2.5, 5.0)  # a step is one of these times a power of ten (whole on a count axis)


def span(values: Iterable[float], integer: bool = False, floor: float | None = None) -> tuple[float, float] | None:
    """The range an axis shows for `values`: their min and max, widened around a single value (or several
    equal ones) so it sits inside the axis, never below `floor` (no negative query or count)."""
    vals = [float(v) for v in values]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    if hi == lo:
        half = 1.0 if integer else max(abs(lo) * 0.05, 0.05)
        lo, hi = lo - half, hi + half
        if floor is not None and lo < floor:  # shift up, keeping the width: the value sits at the floor
            lo, hi = floor, floor + (hi - lo)
    elif floor is not None:
        lo = max(lo, floor)
    return lo, hi


def _multiples(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def nice_ticks(lo: float, hi: float, count: int, integer: bool = False) -> list[float]:
    """Round, evenly spaced tick values inside [lo, hi]: the multiples of the smallest round step (1, 2, 2.5 or
    5 times a power of ten; whole on a count axis) that gives at most `count` ticks and at least two (a few
    more than `count` where no round step gives two)."""
    count = max(count, 2)
    if hi <= lo:
        return [round(lo, 10)]
    power = 10.0 ** math.floor(math.log10((hi - lo) / (count - 1)))
    steps = sorted(m * power * f for f in (0.1, 1.0, 10.0, 100.0) for m in _STEPS)
    fits = [step for step in steps if not integer or (step >= 1 and float(step).is_integer())]
    crowded: list[float] | None = None  # the fewest ticks above `count` (when no step gives 2 to `count`)
    for step in fits:
        ticks = _multiples(lo, hi, step)
        if len(ticks) < 2:
            break
        if len(ticks) <= count:
            return ticks
        crowded = ticks
    return crowded or _multiples(lo, hi, fits[-1]) or [round((lo + hi) / 2, 10)]


def tick_labels(ticks: list[float], integer: bool = False) -> list[str]:
    """Labels with as many decimals as the step needs (0.90, 0.95; 100, 200), whole numbers for counts."""
    if integer or all(float(t).is_integer() for t in ticks):
        return [str(int(round(t))) for t in ticks]
    step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=abs(ticks[0]) or 1.0)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    if not all(abs(t * 10 ** decimals - round(t * 10 ** decimals)) < 1e-6 for t in ticks):
        decimals += 1  # a 2.5 step: 0.25 needs one more decimal than 0.2
    return [f"{t:.{decimals}f}" for t in ticks]


def set_axes(plt: Any, width: int, height: int, x: tuple[float, float] | None, y: tuple[float, float] | None,
             x_integer: bool = False, y_integer: bool = False) -> None:
    """Limits and ticks of a plotext figure `width` x `height` cells for the ranges x and y (None: leave
    that axis to plotext). Called just before the figure is built, once its size is known."""
    if x is not None:
        plt.xlim(*x)
        ticks = nice_ticks(*x, max(2, width // X_TICK_COLUMNS), x_integer)
        plt.xticks(ticks, tick_labels(ticks, x_integer))
    if y is not None:
        plt.ylim(*y)
        ticks = nice_ticks(*y, max(2, height // Y_TICK_ROWS), y_integer)
        plt.yticks(ticks, tick_labels(ticks, y_integer))
