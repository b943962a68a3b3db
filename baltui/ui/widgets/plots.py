"""The dashboard's charts: plotext plots whose data lives on the widget, touched only on the UI thread."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

# Shared with label mode, so it lives a layer below both (baltui.ui.widgets); re-exported for the run panels.
from baltui.runs.aggregate import THRESHOLDS, values_by_label
from baltui.runs.references import PaperReference
from baltui.ui.widgets.histogram import ScoreHistogram as ScoreHistogram


class LinePlot(PlotextPlot):
    """One curve that grows a point per query."""

    def __init__(self, title: str, xlabel: str, **kwargs) -> None:
        super().__init__(**kwargs)
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

    def replot(self) -> None:
        self.plt.clear_data()
        if self.xs:
            self.plt.plot(self.xs, self.ys, marker="braille")
        self.refresh()


class AccuracyPlot(LinePlot):
    """Test accuracy against the number of labelled images, on a 0..1 axis zoomed to the data."""

    def replot(self) -> None:
        if self.ys:
            self.plt.ylim(max(0.0, min(self.ys) - 0.05), 1.0)
        super().replot()


# How far beyond our largest labelled count the paper's points are drawn (see visible_reference_points).
REFERENCE_REACH = 1.25


class ComparisonPlot(PlotextPlot):
    """Every run's accuracy curve on one chart; with several seeds, the mean per strategy."""

    def __init__(self, seeds: int, reference: PaperReference | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.reference = reference
        self.curves: dict[str, tuple[str, dict[int, float]]] = {}  # run_id -> (group, n_labelled -> acc)
        self.strategy_of: dict[str, str] = {}  # run_id -> strategy (a group may also name the folder)

    def on_mount(self) -> None:
        title = "test accuracy, all runs" if self.seeds == 1 else "test accuracy, mean over seeds (min/max dotted)"
        self.plt.title(title)
        self.plt.xlabel("labelled images")

    def add(self, run_id: str, strategy: str, n_labelled: int, accuracy: float) -> None:
        self.book(run_id, strategy, n_labelled, accuracy)
        self.replot()

    def book(self, run_id: str, strategy: str, n_labelled: int, accuracy: float, group: str | None = None) -> None:
        """Record a point without redrawing (a backlog of thousands of rows is replotted once); runs of one
        group (the strategy, or the folder and strategy) are averaged together with several seeds."""
        self.curves.setdefault(run_id, (group or strategy, {}))[1][n_labelled] = accuracy
        self.strategy_of[run_id] = strategy

    def series(self) -> dict[str, tuple[list[int], list[float], list[float], list[float]]]:
        """Per run (one seed) or per strategy (several): x, mean, min, max."""
        groups: dict[str, list[dict[int, float]]] = {}
        for run_id, (strategy, points) in self.curves.items():
            groups.setdefault(run_id if self.seeds == 1 else strategy, []).append(points)
        out = {}
        for name, runs in groups.items():
            xs, vals = values_by_label(runs)
            out[name] = (xs, [float(np.mean(v)) for v in vals], [min(v) for v in vals], [max(v) for v in vals])
        return out

    def reference_points(self) -> dict[str, list[int]]:
        """The paper's labels to 90% / 95% for each strategy on the chart, only for the data they belong to
        (the reference is None otherwise): where the paper's curve crossed, beside ours."""
        if self.reference is None:
            return {}
        out = {}
        for strategy in dict.fromkeys(self.strategy_of.values()):
            total = self.reference.total_labels(strategy)
            if total is not None:
                out[f"{self.reference.short}: {strategy}"] = list(total)
        return out

    def visible_reference_points(self) -> dict[str, tuple[list[int], list[float]]]:
        """The paper's points within reach of our curves (up to REFERENCE_REACH x our largest labelled count).

        A point at 855 labels on a chart whose runs are at 60 would squash every curve into its left edge;
        each point appears as the runs approach it instead."""
        reach = REFERENCE_REACH * max((max(p) for _, p in self.curves.values() if p), default=0)
        out = {}
        for label, xs in self.reference_points().items():
            kept = [(x, y) for x, y in zip(xs, THRESHOLDS, strict=True) if x <= reach]
            if kept:
                out[label] = ([x for x, _ in kept], [y for _, y in kept])
        return out

    def replot(self) -> None:
        self.plt.clear_data()
        lows = []
        for name, (xs, mean, lo, hi) in self.series().items():
            self.plt.plot(xs, mean, label=name, marker="braille")
            lows.extend(lo)
            if self.seeds > 1 and len(xs) > 1:
                self.plt.plot(xs, lo, marker="dot")
                self.plt.plot(xs, hi, marker="dot")
        for label, (xs, ys) in self.visible_reference_points().items():
            self.plt.scatter(xs, ys, label=label, marker="x")
        if lows:
            self.plt.ylim(max(0.0, min(lows) - 0.05), 1.0)
        self.refresh()
