"""Across seeds: mean curves and the "labels to reach X%" table, from per-run curves (numpy only).

Any per-query metric the records hold summarises the same way (`summarise(metric=...)`: value at the common
labelled count, area under its curve, mean curve); labels to reach X% only for accuracy.

Used by `baltui report` and the headless summary, so the numbers a user pastes into a paper are the
ones the tool printed. Every spread is the *sample* standard deviation (ddof=1): a handful of seeds is a
sample of the runs a strategy could give, and the population formula would understate the spread by
sqrt((n-1)/n) (29% with two seeds). With one value there is no spread to report, so std is None.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from baltui.runs.results import RunCurve

THRESHOLDS = (0.90, 0.95)
DDOF = 1  # sample standard deviation; see the module docstring
STD_NOTE = "± is the sample standard deviation over runs (ddof=1)"


def sample_std(values: list[float] | list[int]) -> float | None:
    """np.std with ddof=1, or None for fewer than two values (no spread to estimate, not a spread of 0)."""
    return float(np.std(values, ddof=DDOF)) if len(values) > 1 else None


@dataclass
class Reach:
    """Labels needed to reach a threshold over a group's runs."""

    threshold: float
    values: list[int]  # of the runs that reached it
    runs: int  # runs that could have reached it (the ones in the statistics)

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> float | None:
        return sample_std(self.values)

    @property
    def median(self) -> float | None:
        """Robust to the one run that needed twice the labels; papers (Kirsch 2019) report it too."""
        return float(np.median(self.values)) if self.values else None

    def text(self) -> str:
        """`190 ± 16, median 190 (3/4 reached)`; a single value has no ± (a "± 0" would claim no spread)."""
        if not self.runs:  # every run failed: nothing was measured, which is not "not reached"
            return "-"
        if not self.values:
            return f"not reached (0/{self.runs})"
        if len(self.values) == 1:
            value = f"{self.mean:.0f}"
        else:
            value = f"{self.mean:.0f} ± {self.std:.0f}, median {self.median:g}"
        if len(self.values) < self.runs:
            value += f" ({len(self.values)}/{self.runs} reached)"
        return value


@dataclass
class StrategySummary:
    """One row of the report: a strategy under one combination of settings, on one metric (default accuracy).

    Failed runs are counted (`failed`) but left out of every statistic: their curve stops where something
    broke, not where the experiment ended. Unfinished (interrupted) runs count up to their last query, and
    the final accuracy is taken at the largest labelled count every run of the row reached (`final_at`),
    so runs stopped at different counts are never averaged together.
    """

    strategy: str
    runs: int  # runs in the statistics: not failed, at least one completed query (holding the metric)
    final_at: int | None  # labelled count the final accuracy (and AUC range) refers to
    final_values: list[float]
    max_labelled: int
    auc: float | None  # mean accuracy over [initial, final_at] (trapezoid area / span), averaged over runs
    reach: list[Reach] = field(default_factory=list)
    x: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float | None] = field(default_factory=list)  # None where a single run contributes
    count: list[int] = field(default_factory=list)  # runs contributing at each x
    settings: Hashable = ()  # the grouping key beyond the strategy (see summarise's `key`)
    total: int = 0  # every run found for the row, failed and empty ones included
    failed: int = 0
    unfinished: int = 0  # neither finished nor failed: interrupted, or still running
    metric: str = "accuracy"  # what final_values, auc and the curve are of
    auc_values: list[float] = field(default_factory=list)  # per run in the statistics (their mean is `auc`)
    found: list[RunCurve] = field(default_factory=list, repr=False)  # every run of the row
    members: list[RunCurve] = field(default_factory=list, repr=False)  # the runs in the statistics
    # Runs a stop rule ended early (finished, in every statistic up to their last query), and, per such run,
    # its rule, its labels and its test accuracy at that last query: what a study of stop rules compares.
    stopped: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def final_mean(self) -> float | None:
        return float(np.mean(self.final_values)) if self.final_values else None

    @property
    def final_std(self) -> float | None:
        return sample_std(self.final_values)

    @property
    def final_median(self) -> float | None:
        return float(np.median(self.final_values)) if self.final_values else None

    @property
    def auc_std(self) -> float | None:
        return sample_std(self.auc_values)

    def final_text(self, with_count: bool = False) -> str:
        """`0.9400 ± 0.0283`, no ± for a single run; `with_count` appends `at 320` for mixed-count tables."""
        if self.final_mean is None:
            return "-"
        text = f"{self.final_mean:.4f}"
        if self.final_std is not None:
            text += f" ± {self.final_std:.4f}"
        return text + (f" at {self.final_at}" if with_count else "")

    def runs_phrase(self) -> str:
        """`3 runs` or `3 runs, 3 unfinished`: what runs_text says, for a chart's legend."""
        notes = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.unfinished, "unfinished")) if n]
        return ", ".join([f"{self.total} run{'' if self.total == 1 else 's'}", *notes])

    def runs_text(self) -> str:
        """`3`, or `3 (1 failed)` / `3 (1 unfinished)` / `3 (2 stopped)`: the runs behind a row are never
        silently fewer, nor silently shorter."""
        notes = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.unfinished, "unfinished"),
                                               (len(self.stopped), "stopped")) if n]
        return f"{self.total}" + (f" ({', '.join(notes)})" if notes else "")

    def stopped_text(self) -> tuple[str, str]:
        """(labels, accuracy) at the stopped runs' last queries: `2/3 at 140 ± 20`, `0.9100 ± 0.0100`; '-' none."""
        if not self.stopped:
            return "-", "-"
        labels = [n for _, n, _ in self.stopped]
        accuracy = [a for _, _, a in self.stopped]
        at = f"{np.mean(labels):.0f}" + (f" ± {sample_std(labels):.0f}" if len(labels) > 1 else "")
        acc = f"{np.mean(accuracy):.4f}" + (f" ± {sample_std(accuracy):.4f}" if len(accuracy) > 1 else "")
        return f"{len(self.stopped)}/{self.runs} at {at}", acc


