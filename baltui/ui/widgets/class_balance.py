"""The labelled set's class balance, a run panel's second chart.

It took the place of the unlabelled-pool curve, which fell by the same step every query and told nothing. Bars
per class show what the acquisition is doing to the labelled set: an uncertainty strategy that keeps asking for
two or three classes, an unbalanced pool, a balanced start drifting.
"""

from __future__ import annotations

from collections.abc import Sequence

from baltui.ui.axes import set_axes
from baltui.ui.widgets.chart import ChartPlot

TITLE = "labelled per class"
# Where the chart is too narrow for TITLE, the first of these that fits: plotext drops a title whole unless the
# chart is TITLE_MARGIN columns wider than it.
SHORT_TITLES = ("per class", "labelled")
TITLE_MARGIN = 4
MISSING = "labelled per class: not recorded"  # a folder from before baltui kept the counts
BAR = 0.8  # of a class's slot
NAME_CHARACTERS = 3  # of a class name under its bar (digits are one)


def class_ticks(n: int, class_names: Sequence[str] | None, width: int) -> tuple[list[int], list[str]]:
    """The classes to name under the axis and their labels: every class when the names fit `width` columns,
    else every k-th; a name is its first NAME_CHARACTERS characters (a class index without names)."""
    names = [str(class_names[i]) if class_names is not None and i < len(class_names) else str(i) for i in range(n)]
    names = [name[:NAME_CHARACTERS] for name in names]
    widest = max((len(name) for name in names), default=1) + 1
    step = 1
    while step < n and (n + step - 1) // step * widest > max(width, 1):
        step += 1
    shown = list(range(0, n, step))
    return shown, [names[i] for i in shown]


def fitting_title(width: int) -> str:
    """The longest of TITLE and SHORT_TITLES that a chart `width` columns wide draws."""
    return next((t for t in (TITLE, *SHORT_TITLES) if len(t) + TITLE_MARGIN <= width), SHORT_TITLES[-1])


class ClassBalancePlot(ChartPlot):
    """Bars of the labelled images per class after the latest query (the engine's `labelled_per_class`)."""

    def __init__(self, class_names: Sequence[str] | None = None, **kwargs) -> None:
        super().__init__(x_integer=True, y_integer=True, **kwargs)
        self.class_names = class_names
        self.counts: list[int] = []

    def on_mount(self) -> None:
        self.plt.title(TITLE)

    def show(self, counts: Sequence[int] | None) -> None:
        """Draw the latest counts; None (a record without them, from an older baltui) says so in the title."""
        self.plt.clear_data()
        if counts is None:
            if not self.counts:
                self.plt.title(MISSING)
            self.refresh()
            return
        self.counts = [int(c) for c in counts]
        self.plt.title(TITLE)
        full = [i for i, c in enumerate(self.counts) if c > 0]
        if full:
            spread = full[-1] - full[0]  # plotext makes a bar `width` x the mean gap between the bars given
            width = BAR * (len(full) - 1) / spread if spread else BAR
            self.plt.bar(full, [self.counts[i] for i in full], width=width, reset_ticks=False)
        self.refresh()

    def name_classes(self, class_names: Sequence[str] | None) -> None:
        """The class names, once known (watch loads the run's data after drawing its records)."""
        self.class_names = class_names
        self.refresh()

    def apply_axes(self, width: int, height: int) -> None:
        """x: one slot per class, named; y: whole counts from 0."""
        if not self.counts:
            return
        n = len(self.counts)
        self.plt.title(fitting_title(self.size.width))
        self.plt.xlim(-0.5, n - 0.5)
        shown, labels = class_ticks(n, self.class_names, width)
        self.plt.xticks(shown, labels)
        set_axes(self.plt, width, height, None, (0.0, float(max(max(self.counts), 1))), y_integer=True)
