"""Acquisition functions on MC-dropout probabilities, and modAL query strategies built on them.

Scores are pure numpy on P[t, n, c] (T dropout samples, N points, C classes), following Gal, Islam &
Ghahramani (ICML 2017) and, for the batch-aware strategies, Kirsch et al. (NeurIPS 2019; TMLR 2023).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.scores import (
    Scores,
    bald_scores,
    entropy,
    entropy_scores,
    mean_std_scores,
    var_ratios_scores,
)

__all__ = ["Scores", "bald_scores", "entropy", "entropy_scores", "mean_std_scores", "var_ratios_scores"]

def top_k(scores: Scores, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the k highest scores; ties broken at random so equal scores do not favour low indices."""
    jitter = rng.random(scores.shape[0])
    order = np.lexsort((jitter, -scores))
    return order[:k]


def gumbel_top_k(scores: Scores, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Sample k points without replacement with probability proportional to score**beta.

    Gumbel top-k on beta * log(score): the stochastic batch acquisition of Kirsch et al. (TMLR 2023).
    """
    with np.errstate(divide="ignore"):
        logits = beta * np.log(np.maximum(scores, 0.0))
    perturbed = logits + rng.gumbel(size=scores.shape[0])
    perturbed = np.where(np.isfinite(logits), perturbed, -np.inf)
    order = np.argsort(-perturbed, kind="stable")
    return order[:k]


SelectFn = Callable[[np.ndarray, Scores, int, np.random.Generator, float], np.ndarray]


@dataclass(frozen=True)
class Acquisition:
    """A named acquisition function: how to score P, and how to pick a batch from the scores."""

    name: str
    description: str
    score: Callable[[np.ndarray], Scores] | None  # None: uniform, no model needed
    select: SelectFn
    # Needs one dropout mask per sample shared by all points (a joint over points, as BatchBALD's).
    needs_consistent_masks: bool = False
    # Reads `beta` (the power of the stochastic batch strategies).
    uses_beta: bool = False

    @property
    def has_scores(self) -> bool:
        """Whether it scores the pool (and so has a histogram and per-point scores to show)."""
        return self.score is not None


def _select_top(P: np.ndarray, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    return top_k(scores, k, rng)


def _select_power(P: np.ndarray, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    return gumbel_top_k(scores, k, rng, beta)


def _select_batchbald(P: np.ndarray, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    from baltui.core.batchbald import batchbald_select

    return batchbald_select(P, k, rng)


STRATEGIES: dict[str, Acquisition] = {
    a.name: a
    for a in (
        Acquisition("uniform", "random points from the pool (the baseline)", None, _select_top),
        Acquisition("entropy", "max entropy of the mean prediction", entropy_scores, _select_top),
        Acquisition("bald", "mutual information between label and weights", bald_scores, _select_top),
        Acquisition("var_ratios", "1 - share of MC samples voting for the modal class", var_ratios_scores, _select_top),
        Acquisition("mean_std", "mean over classes of the MC standard deviation", mean_std_scores, _select_top),
        Acquisition("batchbald", "greedy joint mutual information of the batch (Kirsch 2019)", bald_scores,
                    _select_batchbald, needs_consistent_masks=True),
        Acquisition("powerbald", "sample the batch with probability ~ BALD^beta (Kirsch 2023)", bald_scores,
                    _select_power, uses_beta=True),
        Acquisition("powerentropy", "sample the batch with probability ~ entropy^beta", entropy_scores,
                    _select_power, uses_beta=True),
    )
}


class QueryStrategy:
    """A modAL query strategy: score a random subset of the pool with MC dropout, return the batch.

    The engine calls it directly, not through modAL's `ActiveLearner.query`: that wraps the call in a
    bare `except:` and calls the strategy again on any exception, so a bug would run twice (its
    traceback coming from the retry) and a KeyboardInterrupt or a Ray cancellation would be swallowed.
    """

    def __init__(self, name: str, mc_samples: int, subset: int, beta: float = 1.0) -> None:
        self.acquisition = STRATEGIES[name]
        self.mc_samples = mc_samples
        self.subset = subset
        self.beta = beta
        self.rng = np.random.default_rng(0)
        # Filled on every call, read by the engine: scores of the whole scored subset.
        self.last_scores: Scores | None = None
        self.calls = 0

    def __call__(self, learner: Any, X_pool: Any, n_instances: int = 1) -> tuple[np.ndarray, Scores | None]:
        self.calls += 1
        n_pool = len(X_pool)
        if self.acquisition.score is None:
            self.last_scores = None
            return self.rng.choice(n_pool, size=n_instances, replace=False), None
        if self.subset == 0:  # the whole pool
            positions = np.arange(n_pool)
        else:
            positions = np.sort(self.rng.choice(n_pool, size=min(self.subset, n_pool), replace=False))
        P = learner.estimator.mc_predict_proba(X_pool[positions], self.mc_samples, seed=int(self.rng.integers(2**31)))
        scores = self.acquisition.score(P)
        chosen = self.acquisition.select(P, scores, n_instances, self.rng, self.beta)
        self.last_scores = scores
        return positions[chosen], scores[chosen]
