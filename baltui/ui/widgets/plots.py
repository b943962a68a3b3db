"""The run panels' line charts: plotext plots whose data lives on the widget, touched only on the UI thread.

The comparison chart (baltui.ui.widgets.comparison) and the score histogram (baltui.ui.widgets.histogram) live in
their own modules and are re-exported here, where the apps and the tests have always found them.
"""

from __future__ import annotations

from baltui.ui.axes import span
from baltui.ui.widgets.chart import ChartPlot, Range
from baltui.ui.widgets.comparison import REFERENCE_REACH as REFERENCE_REACH
from baltui.ui.widgets.comparison import ComparisonPlot as ComparisonPlot
from baltui.ui.widgets.histogram import ScoreHistogram as ScoreHistogram


class LinePlot(ChartPlot):
    """One curve that grows a point per query; x counts (queries, labelled images), y counts too if y_integer."""

    def __init__(self, title: str, xlabel: str, y_integer: bool = False, **kwargs) -> None:
        super().__init__(y_integer=y_integer, **kwargs)
        self.title = title
        self.xlabel = xlabel
        self.xs: list[float] = []
        self.ys: list[float] = []

    def on_mount(self) -> None:
        self.plt.title(self.title)
        self.plt.xlabel(self.xlabel)

    def add(self, x: float, y: float) -> None:
        self.xs.append(x)
        self.ys.append(y)
        self.replot()

    def ranges(self) -> tuple[Range | None, Range | None]:
        floor = 0.0 if self.y_integer else None
        return span(self.xs, integer=True, floor=0), span(self.ys, integer=self.y_integer, floor=floor)

    def replot(self) -> None:
        self.plt.clear_data()
        if self.xs:
            self.plt.plot(self.xs, self.ys, marker="braille")
        self.refresh()


class AccuracyPlot(LinePlot):
    """Test accuracy against the number of labelled images, on a 0..1 axis zoomed to the data."""

    def ranges(self) -> tuple[Range | None, Range | None]:
        x, _ = super().ranges()
        return x, ((max(0.0, min(self.ys) - 0.05), 1.0) if self.ys else None)
