"""A strategy plug-in at its simplest: a plain score function of the MC-dropout probabilities."""

from __future__ import annotations

import numpy as np


def margin_score(P: np.ndarray) -> np.ndarray:
    """Smallest margin first: 1 - (p1 - p2), the two largest class probabilities of the MC-dropout mean.

    P is float [T, N, C]: T dropout samples of the class probabilities of the N scored pool points. The result
    is one score per point, [N]; baltui queries the --instances highest (ties broken at random).
    """
    mean = np.asarray(P, dtype=np.float64).mean(axis=0)  # [N, C]
    top2 = np.sort(mean, axis=1)[:, -2:]  # the two largest, ascending
    return 1.0 - (top2[:, 1] - top2[:, 0])
