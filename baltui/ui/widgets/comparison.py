"""The comparison: every run's accuracy on one chart (with several seeds, the mean per strategy and its band),
the paper's points, the 90% / 95% guides, and a legend under the chart (baltui.ui.charts draws them).

Keys of the apps act on it through its methods: `b` the band (mean ± std / min-max), `r` the paper's points, `n`
one strategy at a time. Data lives on the ComparisonPlot, touched only on the UI thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from baltui.runs.aggregate import values_by_label
from baltui.runs.references import PaperReference
from baltui.ui import charts
from baltui.ui.charts import BANDS, LEGEND_GAP, REFERENCE_REACH, Curve, Look
from baltui.ui.widgets.chart import ChartPlot, Range
from baltui.ui.widgets.status import pack_parts

__all__ = ["REFERENCE_REACH", "Comparison", "ComparisonLegend", "ComparisonPlot", "SeriesStats"]


@dataclass
class SeriesStats:
    """One series over the labelled counts any of its runs reached: mean, sample std (None where one run
    contributes), min and max."""

    x: list[int]
    mean: list[float]
    std: list[float | None]
    min: list[float]
    max: list[float]
    runs: list[int]  # how many runs have a value at each x

    def band(self, kind: str) -> tuple[list[float | None], list[float | None]]:
        """The band's lower and upper edges: mean ± std, or min / max; None where one run has a value."""
        if kind == "std":
            return ([None if s is None else m - s for m, s in zip(self.mean, self.std, strict=True)],
                    [None if s is None else m + s for m, s in zip(self.mean, self.std, strict=True)])
        return ([lo if n > 1 else None for lo, n in zip(self.min, self.runs, strict=True)],
                [hi if n > 1 else None for hi, n in zip(self.max, self.runs, strict=True)])


