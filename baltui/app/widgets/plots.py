"""The dashboard's charts: plotext plots whose data lives on the widget, touched only on the UI thread."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

# Shared with label mode, so it lives a layer below both (baltui.widgets); re-exported for the run panels.
from baltui.aggregate import values_by_label
from baltui.references import PaperReference
from baltui.widgets.histogram import ScoreHistogram as ScoreHistogram

# Gal, Islam & Ghahramani (ICML 2017), Table 1: random acquisition on MNIST needs 255 acquired images for
# 10% test error and 835 for 5%; +20 initial labels gives the labelled counts drawn here.


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


class ComparisonPlot(PlotextPlot):
    """Every run's accuracy curve on one chart; with several seeds, the mean per strategy."""

    def __init__(self, seeds: int, reference: PaperReference | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.reference = reference
        self.curves: dict[str, tuple[str, dict[int, float]]] = {}  # run_id -> (strategy, n_labelled -> acc)

    def on_mount(self) -> None:
        title = "test accuracy, all runs" if self.seeds == 1 else "test accuracy, mean over seeds (min/max dotted)"
        self.plt.title(title)
        self.plt.xlabel("labelled images")

    def add(self, run_id: str, strategy: str, n_labelled: int, accuracy: float) -> None:
        self.curves.setdefault(run_id, (strategy, {}))[1][n_labelled] = accuracy
        self.replot()

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

    def replot(self) -> None:
        self.plt.clear_data()
        lows = []
        for name, (xs, mean, lo, hi) in self.series().items():
            self.plt.plot(xs, mean, label=name, marker="braille")
            lows.extend(lo)
            if self.seeds > 1 and len(xs) > 1:
                self.plt.plot(xs, lo, marker="dot")
                self.plt.plot(xs, hi, marker="dot")
        ref = self.reference.total_labels("uniform") if self.reference is not None else None
        if ref is not None:  # the paper's random-acquisition points, only for the data they belong to
            self.plt.scatter(list(ref), [0.90, 0.95], label=f"{self.reference.citation.split(',')[0]}: random",
                             marker="x")
        if lows:
            self.plt.ylim(max(0.0, min(lows) - 0.05), 1.0)
        self.refresh()