def normalised_auc(x: list[int], y: list[float]) -> float:
    """Trapezoid area under accuracy-vs-labels divided by the labels span: a mean accuracy that
    weighs every label equally, comparable between runs of the same length."""
    if len(x) < 2:
        return float(y[0]) if y else float("nan")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    area = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))
    return area / float(xs[-1] - xs[0])


def values_by_label(curves: list[dict[int, float]]) -> tuple[list[int], list[list[float]]]:
    """The labelled counts any curve has, and at each the accuracies of the curves that have it: the one
    place where curves over seeds are lined up (the report's mean curves and the dashboard's chart)."""
    xs = sorted({x for curve in curves for x in curve})
    return xs, [[curve[x] for curve in curves if x in curve] for x in xs]


def common_count(group: list[RunCurve]) -> int | None:
    """The largest labelled count present in every run's curve, or None: the one point all runs share."""
    return shared_count([r.n_labelled for r in group])


def shared_count(counts: list[list[int]]) -> int | None:
    """The largest labelled count present in every list of counts (one per run), or None."""
    if not counts:
        return None
    shared = set(counts[0]).intersection(*counts[1:])
    return max(shared) if shared else None


def up_to(xs: list[int], ys: list[float], at: int) -> tuple[list[int], list[float]]:
    """A curve cut at `at` labels, so every run's AUC covers the same labelled range."""
    keep = [i for i, n in enumerate(xs) if n <= at]
    return [xs[i] for i in keep], [ys[i] for i in keep]


def _summary(
    strategy: str, settings: Hashable, found: list[RunCurve], thresholds: tuple[float, ...], metric: str = "accuracy"
) -> StrategySummary:
    group = [r for r in found if r.accuracy and not r.failed]
    series = [r.values(metric) for r in group]
    if metric != "accuracy":  # runs recorded before the metric existed have no curve of it
        group, series = [r for r, c in zip(group, series, strict=True) if c[0]], [c for c in series if c[0]]
    at = shared_count([xs for xs, _ in series])
    finals = [v for xs, ys in series for n, v in zip(xs, ys, strict=True) if n == at]
    aucs = [normalised_auc(*up_to(xs, ys, at)) for xs, ys in series] if at is not None else []
    xs, per_x = values_by_label([dict(zip(x, y, strict=True)) for x, y in series])
    return StrategySummary(
        strategy=strategy,
        runs=len(group),
        final_at=at,
        final_values=finals,
        max_labelled=max((r.n_labelled[-1] for r in group), default=0),
        auc=float(np.mean(aucs)) if aucs else None,
        reach=[Reach(t, [v for v in (r.labels_to_reach(t) for r in group) if v is not None], len(group))
               for t in (thresholds if metric == "accuracy" else ())],
        x=xs,
        mean=[float(np.mean(v)) for v in per_x],
        std=[sample_std(v) for v in per_x],
        count=[len(v) for v in per_x],
        settings=settings,
        total=len(found),
        failed=sum(1 for r in found if r.failed),
        unfinished=sum(1 for r in found if not r.failed and not r.finished),
        metric=metric,
        auc_values=aucs,
        found=list(found),
        members=group,
        stopped=[(r.stopped, r.n_labelled[-1], r.accuracy[-1]) for r in group if r.stopped and r.accuracy],
    )


def summarise(runs: list[RunCurve], thresholds: tuple[float, ...] = THRESHOLDS,
              key: Callable[[RunCurve], Hashable] | None = None, metric: str = "accuracy") -> list[StrategySummary]:
    """One summary per (strategy, key(run)), strategies in first-seen order and, within one, keys in
    first-seen order, so rows that differ only in a setting sit next to each other.

    `key` separates runs that must not be pooled (different data, model, masks...); by default all runs
    of a strategy are one group. Failed runs and runs without a completed query are counted, not pooled.
    `metric` is what the rows summarise (a per-query record field: accuracy, nll, ece, brier); labels to
    reach the thresholds are counted for accuracy only.
    """
    groups: dict[str, dict[Hashable, list[RunCurve]]] = {}
    for run in runs:
        settings = key(run) if key is not None else ()
        groups.setdefault(run.strategy, {}).setdefault(settings, []).append(run)
    return [_summary(strategy, settings, found, thresholds, metric)
            for strategy, by_key in groups.items() for settings, found in by_key.items()]
