"""The mean-accuracy figure of `baltui report --plot`, shared with `baltui export` (which attaches it to the
tracker's runs): one drawing, so the image a tracker shows is the report's, never a look-alike.

matplotlib is optional (the `plot` extra) and imported only here, when a figure is drawn.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

from baltui.core.errors import BaltuiError
from baltui.runs.aggregate import StrategySummary

NEEDS_MATPLOTLIB = "needs matplotlib: pip install 'baltui[plot]'"


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_curves_png(summaries: Sequence[StrategySummary], label: Callable[[StrategySummary], str], path: Path,
                     what: str = "--plot", ylabel: str = "test accuracy") -> None:
    """The mean curve of each summary with a ±1 std band, to `path` (its suffix says the format).

    `label` names a row as the report's table does; `what` names the caller in the errors (a missing
    matplotlib, an unwritable file); `ylabel` the metric the summaries are of."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BaltuiError(f"{what} {NEEDS_MATPLOTLIB}") from None
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for s in summaries:
        if not s.x:
            continue
        # no band where a single run contributes: there is no spread to draw (std is None there)
        mean = np.asarray(s.mean)
        std = np.asarray([np.nan if v is None else v for v in s.std], dtype=float)
        ax.plot(s.x, mean, label=f"{label(s)} ({s.runs_text()} run{'s' if s.total > 1 else ''})")
        ax.fill_between(s.x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("labelled images")
    ax.set_ylabel(f"{ylabel} (band: ±1 sample std over runs)")
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise BaltuiError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
