"""Timing for `baltui bench` and its parts: the fastest of a few calls, the least disturbed on a shared machine."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(fastest of `repeats` timed calls, the last call's result), so nothing slow runs twice for its value."""
    best, result = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of `repeats` timed calls."""
    return timed(fn, repeats)[0]
