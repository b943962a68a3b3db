"""The acquisition-score histogram: the dashboard's run panels, the watcher and label mode draw the same one.

Bars are drawn in bin units (bin i spans [i, i + 1]) and the x ticks put round score values where they fall, so
every bar is 0.8 of a bin wide however many bins are empty, and empty bins draw nothing at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baltui.core.acquisition import STRATEGIES
from baltui.ui.axes import X_TICK_COLUMNS, nice_ticks, set_axes, tick_labels
from baltui.ui.widgets.chart import ChartPlot

HISTOGRAM_BINS = 20
X_TITLE = "score"
Y_TITLE = "pool images"
BAR = 0.8  # of a bin
THRESHOLD_COLOUR = "red"


def histogram_title(strategy: str | None) -> str:
    """What a strategy's histogram shows: its acquisition scores, or (BADGE, Core-set, which pick for diversity
    and have no per-point score) the per-point quantity their runs record instead."""
    acquisition = STRATEGIES.get(strategy or "")
    if acquisition is None:
        return "acquisition scores (latest query)"
    if not acquisition.has_scores:
        return f"{strategy} picks without scoring: no acquisition scores"
    return f"{acquisition.scores_are} (latest query)"


class ScoreHistogram(ChartPlot):
    """The latest query's acquisition scores over the scored subset, binned before plotting."""

    def __init__(self, heading: str = "acquisition scores (latest query)", **kwargs) -> None:
        super().__init__(x_integer=False, y_integer=True, **kwargs)
        self.heading = heading
        self.centers: list[float] = []
        self.counts: list[int] = []
        self.chosen_min: float | None = None
        self.lo = 0.0  # the score at the left edge of the first bin
        self.bin_width = 1.0

    def on_mount(self) -> None:
        self.plt.title(self.heading)
        self.plt.xlabel(X_TITLE)
        self.plt.ylabel(Y_TITLE)

    def show(self, scores: np.ndarray, chosen: list[float] | None) -> None:
        counts, edges = np.histogram(np.asarray(scores, dtype=np.float64), bins=HISTOGRAM_BINS)
        self.draw_bins(float(edges[0]), float(edges[-1]), counts.tolist(), min(chosen) if chosen else None)

    def draw_bins(self, lo: float, hi: float, counts: list[int], threshold: float | None) -> None:
        """Bars of `counts` over equal bins from lo to hi (one bar when hi == lo), and a red line at the lowest
        score that was still queried."""
        if hi > lo and counts:
            self.lo, self.bin_width = lo, (hi - lo) / len(counts)
            self.counts = [int(c) for c in counts]
        else:  # every score equal: one bar
            self.lo, self.bin_width = lo - 0.5, 1.0
            self.counts = [int(sum(counts))]
        self.centers = [round(self.lo + (i + 0.5) * self.bin_width, 4) for i in range(len(self.counts))]
        self.chosen_min = threshold
        self.plt.clear_data()
        full = [i for i, c in enumerate(self.counts) if c > 0]
        if full:
            spread = full[-1] - full[0]  # plotext makes a bar `width` x the mean gap between the bars given
            width = BAR * (len(full) - 1) / spread if spread else BAR
            self.plt.bar([i + 0.5 for i in full], [self.counts[i] for i in full], width=width, reset_ticks=False)
        if threshold is not None:
            self.plt.vline((threshold - self.lo) / self.bin_width, THRESHOLD_COLOUR)
        self.refresh()

    def show_binned(self, histogram: dict[str, Any]) -> None:
        """Counts binned by the writer (results.jsonl keeps no raw scores): a watched or resumed run's latest."""
        threshold = histogram.get("threshold")
        self.draw_bins(float(histogram["lo"]), float(histogram["hi"]), [int(c) for c in histogram["counts"]],
                       None if threshold is None else float(threshold))

    def show_missing(self) -> None:
        """The run's records were written before histograms were kept: say so in the title."""
        what = self.heading.removesuffix(" (latest query)")
        self.plt.title(f"{what}: not in this results.jsonl (written by an older baltui)")
        self.refresh()

    def apply_axes(self, width: int, height: int) -> None:
        """x: round score values placed at their bin position; y: whole counts from 0."""
        if not self.counts:
            return
        n = len(self.counts)
        set_axes(self.plt, width, height, None, (0.0, float(max(max(self.counts), 1))), y_integer=True)
        hi = self.lo + n * self.bin_width
        ticks = nice_ticks(self.lo, hi, max(2, width // X_TICK_COLUMNS))
        self.plt.xlim(0.0, float(n))
        self.plt.xticks([(t - self.lo) / self.bin_width for t in ticks], tick_labels(ticks))
