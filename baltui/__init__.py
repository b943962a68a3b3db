"""baltui: deep Bayesian active learning on images, watched live in the terminal.

The Python API (baltui.api): `baltui.run(...)`, `baltui.experiment(...)`, `baltui.load_run(path)`,
`baltui.next_batch(...)`; loaded on first use so `import baltui` (and the command line's --help) stays instant.
"""

from typing import Any

from baltui.version import __version__

__all__ = ["experiment", "load_run", "next_batch", "run", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("run", "experiment", "load_run", "next_batch"):
        from baltui import api

        return getattr(api, name)
    raise AttributeError(f"module 'baltui' has no attribute {name!r}")
