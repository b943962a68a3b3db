"""Threads per run: the environment that sizes TensorFlow's, numba's and OpenMP's thread pools.

The pools are sized once, when each library starts, so these must be in the environment before that: in
a Ray worker through its runtime_env (the worker process starts with them), in process before TensorFlow
is imported. TensorFlow ignores OMP_NUM_THREADS; it reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS.
At the same number of threads a run gives the same results in process and on Ray.
"""

from __future__ import annotations

import os
import sys
import warnings

# OPENBLAS_NUM_THREADS: numpy's BLAS, which the consistent-mask head's GEMMs run on.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """The variables that give a process `threads` threads for TensorFlow, numba and OpenMP."""
    return {name: str(threads) for name in THREAD_VARIABLES}


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def apply_threads(threads: int) -> None:
    """Give this process's runs `threads` threads; only acts on libraries that have not started yet."""
    late = [name for name in ("tensorflow", "numba") if name in sys.modules]
    env = thread_env(threads)
    if "tensorflow" in late:
        env.pop("TF_NUM_INTRAOP_THREADS")
        env.pop("TF_NUM_INTEROP_THREADS")
    if "numba" in late:  # numba refuses a changed NUMBA_NUM_THREADS once its threads run
        env.pop("NUMBA_NUM_THREADS")
    if "numpy" in sys.modules:  # OpenBLAS sized its pool when numpy loaded
        env.pop("OPENBLAS_NUM_THREADS")
    os.environ.update(env)
    if late:
        warnings.warn(f"threads per run: {' and '.join(late)} already started in this process and keep "
                      "their thread pools", stacklevel=2)


def threads_per_run(threads: int | None, workers: int | None, joined: bool, on_ray: bool) -> int:
    """The threads each run gets: as given, else all cores in process, cores // workers on a local Ray
    instance (at least 1), and 1 on a cluster joined with --address (its nodes' sizes are unknown here)."""
    if threads is not None:
        return threads
    if not on_ray:
        return cores()
    return 1 if joined or not workers else max(1, cores() // workers)
