"""BatchBALD (Kirsch, van Amersfoort & Gal, NeurIPS 2019): greedy batches with joint mutual information.

Top-k BALD scores every point alone, so ten copies of one confusing digit all make the batch. BatchBALD
adds points one at a time, each maximising the mutual information between the *joint* labels of the
batch so far and the weights:

    a({x_1..x_m}) = H(y_1..y_m) - sum_j E_w[H(y_j | w)]

with the weights represented by the T MC-dropout samples: p(y_1..y_m) = mean_t prod_j P[t, j, y_j].

The joint entropy is exact while the chosen points have at most `max_exact_configs` label
configurations (C^(m-1)), then estimated from `n_config_samples` configurations drawn from the model
(the importance-sampling estimator of the BatchBALD paper), each of the T weight samples drawing an equal
share of them (stratified, as the authors' batchbald_redux does). Each step is one matrix product of the
[configs, T] products with the [T, N*C] probabilities, done in candidate chunks so that the temporary
[configs, chunk*C] array stays under CHUNK_BYTES (64 MB); the [T, configs] products add at most
T x 10^3 x 8 bytes. Memory therefore stays below ~100 MB for N=2000, T=100, C=10, k=10.

Scoring every candidate at every step costs configs x N x C logarithms, which on a whole pool (Repeated
MNIST's tens of thousands of images) is most of a query. A step instead scores candidates in order of an
upper bound on their score and stops once the best score found beats every bound left (`_upper_bounds`):
the same pick as scoring them all, for the exact and the sampled joint entropy alike, since the bound holds
for the estimator's own numbers, not only in expectation.
"""

from __future__ import annotations

import numpy as np

from baltui.core.scores import entropy as _entropy

CHUNK_BYTES = 64 * 2**20
_TINY = np.finfo(np.float64).tiny
# Candidates scored at once in bound order: enough that one matrix product is not all overhead.
MIN_CHUNK = 256


