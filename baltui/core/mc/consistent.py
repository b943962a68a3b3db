"""Consistent MC dropout: sample t uses ONE dropout mask per layer for every point scored in a call.

Why: BatchBALD (Kirsch, van Amersfoort & Gal 2019) estimates the joint predictive of a batch as
p(y_1..y_m) = mean_t prod_j P[t, j, y_j]. That product is a sample of the joint only when P[t, i] and
P[t, j] come from the same weights, i.e. the same masks for all points in sample t. With a mask per
(sample, point) the joint factorises, and BatchBALD degenerates towards top-k BALD. For marginal
scores (entropy, BALD, ...) both give each point the same distribution.

With a shared mask the seed's head `Dropout -> Flatten -> Dense -> Dropout -> Dense(softmax)` is,
per sample, a dense product of the features with the kept rows of the first Dense:

    z_t = scale * (x @ W  -  x[:, dropped_t] @ W[dropped_t]) + b

`x @ W` is computed once per chunk of points; each sample then multiplies only its dropped quarter
of the rows (or its kept rows when a layer drops more than half): plain GEMMs, no scatter.
Masks are drawn once per call, before any chunking, so every chunk sees the same masks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Points per GEMM chunk: bounds the transposed feature copy (points x features x 4 bytes, ~60 MB on
# MNIST) when the whole 60,000-image pool is scored.
POINTS_PER_CHUNK = 4096


def keep_masks(rng: np.random.Generator, T: int, shape: Sequence[int], rate: float) -> np.ndarray:
    """[T, *shape] keep decisions, each kept with probability 1 - rate (Keras keeps when u >= rate)."""
    if rate <= 0.0:
        return np.ones((T, *shape), dtype=bool)
    return rng.random((T, *shape), dtype=np.float32) >= np.float32(rate)


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(z, 0.0, out=z)
    if activation == "softmax":
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z
    if activation == "linear":
        return z
    raise ValueError(f"activation {activation!r} is not one the consistent dense head computes")


def dense_head(
    flat: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    activation: str,
    keep: np.ndarray,
    rate: float,
    keep_out: np.ndarray | None,
    rate_out: float,
    W2: np.ndarray,
    b2: np.ndarray,
    final: str,
    checkpoint: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """[T, N, C] = final(dropout_out(act(dropout(flat) @ W + b)) @ W2 + b2), masks shared by all N points.

    keep[t] ([F]) and keep_out[t] ([H], or None for no second Dropout) are sample t's masks.
    """
    T = keep.shape[0]
    n, F = flat.shape
    out = np.empty((T, n, W2.shape[1]), dtype=np.float32)
    scale = np.float32(1.0 / (1.0 - rate))
    out_scale = np.float32(1.0 / (1.0 - rate_out)) if keep_out is not None else np.float32(1.0)
    # Per sample, the rows to multiply: the dropped ones (subtracted from the full product) while they
    # are fewer than the kept ones, else the kept ones.
    subtract = [bool(keep[t].sum() * 2 >= F) for t in range(T)]
    rows = [np.flatnonzero(~keep[t]) if subtract[t] else np.flatnonzero(keep[t]) for t in range(T)]
    W = np.ascontiguousarray(W, dtype=np.float32)
    second = None if keep_out is None else keep_out.astype(np.float32) * out_scale  # [T, H]
    for start in range(0, n, POINTS_PER_CHUNK):
        checkpoint()
        x = np.asarray(flat[start : start + POINTS_PER_CHUNK], dtype=np.float32)
        xt = np.ascontiguousarray(x.T)  # rows of features: a sample's gather is a block copy
        full = x @ W
        for t in range(T):
            part = xt[rows[t]].T @ W[rows[t]]
            z = (full - part) if subtract[t] else part
            z *= scale
            z += b
            z = _activate(z, activation)
            if second is not None:
                z *= second[t]
            logits = z @ W2
            logits += b2
            out[t, start : start + len(x)] = _activate(logits, final)
    return out
