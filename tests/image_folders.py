"""Image folders for tests, written from scikit-learn's bundled digits with Pillow: real PNG files on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = {0: "zero", 1: "one", 2: "two"}


def digit_png(image: np.ndarray, path: Path, shape: tuple[int, int] | None = None) -> None:
    """An 8x8 digit (0..16) as a white-on-black PNG, resized to `shape` (width, height) if given."""
    from PIL import Image

    img = Image.fromarray((image * 255 / 16).astype(np.uint8))
    if shape is not None:
        img = img.resize(shape, Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def digit_folder(root: Path, per_class: int = 30, test_per_class: int = 0,
                 classes: dict[int, str] = CLASSES) -> Path:
    """root/<name>/NNNN.png for each digit class (and root/test/<name>/ when test_per_class), in three sizes
    (8x8, 16x16 and 16x12), so the folder's images must be padded and resized to one size to be read."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    sizes = (None, (16, 16), (16, 12))
    for digit, name in classes.items():
        found = np.flatnonzero(digits.target == digit)
        for k, i in enumerate(found[:per_class]):
            digit_png(digits.images[i], root / name / f"{i:04d}.png", sizes[k % 3])
        for i in found[per_class : per_class + test_per_class]:
            digit_png(digits.images[i], root / "test" / name / f"{i:04d}.png")
    return root
