"""Per-point acquisition scores, pure numpy on P[t, n, c] (T dropout samples, N points, C classes).

A leaf: the strategies (baltui.core.acquisition) and BatchBALD (baltui.core.batchbald) both import it,
following Gal, Islam & Ghahramani (ICML 2017).
"""

from __future__ import annotations

import numpy as np

Scores = np.ndarray


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats; 0 log 0 is taken as 0."""
    p = np.asarray(p, dtype=np.float64)
    logp = np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=axis)


def entropy_scores(P: np.ndarray) -> Scores:
    """Max entropy: H of the mean predictive distribution."""
    return entropy(np.asarray(P, dtype=np.float64).mean(axis=0))


def bald_scores(P: np.ndarray) -> Scores:
    """BALD: mutual information between the label and the weights, H(mean) - mean(H)."""
    P = np.asarray(P, dtype=np.float64)
    mi = entropy(P.mean(axis=0)) - entropy(P).mean(axis=0)
    return np.maximum(mi, 0.0)  # rounding can push an exact 0 slightly negative


def var_ratios_scores(P: np.ndarray) -> Scores:
    """Variation ratios: 1 - (share of the T samples that vote for the modal class)."""
    P = np.asarray(P)
    T, N, C = P.shape
    votes = P.argmax(axis=2)  # [T, N]
    counts = np.zeros((N, C), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(N), (T, N)), votes), 1)
    return 1.0 - counts.max(axis=1) / T


def mean_std_scores(P: np.ndarray) -> Scores:
    """Mean STD: the per-class standard deviation over samples, averaged over classes."""
    P = np.asarray(P, dtype=np.float64)
    var = (P**2).mean(axis=0) - P.mean(axis=0) ** 2
    return np.sqrt(np.maximum(var, 0.0)).mean(axis=1)


def least_confidence_scores(P: np.ndarray) -> Scores:
    """Least confidence: 1 - max_c p(c|x) of the mean prediction (a non-Bayesian baseline on the MC mean)."""
    return 1.0 - np.asarray(P, dtype=np.float64).mean(axis=0).max(axis=1)


def margin_scores(P: np.ndarray) -> Scores:
    """Margin: 1 - (p_1 - p_2), the two largest probabilities of the mean prediction.

    The usual margin p_1 - p_2 is smallest where the model is least sure; one minus it keeps "higher is
    queried first" (as every other score) and stays in [0, 1], so histograms need no special case.
    """
    mean = np.asarray(P, dtype=np.float64).mean(axis=0)
    if mean.shape[1] < 2:  # one class: nothing to be unsure between
        return np.zeros(mean.shape[0])
    top2 = np.partition(mean, mean.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])
