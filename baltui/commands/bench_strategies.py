"""`baltui bench`'s per-strategy rows: each acquisition function's cost on the same pool subset, beside BALD's.

Timed through `QueryStrategy` on the bench's trained model, as a run calls it: gathering what the strategy
declares (MC samples, h, gradient embeddings, the labelled set's h, EPIG's targets in the same MC call),
scoring and picking the batch. Each strategy runs once untimed first (it traces the penultimate pass, or
picks the MC path), then the fastest of `repeats` is kept. The target is the round's training time: a
strategy costlier than retraining the model would dominate every query.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from baltui.commands.bench_marks import mark
from baltui.commands.timing import timed

# BALD first (the reference the others are read against), then the strategies of issue 30.
STRATEGY_ROWS = ("bald", "least_confidence", "margin", "badge", "coreset", "epig", "powerepig")
BENCH_EPIG_TARGETS = 100


def strategy_costs(clf: Any, X_subset: np.ndarray, X_labelled: np.ndarray, T: int, instances: int,
                   repeats: int, names: Sequence[str] = STRATEGY_ROWS,
                   epig_targets: int = BENCH_EPIG_TARGETS) -> dict[str, dict[str, Any]]:
    """Seconds of one acquisition per strategy on all of `X_subset`, the model trained on `X_labelled`.

    Each strategy samples with the mask mode a run's "auto" gives it (consistent for EPIG).
    """
    from baltui.core.acquisition import STRATEGIES, QueryStrategy
    from baltui.core.config import mc_masks_for

    out: dict[str, dict[str, Any]] = {}
    for name in names:
        masks = mc_masks_for("auto", name)
        learner = SimpleNamespace(estimator=_WithMasks(clf, masks), X_training=X_labelled)
        strategy = QueryStrategy(name, T, 0, epig_targets=epig_targets)

        def acquire(strategy: QueryStrategy = strategy, learner: Any = learner) -> np.ndarray:
            strategy.rng = np.random.default_rng(0)
            positions, _ = strategy(learner, X_subset, n_instances=instances)
            return positions

        acquire()  # warm-up: traces what this strategy needs
        seconds, positions = timed(acquire, repeats)
        acquisition = STRATEGIES[name]
        out[name] = {
            "s": seconds, "images": int(len(X_subset)), "masks": masks if acquisition.uses_mc else None,
            "epig_targets": epig_targets if acquisition.targets else None,
            "distinct": int(len(set(np.asarray(positions).tolist()))),
        }
    return out


class _WithMasks:
    """The classifier as a run of one strategy sees it: MC dropout with that strategy's mask mode (the mode is
    chosen per call, so one trained model serves every strategy's timing)."""

    def __init__(self, clf: Any, masks: str) -> None:
        self._clf, self._masks = clf, masks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clf, name)

    def mc_predict_proba(self, X: np.ndarray, T: int, seed: int | None = None, **kwargs: Any) -> np.ndarray:
        return self._clf.mc_predict_proba(X, T, seed, masks=self._masks, **kwargs)


def strategy_rows(costs: dict[str, dict[str, Any]], training_s: float,
                  checked: bool = True) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, mark) rows for the bench table: each strategy against the round's training time
    (`checked`: False for a --quick smoke run, whose sizes say nothing about the target)."""
    rows = []
    bald = costs.get("bald", {}).get("s")
    for name, cost in costs.items():
        what = f"acquire, {name} ({cost['images']:,} images"
        what += f", {cost['epig_targets']} targets)" if cost["epig_targets"] else ")"
        relative = f"{cost['s'] / bald:.2f}x bald, " if bald and name != "bald" else ""
        met = cost["s"] < training_s
        rows.append((what, _seconds(cost["s"]), f"< {_seconds(training_s)} (train)",
                     f"{relative}{mark(met, checked)}"))
    return rows


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