class ComparisonPlot(ChartPlot):
    """Every run's accuracy curve on one chart; with several seeds, the mean per strategy and its band."""

    def __init__(self, seeds: int, reference: PaperReference | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.reference = reference
        self.curves: dict[str, tuple[str, dict[int, float]]] = {}  # run_id -> (group, n_labelled -> acc)
        self.strategy_of: dict[str, str] = {}  # run_id -> strategy (a group may also name the folder)
        self.band = BANDS[0]
        self.show_paper = True
        self.only: str | None = None  # the one series shown, or None for all
        self._ranges: tuple[Range | None, Range | None] = (None, None)

    def on_mount(self) -> None:
        self.plt.xlabel("labelled images")
        self.replot()

    # ---- data -----------------------------------------------------------------------------------
    def plan(self, run_id: str, strategy: str, group: str | None = None) -> None:
        """A run that will come: its series takes its colour now, so colours follow the order of the runs
        (not the order their first results arrive in) and never change."""
        self.curves.setdefault(run_id, (group or strategy, {}))
        self.strategy_of.setdefault(run_id, strategy)

    def add(self, run_id: str, strategy: str, n_labelled: int, accuracy: float) -> None:
        self.book(run_id, strategy, n_labelled, accuracy)
        self.replot()

    def book(self, run_id: str, strategy: str, n_labelled: int, accuracy: float, group: str | None = None) -> None:
        """Record a point without redrawing (a backlog of thousands of rows is replotted once); runs of one
        group (the strategy, or the folder and strategy) are averaged together with several seeds."""
        self.curves.setdefault(run_id, (group or strategy, {}))[1][n_labelled] = accuracy
        self.strategy_of[run_id] = strategy

    def series_name(self, run_id: str) -> str:
        """The series a run is drawn in: itself with one seed, its group with several."""
        return run_id if self.seeds == 1 else self.curves[run_id][0]

    def names(self) -> list[str]:
        """Every series, planned or with points, in the order of their colours."""
        return list(dict.fromkeys(self.series_name(rid) for rid in self.curves))

    def slot(self, name: str) -> int:
        """A series' colour and marker (baltui.ui.charts)."""
        return self.names().index(name)

    def series(self) -> dict[str, SeriesStats]:
        """Per run (one seed) or per strategy (several), for the series that have points."""
        groups: dict[str, list[dict[int, float]]] = {}
        for run_id, (_, points) in self.curves.items():
            if points:
                groups.setdefault(self.series_name(run_id), []).append(points)
        out = {}
        for name, runs in groups.items():  # plain Python: numpy per point costs more than the sums (thousands)
            xs, vals = values_by_label(runs)
            means = [sum(v) / len(v) for v in vals]
            stds = [math.sqrt(sum((a - m) ** 2 for a in v) / (len(v) - 1)) if len(v) > 1 else None
                    for v, m in zip(vals, means, strict=True)]
            out[name] = SeriesStats(xs, means, stds, [min(v) for v in vals], [max(v) for v in vals],
                                    [len(v) for v in vals])
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
        """The paper's points within reach of our curves (up to REFERENCE_REACH x our largest labelled count)."""
        largest = max((max(p) for _, p in self.curves.values() if p), default=0)
        out = {}
        for label, xs in self.reference_points().items():
            kept = charts.within_reach(xs, largest)
            if kept:
                out[label] = ([x for x, _ in kept], [y for _, y in kept])
        return out

    # ---- what is drawn --------------------------------------------------------------------------
    def look(self) -> Look:
        return Look(colour=True, band=self.seeds > 1, paper=self.show_paper)

    def drawn(self) -> list[Curve]:
        """The curves on the chart: every series, or the one `only` names; each with its strategy's paper points."""
        stats = self.series()
        strategy = {self.series_name(rid): s for rid, s in self.strategy_of.items()}
        points = self.visible_reference_points()
        short = self.reference.short if self.reference is not None else ""
        curves, papered = [], set()
        for slot, name in enumerate(self.names()):
            s = stats.get(name)
            if s is None or (self.only is not None and name != self.only):
                continue
            lo, hi = s.band(self.band)
            paper = points.get(f"{short}: {strategy.get(name)}", ([], []))
            if strategy.get(name) in papered:  # several folders of one strategy: its paper points once
                paper = ([], [])
            papered.add(strategy.get(name))
            curves.append(Curve(name, slot, s.x, s.mean, lo, hi, paper))
        return curves

    def title(self) -> str:
        what = "test accuracy, all runs" if self.seeds == 1 else "test accuracy, mean over seeds"
        if self.only is not None:
            names = self.names()
            what += f" · only {self.only} ({names.index(self.only) + 1}/{len(names)})"
        return what

    def legend_entries(self, curves: list[Curve] | None = None) -> list[tuple[str, str | None]]:
        paper = self.reference.short if self.reference is not None else None
        return charts.legend(self.drawn() if curves is None else curves, self.look(), self.band, paper)

    def replot(self) -> None:
        curves = self.drawn()
        self._ranges = charts.draw(self.plt, curves, self.look())
        self.plt.title(self.title())
        if isinstance(self.parent, Comparison):
            self.parent.query_one(ComparisonLegend).show(self.legend_entries(curves))
        self.refresh()

    def ranges(self) -> tuple[Range | None, Range | None]:
        return self._ranges

    # ---- keys -----------------------------------------------------------------------------------
    def next_band(self) -> None:
        self.band = BANDS[(BANDS.index(self.band) + 1) % len(BANDS)]
        self.replot()

    def toggle_paper(self) -> None:
        self.show_paper = not self.show_paper
        self.replot()

    def next_only(self) -> None:
        """All series, then each one alone in turn (those with points), then all again."""
        names = [n for n in self.names() if n in self.series()]
        if self.only is None:
            self.only = names[0] if names else None
        else:
            later = names[names.index(self.only) + 1:] if self.only in names else []
            self.only = later[0] if later else None
        self.replot()


class ComparisonLegend(Static):
    """The comparison's legend, under the plot: one entry per series in its colour, then the band, the paper's
    points and the guides; entries wrap whole."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.entries: list[tuple[str, str | None]] = []

    def show(self, entries: list[tuple[str, str | None]]) -> None:
        self.entries = entries
        self._pack()

    def _pack(self) -> None:
        parts = []
        for text, colour in self.entries:
            swatch, _, name = text.partition(" ")
            parts.append(Content.assemble((swatch, f"bold {colour}" if colour else "bold"), " ", name))
        self.update(pack_parts(Content(LEGEND_GAP).join(parts), self.content_size.width, LEGEND_GAP))

    def on_resize(self) -> None:
        self._pack()


class Comparison(Vertical):
    """The chart and its legend; `f` shows both full screen."""

    ALLOW_MAXIMIZE = True

    def __init__(self, seeds: int, reference: PaperReference | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.reference = reference

    def compose(self) -> ComposeResult:
        yield ComparisonPlot(self.seeds, reference=self.reference)
        yield ComparisonLegend()
