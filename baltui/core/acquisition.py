"""Acquisition functions and the query strategy that gathers what each needs, scores and picks a batch.

Per-point scores are pure numpy on P[t, n, c] (T dropout samples, N points, C classes), following Gal, Islam
& Ghahramani (ICML 2017) and, for the batch-aware strategies, Kirsch et al. (NeurIPS 2019; TMLR 2023). The
strategies since then need more than P: BADGE the last layer's gradient embeddings, Core-set the penultimate
features h of the pool and of the labelled set, EPIG the predictions on target inputs made by the same T
networks. Each `Acquisition` declares what it needs and `QueryStrategy` gathers exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.diversity import gradient_embeddings, gradient_norms, k_center_greedy, kmeans_pp, nearest_distances
from baltui.core.epig import epig_scores
from baltui.core.plugin_checks import checked_batch, checked_scores
from baltui.core.scores import (
    Scores,
    bald_scores,
    entropy,
    entropy_scores,
    least_confidence_scores,
    margin_scores,
    mean_std_scores,
    var_ratios_scores,
)

__all__ = ["Scores", "bald_scores", "entropy", "entropy_scores", "least_confidence_scores", "margin_scores",
           "mean_std_scores", "var_ratios_scores"]

# Target inputs EPIG averages over when the run does not say (`--epig-targets`).
DEFAULT_EPIG_TARGETS = 100


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


@dataclass(frozen=True)
class QueryInputs:
    """What `QueryStrategy` gathered for one query's scored subset: only what the acquisition declared."""

    P: np.ndarray | None = None  # [T, N, C] MC-dropout probabilities of the scored subset
    targets: np.ndarray | None = None  # [T, M, C] EPIG's target inputs, from the same T networks as P
    penultimate: np.ndarray | None = None  # [N, D] h, the input of the last Dense layer (dropout off)
    probs: np.ndarray | None = None  # [N, C] deterministic probabilities (dropout off), from the pass of h
    gradients: np.ndarray | None = None  # [N, D*C] BADGE's last-layer gradient embeddings
    labelled: np.ndarray | None = None  # [L, D] h of the labelled set


ScoreFn = Callable[[QueryInputs], Scores]
SelectFn = Callable[[QueryInputs, Scores, int, np.random.Generator, float], np.ndarray]


@dataclass(frozen=True)
class Acquisition:
    """A named acquisition function: what it needs, how it scores, how it picks a batch from the scores."""

    name: str
    description: str
    score: ScoreFn | None  # None: uniform, no model needed
    select: SelectFn
    # Needs one dropout mask per sample shared by all points (a joint over points, as BatchBALD's and EPIG's).
    needs_consistent_masks: bool = False
    # Reads `beta` (the power of the stochastic batch strategies).
    uses_beta: bool = False
    # What QueryStrategy gathers: the MC-dropout pass (P), h and the deterministic probabilities of the subset,
    # BADGE's gradient embeddings, h of the labelled set, EPIG's targets (in the same MC call as P).
    mc: bool = True
    penultimate: bool = False
    gradients: bool = False
    labelled: bool = False
    targets: bool = False
    # What the per-point `scores` are, when not an acquisition score the batch is the top of (histogram titles).
    scores_are: str = "acquisition scores"
    # Where a plug-in came from ("name (reference)", see baltui.core.plugins); "" for a built-in. A plug-in's
    # scores and batches are checked on every query (baltui.core.plugin_checks), so a bad one fails its own run
    # with a message naming it instead of silently picking garbage.
    plugin: str = ""

    @property
    def has_scores(self) -> bool:
        """Whether it scores the pool (and so has a histogram and per-point scores to show)."""
        return self.score is not None

    @property
    def uses_mc(self) -> bool:
        """Whether it runs the MC-dropout pass (and so reads mc_samples and the mask mode)."""
        return self.score is not None and self.mc


