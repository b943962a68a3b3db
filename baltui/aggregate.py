"""Across seeds: mean curves and the "labels to reach X%" table, from per-run curves (numpy only).

Used by `baltui report` and the headless summary, so the numbers a user pastes into a paper are the
ones the tool printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baltui.results import RunCurve

THRESHOLDS = (0.90, 0.95)


@dataclass
class Reach:
    """Labels needed to reach a threshold over a strategy's seeds."""

    threshold: float
    values: list[int]  # of the seeds that reached it
    runs: int

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> float | None:
        return float(np.std(self.values)) if self.values else None

    def text(self) -> str:
        if not self.values:
            return f"not reached (0/{self.runs})"
        value = f"{self.mean:.0f} ± {self.std:.0f}" if self.runs > 1 else f"{self.mean:.0f}"
        if len(self.values) < self.runs:
            value += f" ({len(self.values)}/{self.runs} reached)"
        return value


@dataclass
class StrategySummary:
    strategy: str
    runs: int
    final_mean: float
    final_std: float
    max_labelled: int
    auc: float  # mean accuracy over the labelled range (trapezoid area / x span), averaged over seeds
    reach: list[Reach] = field(default_factory=list)
    x: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    count: list[int] = field(default_factory=list)  # seeds contributing at each x


def normalised_auc(x: list[int], y: list[float]) -> float:
    """Trapezoid area under accuracy-vs-labels divided by the labels span: a mean accuracy that
    weighs every label equally, comparable between runs of the same length."""
    if len(x) < 2:
        return float(y[0]) if y else float("nan")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    area = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))
    return area / float(xs[-1] - xs[0])


def summarise(runs: list[RunCurve], thresholds: tuple[float, ...] = THRESHOLDS) -> list[StrategySummary]:
    """One summary per strategy, in first-seen order; interrupted runs count with what they have."""
    by_strategy: dict[str, list[RunCurve]] = {}
    for run in runs:
        if run.accuracy:
            by_strategy.setdefault(run.strategy, []).append(run)
    out = []
    for strategy, group in by_strategy.items():
        finals = [r.accuracy[-1] for r in group]
        xs = sorted({x for r in group for x in r.n_labelled})
        per_x = [[a for r in group for n, a in zip(r.n_labelled, r.accuracy, strict=True) if n == x] for x in xs]
        reach = []
        for t in thresholds:
            hit = [v for v in (r.labels_to_reach(t) for r in group) if v is not None]
            reach.append(Reach(t, hit, len(group)))
        out.append(StrategySummary(
            strategy=strategy,
            runs=len(group),
            final_mean=float(np.mean(finals)),
            final_std=float(np.std(finals)),
            max_labelled=max(r.n_labelled[-1] for r in group),
            auc=float(np.mean([normalised_auc(r.n_labelled, r.accuracy) for r in group])),
            reach=reach,
            x=xs,
            mean=[float(np.mean(v)) for v in per_x],
            std=[float(np.std(v)) for v in per_x],
            count=[len(v) for v in per_x],
        ))
    return out
