"""EPIG, the expected predictive information gain (Bickford Smith, Kirsch, Farquhar, Gal, Foster & Rainforth,
AISTATS 2023; fbickfordsmith/epig), pure numpy on MC-dropout probabilities.

BALD asks how much a label tells about the weights; EPIG asks how much it tells about the predictions that
matter, the labels y* of target inputs x* drawn from where the model will be used (here: the pool):

    EPIG(x) = E_{x*}[ I(y; y* | x, x*) ],   p(y, y* | x, x*) = E_w[ p(y | x, w) p(y* | x*, w) ]

With the weights represented by the T MC-dropout samples, p(y=c, y*=d) = mean_t P[t, n, c] Q[t, m, d], which is
a sample of the joint only when P[t] and Q[t] come from the same network: the scored points and the targets
must share one dropout mask per sample (consistent masks, in one call). Two facts the tests check: y* depends
on y only through w, so EPIG(x) <= BALD(x) (data processing); and a target whose prediction does not vary
over w carries no information, so its I(y; y*) is 0.
"""

from __future__ import annotations

import numpy as np

# Bytes of the [points, C, M, C] joint per chunk of scored points (float64): bounds the temporaries at
# N=2,000 pool points, M=100 targets and C=10 classes to a few chunks of 64 MB.
CHUNK_BYTES = 64 * 2**20
# Below every probability a float64 joint can hold but 0: 0 log TINY = 0, so no mask is needed for 0 log 0.
TINY = 1e-300


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Entropy in nats along the last axis; 0 log 0 = 0."""
    return -(p * np.log(np.maximum(p, TINY))).sum(axis=-1)


def epig_pairs(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """[N, M] mutual information I(y; y* | x_n, x*_m) in nats, from P[T, N, C] and the targets' Q[T, M, C].

    P and Q must come from the same T networks (sample t of both from one set of dropout masks). Computed as
    H(y) + H(y*) - H(y, y*) on probabilities renormalised in float64, so that the joint's marginals are p(y)
    and p(y*) to rounding and a target that does not vary over w gives 0 to rounding.
    """
    P = _normalised(P)
    Q = _normalised(Q)
    T, N, C = P.shape
    M, Cq = Q.shape[1], Q.shape[2]
    if Q.shape[0] != T:
        raise ValueError(f"P and Q need the same MC samples: {T} and {Q.shape[0]}")
    marginal = _entropy_rows(P.mean(axis=0))[:, None] + _entropy_rows(Q.mean(axis=0))[None, :]  # H(y) + H(y*)
    Qflat = Q.reshape(T, M * Cq)
    out = np.empty((N, M))
    chunk = max(1, int(CHUNK_BYTES // (8 * C * M * Cq)))
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        n = stop - start
        # p(y=c, y*=d) for every (point, target): one [n*C, T] x [T, M*Cq] product.
        joint = P[:, start:stop].reshape(T, n * C).T @ Qflat
        joint /= T
        plogp = np.maximum(joint, TINY)
        np.log(plogp, out=plogp)
        plogp *= joint
        out[start:stop] = -plogp.reshape(n, C, M, Cq).sum(axis=(1, 3))  # H(y, y*)
    return np.maximum(marginal - out, 0.0)  # rounding can push an exact 0 slightly negative


def _normalised(P: np.ndarray) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    return P / P.sum(axis=-1, keepdims=True)


def epig_scores(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """EPIG per scored point: I(y; y* | x, x*) averaged over the M targets (the Monte Carlo estimate of E_{x*})."""
    return epig_pairs(P, Q).mean(axis=1)
