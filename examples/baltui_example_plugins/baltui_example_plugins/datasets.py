"""A data-set plug-in: a loader returning the keras layout, ((x_train, y_train), (x_test, y_test))."""

from __future__ import annotations

import numpy as np


def digits_0to4() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's 8x8 digits 0 to 4 (five classes), 270 held out to test."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = bunch.target < 5
    x = np.round(bunch.images[keep] * (255 / 16)).astype(np.uint8)  # 0..255 pixels, as keras stores images
    y = bunch.target[keep]
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:270], order[270:]
    return (x[train], y[train]), (x[test], y[test])
