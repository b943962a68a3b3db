"""How an epoch's order of images is cut into mini-batches (`--batching`), as offsets the training graph slices by.

"keep" (the default, and all baltui did before the setting): batches of `batch_size` in order, the last one
holding what is left, so 130 labelled images at batch 128 train on 128 and then on 2. That last step's
gradient is an average over 2 images, as large a step as the one over 128, and it is always the epoch's last
one, which at small labelled sets (the start of every active-learning run) is a noisy step taken every epoch.
"even": the same number of batches, ceil(n / batch_size), with sizes that differ by at most one (65 and 65),
larger ones first. No image is left out or repeated either way; only where the batches end changes.

numpy only: the sizes are testable without TensorFlow, and the classifier passes the offsets to its graph.
"""

from __future__ import annotations

import numpy as np

BATCHINGS = ("keep", "even")


def batch_sizes(images: int, batch_size: int, batching: str = "keep") -> list[int]:
    """The mini-batch sizes of one epoch over `images` images (in the order they are trained on)."""
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, got {batching!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if images <= 0:
        return []
    batches = -(-images // batch_size)
    if batching == "keep":
        return [batch_size] * (batches - 1) + [images - batch_size * (batches - 1)]
    small, larger = divmod(images, batches)
    return [small + 1] * larger + [small] * (batches - larger)


def batch_bounds(images: int, batch_size: int, batching: str = "keep") -> np.ndarray:
    """[batches + 1] int32 offsets into the epoch's order: batch i is order[bounds[i]:bounds[i + 1]]."""
    return np.concatenate([[0], np.cumsum(batch_sizes(images, batch_size, batching))]).astype(np.int32)