def _on_P(fn: Callable[[np.ndarray], Scores]) -> ScoreFn:
    """A score of P alone, as a ScoreFn."""

    def score(inputs: QueryInputs) -> Scores:
        return fn(inputs.P)

    score.__name__ = score.__qualname__ = fn.__name__
    return score


def score_function(name: str, description: str, fn: Callable[[np.ndarray], Scores], plugin: str = "") -> Acquisition:
    """The acquisition of a plain score function f(P) -> scores, batch = the top k: what most built-ins are, and
    the simplest plug-in (baltui.core.plugins)."""

    def score(inputs: QueryInputs) -> Scores:
        return fn(inputs.P)

    score.__name__ = score.__qualname__ = getattr(fn, "__name__", name)
    return Acquisition(name, description, score, _select_top, plugin=plugin)


def _epig(inputs: QueryInputs) -> Scores:
    return epig_scores(inputs.P, inputs.targets)


def _badge_norms(inputs: QueryInputs) -> Scores:
    return gradient_norms(inputs.probs, inputs.penultimate)


def _coreset_distances(inputs: QueryInputs) -> Scores:
    return nearest_distances(inputs.penultimate, inputs.labelled)


def _select_top(inputs: QueryInputs, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    return top_k(scores, k, rng)


def _select_power(inputs: QueryInputs, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    return gumbel_top_k(scores, k, rng, beta)


def _select_batchbald(inputs: QueryInputs, scores: Scores, k: int, rng: np.random.Generator,
                      beta: float) -> np.ndarray:
    from baltui.core.batchbald import batchbald_select

    return batchbald_select(inputs.P, k, rng)


def _select_badge(inputs: QueryInputs, scores: Scores, k: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    return kmeans_pp(inputs.gradients, k, rng)


def _select_coreset(inputs: QueryInputs, scores: Scores, k: int, rng: np.random.Generator,
                    beta: float) -> np.ndarray:
    return k_center_greedy(inputs.penultimate, inputs.labelled, k)


# The built-ins' ways to pick a batch from scores, by name for Acquisition plug-ins (baltui.core.plugins) that
# score their own way and pick as the built-ins do: the top k, or k drawn with probability ~ score**beta.
select_top, select_power = _select_top, _select_power

STRATEGIES: dict[str, Acquisition] = {
    a.name: a
    for a in (
        Acquisition("uniform", "random points from the pool (the baseline)", None, _select_top),
        Acquisition("entropy", "max entropy of the mean prediction", _on_P(entropy_scores), _select_top),
        Acquisition("bald", "mutual information between label and weights", _on_P(bald_scores), _select_top),
        Acquisition("var_ratios", "1 - share of MC samples voting for the modal class", _on_P(var_ratios_scores),
                    _select_top),
        Acquisition("mean_std", "mean over classes of the MC standard deviation", _on_P(mean_std_scores),
                    _select_top),
        Acquisition("batchbald", "greedy joint mutual information of the batch (Kirsch 2019)", _on_P(bald_scores),
                    _select_batchbald, needs_consistent_masks=True),
        Acquisition("powerbald", "sample the batch with probability ~ BALD^beta (Kirsch 2023)", _on_P(bald_scores),
                    _select_power, uses_beta=True),
        Acquisition("powerentropy", "sample the batch with probability ~ entropy^beta", _on_P(entropy_scores),
                    _select_power, uses_beta=True),
        Acquisition("least_confidence", "1 - the largest class probability of the mean prediction",
                    _on_P(least_confidence_scores), _select_top),
        Acquisition("margin", "1 - (largest - second largest) class probability of the mean prediction",
                    _on_P(margin_scores), _select_top),
        Acquisition("badge", "k-means++ on last-layer gradient embeddings (Ash 2020)", _badge_norms, _select_badge,
                    mc=False, penultimate=True, gradients=True,
                    scores_are="BADGE: gradient-embedding norms (batch by k-means++)"),
        Acquisition("coreset", "k-center greedy on the penultimate features (Sener 2018)", _coreset_distances,
                    _select_coreset, mc=False, penultimate=True, labelled=True,
                    scores_are="Core-set: distance to the nearest labelled (batch by k-center)"),
        Acquisition("epig", "expected information gain about predictions on pool targets (Bickford Smith 2023)",
                    _epig, _select_top, needs_consistent_masks=True, targets=True),
        Acquisition("powerepig", "sample the batch with probability ~ EPIG^beta (Kirsch 2023)", _epig,
                    _select_power, needs_consistent_masks=True, uses_beta=True, targets=True),
    )
}


class QueryStrategy:
    """A modAL query strategy: score a random subset of the pool, return the batch.

    The engine calls it directly, not through modAL's `ActiveLearner.query`: that wraps the call in a
    bare `except:` and calls the strategy again on any exception, so a bug would run twice (its
    traceback coming from the retry) and a KeyboardInterrupt or a Ray cancellation would be swallowed.

    Randomness comes from `self.rng` (the engine seeds it per query), drawn in a fixed order: the scored
    subset, EPIG's targets, the MC-dropout seed, then whatever the selection draws.
    """

    def __init__(self, name: str | Acquisition, mc_samples: int, subset: int, beta: float = 1.0,
                 epig_targets: int = DEFAULT_EPIG_TARGETS, target_images: np.ndarray | None = None) -> None:
        # A built-in by name, or an Acquisition (a plug-in, resolved by baltui.core.plugins).
        self.acquisition = STRATEGIES[name] if isinstance(name, str) else name
        self.mc_samples = mc_samples
        self.subset = subset
        self.beta = beta
        self.epig_targets = epig_targets
        # The target distribution EPIG averages over: a recipe's target set where the data set has one (the
        # unbalanced and redundant protocols test on a distribution the pool does not follow), else the pool.
        self.target_images = target_images
        self.rng = np.random.default_rng(0)
        # Filled on every call, read by the engine: scores of the whole scored subset.
        self.last_scores: Scores | None = None
        # Positions of the last call's EPIG targets in the pool, or in `target_images` when given (None for
        # other strategies).
        self.last_targets: np.ndarray | None = None
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
        inputs = self.gather(learner, X_pool, positions)
        a = self.acquisition
        scores = a.score(inputs)
        if a.plugin:
            scores = checked_scores(a.plugin, scores, len(positions))
        chosen = a.select(inputs, scores, n_instances, self.rng, self.beta)
        if a.plugin:
            chosen = checked_batch(a.plugin, chosen, len(positions), n_instances)
        self.last_scores = scores
        return positions[chosen], scores[chosen]

    def gather(self, learner: Any, X_pool: Any, positions: np.ndarray) -> QueryInputs:
        """What the acquisition declared, for the pool points at `positions` (one model pass of each kind)."""
        a, estimator = self.acquisition, learner.estimator
        found: dict[str, np.ndarray] = {}
        X = X_pool[positions]
        if a.mc:
            n = len(positions)
            if a.targets:
                # Targets drawn from the target set (else the whole pool); scored in the SAME call so that
                # sample t of a point and of a target come from one network (consistent masks).
                source = X_pool if self.target_images is None else self.target_images
                self.last_targets = np.sort(self.rng.choice(len(source), size=min(self.epig_targets, len(source)),
                                                            replace=False))
                X = np.concatenate([X, source[self.last_targets]])
            P = estimator.mc_predict_proba(X, self.mc_samples, seed=int(self.rng.integers(2**31)))
            found["P"] = P[:, :n] if a.targets else P
            if a.targets:
                found["targets"] = P[:, n:]
                X = X[:n]
        if a.penultimate or a.gradients:
            found["penultimate"], found["probs"] = estimator.penultimate_and_proba(X)
        if a.gradients:
            found["gradients"] = gradient_embeddings(found["probs"], found["penultimate"])
        if a.labelled:
            found["labelled"] = estimator.penultimate(learner.X_training)
        return QueryInputs(**found)