def _joint_entropies(prev: np.ndarray, weights: np.ndarray, P: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """H(y_chosen, y_n) for every candidate n, from config products prev [T, M] and their weights [M]."""
    T, M = prev.shape
    C = P.shape[2]
    out = np.empty(len(candidates))
    chunk = max(1, int(CHUNK_BYTES // (8 * M * C)))
    for start in range(0, len(candidates), chunk):
        idx = candidates[start : start + chunk]
        flat = P[:, idx, :].reshape(T, -1)  # [T, n*C]
        joint = prev.T @ flat  # [M, n*C]: p(config, y_n = c) once divided by T
        joint *= 1.0 / T
        # joint log joint in one buffer, in place (most of a step's time is these M x n x C logarithms);
        # a 0 probability gives 0 x log(tiny) = 0, the 0 log 0 = 0 convention
        terms = np.maximum(joint, _TINY)
        np.log(terms, out=terms)
        terms *= joint
        out[start : start + len(idx)] = -(weights @ terms).reshape(len(idx), C).sum(axis=1)
    return out


def _upper_bounds(prev: np.ndarray, weights: np.ndarray, P: np.ndarray) -> np.ndarray:
    """[N] upper bounds on `_joint_entropies` for every point, from one [T] x [T, N*C] product.

    Write the joint as p(m) q_m(c), p(m) = mean_t prev[t, m] the config's probability and q_m the candidate's
    label distribution given config m: a mixture over weight samples t with weights prev[t, m] / (T p(m)).
    Then the estimate is K + sum_m a_m H(q_m), with a_m = w_m p(m) and K = -sum_m a_m log p(m) the same for
    every candidate, and by the concavity of entropy sum_m a_m H(q_m) <= A H(sum_m a_m q_m / A), A = sum_m a_m.
    That average of the q_m is again a mixture over weight samples, with weights sum_m w_m prev[t, m] / (T A)
    that do not depend on the candidate: so every bound comes from one product with P.
    """
    T, N, C = P.shape
    p = prev.mean(axis=0)
    live = p > 0  # a config of probability 0 adds nothing to any joint
    a = weights[live] * p[live]
    total = a.sum()
    constant = -(a * np.log(p[live])).sum()
    mix_weights = prev[:, live] @ weights[live] / (T * total)  # [T], sums to 1
    mixture = (mix_weights @ P.reshape(T, N * C)).reshape(N, C)
    return constant + total * _entropy(mixture)


def _best_candidate(prev: np.ndarray, weights: np.ndarray, P: np.ndarray, candidates: np.ndarray,
                    cond: np.ndarray) -> int:
    """The candidate of highest joint entropy less its conditional entropy, the lowest index among equals (as
    np.argmax over all of them), scoring them in chunks in order of their upper bound until none left can win."""
    M = prev.shape[1]
    bounds = _upper_bounds(prev, weights, P)[candidates] - cond[candidates]
    order = np.argsort(-bounds, kind="stable")
    # The bound and the score are the same sums taken differently: a margin far above their rounding keeps
    # every candidate that could tie the best in the scored set.
    margin = 1e-9 * max(1.0, float(np.abs(bounds).max()))
    chunk = max(MIN_CHUNK, int(CHUNK_BYTES // (8 * M * P.shape[2])))
    best, best_score = -1, -np.inf
    for start in range(0, len(order), chunk):
        if best_score > bounds[order[start]] + margin:
            break
        idx = candidates[order[start : start + chunk]]
        scores = _joint_entropies(prev, weights, P, idx) - cond[idx]
        top = scores.max()
        first = int(idx[scores == top].min())
        if top > best_score or (top == best_score and first < best):
            best_score, best = float(top), first
    return best


def _stratified_samples(T: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """The weight sample behind each of n_samples configurations: every one of the T samples n_samples // T
    times, the remainder on distinct samples drawn at random.

    Stratified, as batchbald_redux's SampledJointEntropy (S // K draws per weight sample): the mixture over w
    is then covered evenly instead of by T-sided dice, which removes that part of the estimator's variance
    at the same number of configurations. Every sample's expected share stays 1/T, so it stays unbiased.
    """
    per_sample, remainder = divmod(n_samples, T)
    return np.concatenate([np.repeat(np.arange(T), per_sample), rng.choice(T, size=remainder, replace=False)])


def _sample_configs(P: np.ndarray, chosen: list[int], n_samples: int, rng: np.random.Generator) -> tuple:
    """Draw label configurations of the chosen points from the model: a weight sample t (stratified), then labels."""
    T = P.shape[0]
    t = _stratified_samples(T, n_samples, rng)
    prev = np.ones((T, n_samples))
    for j in chosen:
        probs = P[t, j, :]  # [S, C]
        cum = probs.cumsum(axis=1)
        u = rng.random((n_samples, 1)) * cum[:, -1:]
        labels = (cum < u).sum(axis=1).clip(max=P.shape[2] - 1)
        prev *= P[:, j, labels]  # [T, S]
    p_config = prev.mean(axis=0)
    weights = 1.0 / (n_samples * np.maximum(p_config, 1e-300))
    return prev, weights


def joint_entropy_exact(P_subset: np.ndarray) -> float:
    """H(y_1..y_m) by enumerating all C^m configurations; for tests and small m."""
    P_subset = np.asarray(P_subset, dtype=np.float64)
    T, m, C = P_subset.shape
    prev = np.ones((T, 1))
    for j in range(m):
        prev = (prev[:, :, None] * P_subset[:, j, None, :]).reshape(T, -1)
    return float(_entropy(prev.mean(axis=0)))


def joint_entropy_sampled(P_subset: np.ndarray, n_samples: int, rng: np.random.Generator) -> float:
    """H(y_1..y_m) estimated from sampled configurations, with the estimator batchbald_select uses."""
    P_subset = np.asarray(P_subset, dtype=np.float64)
    m = P_subset.shape[1]
    prev, weights = _sample_configs(P_subset[:, : m - 1], list(range(m - 1)), n_samples, rng)
    return float(_joint_entropies(prev, weights, P_subset, np.array([m - 1]))[0])


def batchbald_select(
    P: np.ndarray,
    k: int,
    rng: np.random.Generator,
    max_exact_configs: int = 1_000,
    n_config_samples: int = 1_000,
    prune: bool = True,
) -> np.ndarray:
    """k distinct indices into P's N axis, chosen greedily by the BatchBALD joint mutual information.

    `prune` scores candidates in bound order and stops when none left can win (the same picks); False scores
    every candidate at every step, as the tests and the speed check compare."""
    P = np.asarray(P, dtype=np.float64)
    T, N, C = P.shape
    k = min(k, N)
    cond = _entropy(P).mean(axis=0)  # E_w H(y_n | w), [N]
    chosen: list[int] = []
    available = np.ones(N, dtype=bool)
    prev, weights = np.ones((T, 1)), np.ones(1)
    for _ in range(k):
        candidates = np.flatnonzero(available)
        if prune:
            best = _best_candidate(prev, weights, P, candidates, cond)
        else:
            best = int(candidates[int(np.argmax(_joint_entropies(prev, weights, P, candidates) - cond[candidates]))])
        chosen.append(best)
        available[best] = False
        if prev.shape[1] * C <= max_exact_configs:
            prev = (prev[:, :, None] * P[:, best, None, :]).reshape(T, -1)
            weights = np.ones(prev.shape[1])
        else:
            prev, weights = _sample_configs(P, chosen, n_config_samples, rng)
    return np.asarray(chosen, dtype=np.int64)
