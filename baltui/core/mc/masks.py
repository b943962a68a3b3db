"""Random numbers of the independent-mask heads: Keras's keep decisions from fewer random bits, the
compact rows they apply to, and the seed pairs that make every TensorFlow draw a function of `rng`."""

from __future__ import annotations

from typing import Any

import numpy as np

from baltui.core.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()


def keep_mask(shape: Any, rate: float, seed: Any) -> Any:
    """Independent Bernoulli(1 - rate) keep decisions for a tensor of `shape` (stateless, seeded).

    Keras keeps an element when a float32 uniform is >= rate: 32 random bits per element. When
    rate * 256 (or rate * 65536) is a whole number, as for the seed's 0.25 and 0.5, comparing one
    random byte (or 16-bit word) with rate * 256 gives exactly the same keep probability with 4x
    (2x) fewer random numbers, which is most of the cost of sampling 100 heads. Other rates use the
    float rule itself.
    """
    shape = tf.convert_to_tensor(shape, dtype=tf.int32)
    if rate <= 0.0:
        return tf.ones(shape, dtype=tf.bool)
    if rate >= 1.0:
        return tf.zeros(shape, dtype=tf.bool)
    for bits, dtype in ((8, tf.uint8), (16, tf.uint16)):
        threshold = rate * 2**bits
        if threshold != int(threshold):
            continue
        per_word = 32 // bits
        last = shape[-1]
        words = (last + per_word - 1) // per_word
        raw = tf.random.stateless_uniform(
            tf.concat([shape[:-1], [words]], 0), seed, minval=None, maxval=None, dtype=tf.int32
        )
        units = tf.reshape(tf.bitcast(raw, dtype), tf.concat([shape[:-1], [words * per_word]], 0))
        return units[..., :last] >= tf.constant(int(threshold), dtype)  # an identity slice is free
    return tf.random.stateless_uniform(shape, seed) >= rate


def compact_rows(flat: np.ndarray, nonzero: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's non-zero (column, value) pairs, left-aligned and zero-padded to a multiple of 4.

    The padding entries have value 0, so whatever mask they get they add nothing; the width is a
    multiple of 4 so the byte masks need no trimming copy.
    """
    width = max(4, -(-int(counts.max(initial=0)) // 4) * 4)
    rows, cols = np.nonzero(nonzero)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(rows)) - starts[rows]
    idx = np.zeros((len(flat), width), dtype=np.int32)
    vals = np.zeros((len(flat), width), dtype=np.float32)
    idx[rows, pos] = cols
    vals[rows, pos] = flat[rows, cols]
    return idx, vals


def seed_pair(rng: np.random.Generator) -> np.ndarray:
    """A stateless TensorFlow seed (or a Keras seed generator's state) drawn from `rng`."""
    return rng.integers(0, 2**31 - 1, size=2, dtype=np.int64)
