"""The acquisition-score histogram: the dashboard's run panels, the watcher and label mode draw the same one."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual_plotext import PlotextPlot

from baltui.core.acquisition import STRATEGIES

HISTOGRAM_BINS = 20


def histogram_title(strategy: str | None) -> str:
    """What a strategy's histogram shows: its acquisition scores, or (BADGE, Core-set, which pick for diversity
    and have no per-point score) the per-point quantity their runs record instead."""
    acquisition = STRATEGIES.get(strategy or "")
    if acquisition is None:
        return "acquisition scores (latest query)"
    if not acquisition.has_scores:
        return f"{strategy} picks without scoring: no acquisition scores"
    return f"{acquisition.scores_are} (latest query)"


class ScoreHistogram(PlotextPlot):
    """The latest query's acquisition scores over the scored subset, binned before plotting."""

    def __init__(self, heading: str = "acquisition scores (latest query)", **kwargs) -> None:
        super().__init__(**kwargs)
        self.heading = heading
        self.centers: list[float] = []
        self.counts: list[int] = []
        self.chosen_min: float | None = None

    def on_mount(self) -> None:
        self.plt.title(self.heading)

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

    def show_binned(self, histogram: dict[str, Any]) -> None:
        """Counts binned by the writer (results.jsonl keeps no raw scores): a watched or resumed run's latest."""
        counts = [int(c) for c in histogram["counts"]]
        lo, hi = float(histogram["lo"]), float(histogram["hi"])
        if hi > lo and counts:
            width = (hi - lo) / len(counts)
            self.centers = [round(lo + (i + 0.5) * width, 4) for i in range(len(counts))]
            self.counts = counts
        else:  # every score equal: one bar
            self.centers, self.counts = [round(lo, 4)], [sum(counts)]
        threshold = histogram.get("threshold")
        self.chosen_min = None if threshold is None else float(threshold)
        self.plt.clear_data()
        self.plt.bar(self.centers, self.counts, width=0.8)
        if self.chosen_min is not None:
            self.plt.vline(self.chosen_min, "red")
        self.refresh()

    def show_missing(self) -> None:
        """The run's records were written before histograms were kept: say so in the title."""
        what = self.heading.removesuffix(" (latest query)")
        self.plt.title(f"{what}: not in this results.jsonl (written by an older baltui)")
        self.refresh()
