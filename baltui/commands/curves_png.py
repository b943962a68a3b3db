"""The mean-accuracy figure of `baltui report --plot`, shared with `baltui export` (which attaches it to the
tracker's runs): one drawing, so the image a tracker shows is the report's, never a look-alike.

matplotlib is optional (the `plot` extra) and imported only here, when a figure is drawn.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from baltui.core.errors import BaltuiError
from baltui.runs.aggregate import THRESHOLDS, StrategySummary
from baltui.runs.references import PaperReference

NEEDS_MATPLOTLIB = "needs matplotlib: pip install 'baltui[plot]'"


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def figure_options(metric: str, folders: Sequence[str], better: str = "",
                   reference: Callable[[StrategySummary], PaperReference | None] | None = None) -> dict[str, Any]:
    """How `baltui report --plot` draws `folders`' summaries of `metric` (and so `baltui export`, which attaches
    the very same image): the y label, a title naming the folders, and for accuracy the 90% / 95% guides and
    each row's paper points."""
    where = ", ".join(Path(f).name or f for f in folders)
    if len(where) > 60:
        where = f"{len(folders)} folders"
    accuracy = metric == "accuracy"
    what = "Test accuracy" if accuracy else f"Test {metric}"
    return dict(ylabel=f"test {metric}{better}", title=f"{what}, mean over runs{': ' + where if where else ''}",
                reference=reference if accuracy else None, guides=accuracy)


def write_curves_png(summaries: Sequence[StrategySummary], label: Callable[[StrategySummary], str], path: Path,
                     what: str = "--plot", ylabel: str = "test accuracy", title: str | None = None,
                     reference: Callable[[StrategySummary], PaperReference | None] | None = None,
                     guides: bool = False) -> None:
    """`curves_figure` to `path` (its suffix says the format); `what` names the caller in the errors (a missing
    matplotlib, an unwritable file)."""
    fig = curves_figure(summaries, label, what, ylabel, title, reference, guides)
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path)
    except OSError as exc:
        raise BaltuiError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def curves_figure(summaries: Sequence[StrategySummary], label: Callable[[StrategySummary], str],
                  what: str = "--plot", ylabel: str = "test accuracy", title: str | None = None,
                  reference: Callable[[StrategySummary], PaperReference | None] | None = None,
                  guides: bool = False) -> Any:
    """The mean curve of each summary with a ±1 std band, as a matplotlib Figure.

    `label` names a row as the report's table does, and the legend says how many runs are behind it (`bald (3
    runs, 3 unfinished)`); `ylabel` the metric the summaries are of. `guides`: the 90% / 95% lines the
    labels-to columns count to; `reference`: each row's paper, whose points (labels to 90% / 95%) are drawn
    in the row's colour."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BaltuiError(f"{what} {NEEDS_MATPLOTLIB}") from None
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    if guides:
        for threshold in THRESHOLDS:
            ax.axhline(threshold, color="grey", linestyle=":", linewidth=1, zorder=1)
            ax.annotate(f"{threshold:.0%}", (1.0, threshold), xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8, color="grey")
    for s in summaries:
        if not s.x:
            continue
        # no band where a single run contributes: there is no spread to draw (std is None there)
        mean = np.asarray(s.mean)
        std = np.asarray([np.nan if v is None else v for v in s.std], dtype=float)
        (line,) = ax.plot(s.x, mean, label=f"{label(s)} ({s.runs_phrase()})")
        ax.fill_between(s.x, mean - std, mean + std, alpha=0.2, color=line.get_color())
        ref = reference(s) if reference is not None else None
        total = ref.total_labels(s.strategy) if ref is not None else None
        if total is not None:
            ax.scatter(list(total), list(THRESHOLDS), marker="x", color=line.get_color(), zorder=3,
                       label=f"{ref.short}: {s.strategy} ({ref.statistic})")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("labelled images (the initial set included)")
    ax.set_ylabel(f"{ylabel} (band: ±1 sample std over runs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
