"""Images as terminal text: grey levels as shaded block characters.

Plain characters rather than colours, so a preview stays legible in any terminal, in a log, and in
`tmux capture-pane`. No UI import: the dashboard and the label mode both draw with it.
"""

from __future__ import annotations

import numpy as np

SHADES = " ░▒▓█"


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square `size` x `size`: area-average when shrinking by a whole factor, nearest pixel otherwise."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., 0]
    h, w = img.shape
    if h % size == 0 and w % size == 0 and h >= size:
        return img.reshape(size, h // size, size, w // size).mean(axis=(1, 3))
    rows = np.minimum((np.arange(size) * h / size).astype(int), h - 1)
    cols = np.minimum((np.arange(size) * w / size).astype(int), w - 1)
    return img[np.ix_(rows, cols)]


def shaded(image: np.ndarray, width: int = 14) -> list[str]:
    """`width` columns by `width // 2` rows: each cell averages two pixel rows (cells are ~2x tall)."""
    img = resize(image, width)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    rows = img[: (width // 2) * 2].reshape(width // 2, 2, width).mean(axis=1)
    levels = np.clip((rows * (len(SHADES) - 1) + 0.5).astype(int), 0, len(SHADES) - 1)
    return ["".join(SHADES[v] for v in row) for row in levels]
