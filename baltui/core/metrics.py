"""What a query's model is worth beyond its accuracy: calibration and likelihood on the test set (numpy only).

Accuracy says how often the top class is right; it cannot tell a model that is right at 99% confidence from
one that is right at 51%, and active learning changes exactly that (an acquisition function that ranks by
uncertainty depends on how honest the probabilities are). So every query record also holds, computed from
the same deterministic (dropout-off) float32 probabilities the accuracy's argmax is taken from:

- `nll`: the mean negative log-likelihood of the test labels (natural log; probabilities clipped at
  `NLL_FLOOR`, so one confidently wrong image costs at most -ln(1e-12) ~ 27.6 instead of infinity);
- `ece`: the expected calibration error over `ECE_BINS` equal-width bins of the top-class probability
  (Guo et al. 2017): sum over bins of (images in the bin / N) * |accuracy in the bin - mean confidence in it|,
  a bin holding the confidences in (lower edge, upper edge];
- `brier`: the mean over test images of sum_c (p_c - onehot_c)^2 (0: certain and right; at most 2);
- `class_accuracy`: accuracy per class, None for a class the test set lacks.

The training side (`fit_summary`) rounds its per-epoch curves to `SIGNIFICANT` digits: they are read as curves,
not compared bit for bit, and a record per query must stay small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

NLL_FLOOR = 1e-12
ECE_BINS = 15
SIGNIFICANT = 5
# Which way each per-query test metric is better (`baltui report --metric` says it in its headers).
BETTER = {"accuracy": "higher", "nll": "lower", "ece": "lower", "brier": "lower"}
# What each means, in the words the report's notes use.
MEANING = {
    "accuracy": "test accuracy",
    "nll": f"mean negative log-likelihood of the test labels (natural log, probabilities clipped at {NLL_FLOOR:g})",
    "ece": f"expected calibration error ({ECE_BINS} equal-width bins of the top-class probability, weighted by "
           "their image counts)",
    "brier": "Brier score (mean over test images of the summed squared difference between the probabilities and "
             "the one-hot label)",
}


def _checked(P: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if P.ndim != 2 or y.shape != (len(P),):
        raise ValueError(f"probabilities must be [N, C] and labels [N], got {P.shape} and {y.shape}")
    return P, y


def nll(P: np.ndarray, y: np.ndarray) -> float:
    """Mean -ln p(y_i | x_i), each probability clipped at NLL_FLOOR."""
    P, y = _checked(P, y)
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], NLL_FLOOR, None))))


def ece(P: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error over `bins` equal-width bins (lower, upper] of the top-class probability."""
    P, y = _checked(P, y)
    confidence = P.max(axis=1)
    correct = (P.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], confidence, side="left")  # c == an edge goes to the bin below it
    # n_b/N * |acc_b - conf_b| = |sum of correct_b - sum of confidence_b| / N: the bin's count is its weight
    gap = np.abs(np.bincount(which, correct, bins) - np.bincount(which, confidence, bins))
    return float(gap.sum() / len(y)) if len(y) else 0.0


def brier(P: np.ndarray, y: np.ndarray) -> float:
    """Mean over images of sum_c (p_c - onehot_c)^2."""
    P, y = _checked(P, y)
    onehot = np.zeros_like(P)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((P - onehot) ** 2, axis=1)))


def class_accuracy(P: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> list[float | None]:
    """Accuracy of the argmax per class, in class order; None for a class with no test image."""
    P, y = _checked(P, y)
    n_classes = P.shape[1] if n_classes is None else n_classes
    correct = P.argmax(axis=1) == y
    totals = np.bincount(y, minlength=n_classes)
    hits = np.bincount(y, correct.astype(np.float64), minlength=n_classes)
    return [float(hits[c] / totals[c]) if totals[c] else None for c in range(n_classes)]


def class_counts(y: np.ndarray, n_classes: int) -> list[int]:
    """How many labels of each class `y` holds (the labelled set's balance)."""
    return [int(c) for c in np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)[:n_classes]]


def test_metrics(P: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> dict[str, Any]:
    """accuracy, nll, ece, brier and class_accuracy of probabilities P [N, C] for labels y [N]."""
    P, y = _checked(P, y)
    return {"accuracy": float((P.argmax(axis=1) == y).mean()) if len(y) else 0.0, "nll": nll(P, y),
            "ece": ece(P, y), "brier": brier(P, y), "class_accuracy": class_accuracy(P, y, n_classes)}


test_metrics.__test__ = False  # type: ignore[attr-defined]  # a metric of the test set, not a pytest test


def significant(x: float, digits: int = SIGNIFICANT) -> float | None:
    """x to `digits` significant digits (None for NaN or infinity, which JSON cannot hold)."""
    x = float(x)
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None


def fit_summary(loss: Sequence[float], accuracy: Sequence[float], epochs: int, last_batch: int) -> dict[str, Any]:
    """The `fit` field of a query record: per-epoch mean training loss and accuracy (rounded), epochs run and the
    size of an epoch's last mini-batch."""
    return {"loss": [significant(v) for v in loss], "accuracy": [significant(v) for v in accuracy],
            "epochs": int(epochs), "last_batch": int(last_batch)}
