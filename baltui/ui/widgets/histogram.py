"""The acquisition-score histogram: the dashboard's run panels and label mode draw the same one."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

HISTOGRAM_BINS = 20


class ScoreHistogram(PlotextPlot):
    """The latest query's acquisition scores over the scored subset, binned before plotting."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.centers: list[float] = []
        self.counts: list[int] = []
        self.chosen_min: float | None = None

    def on_mount(self) -> None:
        self.plt.title("acquisition scores (latest query)")

    def show(self, scores: np.ndarray, chosen: list[float] | None) -> None:
        counts, edges = np.histogram(np.asarray(scores, dtype=np.float64), bins=HISTOGRAM_BINS)
        self.centers = ((edges[:-1] + edges[1:]) / 2).round(4).tolist()
        self.counts = counts.tolist()
        self.chosen_min = min(chosen) if chosen else None
        self.plt.clear_data()
        self.plt.bar(self.centers, self.counts, width=0.8)
        if self.chosen_min is not None:
            self.plt.vline(self.chosen_min, "red")
        self.refresh()
