"""What a strategy plug-in hands back, checked on every query before the run uses it.

A built-in's scores and batches are right by construction; a plug-in's are code baltui has never seen. A
score of the wrong shape, a NaN, a repeated or out-of-range index or a short batch would otherwise pick
garbage silently (top-k sorts NaN anywhere) or fail far from its cause. Each check raises `PluginError`
naming the plug-in: the engine records it as that run's failure (run_failed) and the other runs carry on.
Pure numpy: the checks cost O(N) per query.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PluginError(ValueError):
    """A plug-in returned something a run cannot use; the message names the plug-in and what was wrong."""


def checked_scores(plugin: str, scores: Any, n: int) -> np.ndarray:
    """`scores` as float64 [n], or a PluginError: n finite real numbers, one per scored point."""
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise PluginError(f"strategy plug-in {plugin} returned {type(scores).__name__} scores, not an array of "
                          f"{n} numbers (one per scored point)") from None
    if values.shape != (n,):
        raise PluginError(f"strategy plug-in {plugin} returned scores of shape {values.shape} for {n} scored points; "
                          f"expected ({n},): one score per point of P[T, N, C], higher is queried first")
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise PluginError(f"strategy plug-in {plugin} returned NaN or infinite scores ({bad} of {n}); every score "
                          "must be a finite number")
    return values


def checked_batch(plugin: str, chosen: Any, n: int, k: int) -> np.ndarray:
    """The batch a plug-in's `select` picked, as int64 positions into the n scored points, or a PluginError:
    exactly k of them, whole numbers in 0..n-1, none twice."""
    values = np.asarray(chosen)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise PluginError(f"strategy plug-in {plugin} picked {values.dtype} indices of shape {values.shape}; "
                          f"expected {k} whole-number positions into the {n} scored points")
    values = values.astype(np.int64)
    k = min(k, n)  # a pool smaller than a batch cannot happen in a run (config checks), but say it right if it does
    if len(values) != k:
        raise PluginError(f"strategy plug-in {plugin} picked {len(values)} points; the query asks for {k} "
                          "(--instances)")
    outside = values[(values < 0) | (values >= n)]
    if len(outside):
        raise PluginError(f"strategy plug-in {plugin} picked index {int(outside[0])}, outside 0..{n - 1} "
                          f"(the {n} scored points)")
    if len(np.unique(values)) != len(values):
        raise PluginError(f"strategy plug-in {plugin} picked the same point twice; a batch holds {k} distinct points")
    return values
