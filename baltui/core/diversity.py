"""Batches chosen for diversity in a representation, not by a per-point score: BADGE and Core-set (numpy only).

h is the input of the network's last Dense layer (dropout off), from `MCDropoutClassifier.penultimate`.

- BADGE (Ash, Zhang, Krishnamurthy, Langford & Agarwal, ICLR 2020; JordanAsh/badge): each point's gradient
  of the cross-entropy w.r.t. the last layer's kernel at the model's own predicted label,
  g(x) = h(x) outer (p(x) - onehot(argmax p(x))), then k-means++ seeding on g: the first centre is the largest
  gradient (as the authors' `init_centers` does), each next one drawn with probability proportional to its
  squared distance to the nearest centre so far. Large gradients are uncertain points, far apart ones diverse.
- Core-set (Sener & Savarese, ICLR 2018): k-center greedy on h with the labelled set as the initial centres:
  each pick is the point farthest from every labelled and already picked point (the paper's greedy 2-OPT
  solution; its robust MIP refinement is not done).

Neither has a per-point acquisition score; what the runs record instead (`gradient_norms`,
`nearest_distances`) is the quantity each one's first pick maximises.

A caveat beside any diversity claim: distances are in the model's current representation, which is trained
on a few dozen labels early on; points far apart in h need not be different digits. (Greedy BatchBALD may
likewise rightly take near-copies when each one's prediction is soft.)
"""

from __future__ import annotations

import numpy as np

# Rows of the [rows, centres] distance block per chunk (float64) when distances to the labelled set are taken.
CHUNK_BYTES = 64 * 2**20


def _residual(probs: np.ndarray) -> np.ndarray:
    """p - onehot(argmax p): the cross-entropy's gradient w.r.t. the logits at the predicted label."""
    residual = np.array(probs, dtype=np.float64)
    residual[np.arange(len(residual)), residual.argmax(axis=1)] -= 1.0
    return residual


def gradient_embeddings(probs: np.ndarray, H: np.ndarray) -> np.ndarray:
    """[N, D*C] BADGE embeddings: d CE(argmax p, p) / d kernel, with the kernel laid out [D, C] as Keras's Dense.

    probs [N, C] and H [N, D] come from the same deterministic pass. float32: the embeddings of a
    2,000-point subset of the seed model (D=128, C=10) take 10 MB.
    """
    H = np.asarray(H, dtype=np.float32)
    residual = _residual(probs).astype(np.float32)
    return (H[:, :, None] * residual[:, None, :]).reshape(len(H), -1)


def gradient_norms(probs: np.ndarray, H: np.ndarray) -> np.ndarray:
    """||g(x)|| = ||h(x)|| * ||p(x) - onehot(argmax p(x))||: the norm of each BADGE embedding, without forming it."""
    return np.linalg.norm(np.asarray(H, dtype=np.float64), axis=1) * np.linalg.norm(_residual(probs), axis=1)


def _squared_distances(X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    diff = X - centre
    return np.einsum("nd,nd->n", diff, diff)


def kmeans_pp(G: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct rows of G by k-means++ seeding, the first being the row of largest norm (BADGE's choice).

    Each next row is drawn with probability proportional to its squared distance to the nearest row chosen so
    far (chosen rows are at distance 0, so never drawn again); when every remaining row coincides with a chosen
    one, the rest are drawn uniformly from those not yet chosen.
    """
    G = np.asarray(G, dtype=np.float64)
    N = len(G)
    k = min(k, N)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    norms = np.einsum("nd,nd->n", G, G)
    chosen = [int(np.argmax(norms))]
    available = np.ones(N, dtype=bool)
    available[chosen[0]] = False
    d2 = _squared_distances(G, G[chosen[0]])
    while len(chosen) < k:
        weights = np.where(available, d2, 0.0)
        total = weights.sum()
        if total > 0:
            pick = int(np.searchsorted(np.cumsum(weights), rng.random() * total, side="right"))
            pick = min(pick, N - 1)
            if not available[pick]:  # rounding at the end of the cumulative sum: the last weighted row
                pick = int(np.flatnonzero(weights > 0)[-1])
        else:
            pick = int(rng.choice(np.flatnonzero(available)))
        chosen.append(pick)
        available[pick] = False
        np.minimum(d2, _squared_distances(G, G[pick]), out=d2)
    return np.asarray(chosen, dtype=np.int64)


def nearest_squared_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[N] squared Euclidean distance from each row of X to its nearest row of centres (inf without centres)."""
    X = np.asarray(X, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    out = np.full(len(X), np.inf)
    if len(centres) == 0:
        return out
    c_sq = np.einsum("md,md->m", centres, centres)
    chunk = max(1, int(CHUNK_BYTES // (8 * len(centres))))
    for start in range(0, len(X), chunk):
        x = X[start : start + chunk]
        d2 = np.einsum("nd,nd->n", x, x)[:, None] + c_sq[None, :] - 2.0 * (x @ centres.T)
        out[start : start + chunk] = np.maximum(d2.min(axis=1), 0.0)
    return out


def nearest_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[N] Euclidean distance from each row of X to its nearest centre: what Core-set's first pick maximises."""
    return np.sqrt(nearest_squared_distances(X, centres))


def k_center_greedy(X: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """k distinct rows of X, each the farthest (Euclidean) from the centres and the rows picked before it.

    Without centres the first pick is row 0 (X is a random subset of the pool, so a random point).
    """
    X = np.asarray(X, dtype=np.float64)
    k = min(k, len(X))
    d2 = nearest_squared_distances(X, centres)
    chosen: list[int] = []
    for _ in range(k):
        pick = int(np.argmax(d2))
        chosen.append(pick)
        np.minimum(d2, _squared_distances(X, X[pick]), out=d2)
        d2[pick] = -1.0  # never again, even when rounding leaves it a hair above 0
    return np.asarray(chosen, dtype=np.int64)
