"""`baltui export RUN_DIR --format tensorboard|mlflow --to WHERE`: a run folder into an experiment tracker.

One tracker run per baltui run (strategy, seed); the step is the labelled count; every number of the query
records is a scalar (see content.py), each query's acquisition-score histogram goes along, the settings and
provenance are parameters, and the report's figure is attached when matplotlib is there.

Every check (the folder, the extra, the target, an earlier export there) answers in one line with exit code
2 before anything is written; TensorBoard and MLflow are imported only once the input is good, as each takes
seconds to import.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from baltui.commands.curves_png import figure_options, matplotlib_available, write_curves_png
from baltui.commands.parsing import OneLineParser
from baltui.core.errors import BaltuiError
from baltui.runs.folder import RunFolder

FORMATS = ("tensorboard", "mlflow")
NEEDS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}  # format -> the module it imports (and its extra)


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui export",
                      description="Export a run folder to TensorBoard or MLflow: one tracker run per (strategy, "
                                  "seed), step = labelled images, every per-query metric, the acquisition-score "
                                  "histograms, the settings as parameters, and the report's figure.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (config.json, results.jsonl)")
    p.add_argument("--format", choices=FORMATS, required=True,
                   help="tensorboard (needs baltui[tensorboard]) or mlflow (needs baltui[mlflow])")
    p.add_argument("--to", required=True, metavar="WHERE",
                   help="tensorboard: the log folder (one subfolder per run; view with tensorboard --logdir "
                        "WHERE). mlflow: a tracking URI (http://..., sqlite:///file.db: artifacts beside the "
                        "file) or a folder, which holds a sqlite store WHERE/mlflow.db and WHERE/artifacts")
    p.add_argument("--experiment", metavar="NAME",
                   help="mlflow: the experiment (default: the run folder's name); made if it does not exist")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier export of this folder at WHERE (default: refuse). tensorboard: the "
                        "event files in the runs' subfolders are removed; mlflow: the earlier runs are deleted")
    return p


def check_extra(fmt: str) -> None:
    if importlib.util.find_spec(NEEDS[fmt]) is None:
        raise BaltuiError(f"--format {fmt} needs {NEEDS[fmt]}, which is not installed: pip install 'baltui[{fmt}]'")


def report_png(folder: RunFolder) -> Callable[[], bytes | None]:
    """The report's figure of the folder (`baltui report --plot`), drawn when asked; None without matplotlib."""

    def draw() -> bytes | None:
        if not matplotlib_available():
            print("baltui export: note: no figure of the curves: it needs matplotlib (pip install 'baltui[plot]')",
                  file=sys.stderr)
            return None
        with tempfile.TemporaryDirectory(prefix="baltui-export-") as tmp:
            path = Path(tmp) / "curves.png"
            write_curves_png(folder.summaries(), lambda s: s.strategy, path, what="the figure",
                             **figure_options("accuracy", [str(folder.path)], reference=lambda s: folder.reference()))
            return path.read_bytes()

    return draw


def export(run_dir: str, fmt: str, to: str, force: bool = False, experiment: str | None = None) -> list[str]:
    """Export `run_dir`; the lines to print. A BaltuiError (one line) on bad input, before anything is written."""
    from baltui.commands.export.content import export_runs

    if fmt not in FORMATS:
        raise BaltuiError(f"unknown --format {fmt}; choose one of {', '.join(FORMATS)}")
    check_extra(fmt)
    if not to.strip():
        raise BaltuiError("--to needs a place: a folder, or for mlflow a tracking URI")
    folder = RunFolder.open(run_dir)
    runs = export_runs(folder)
    if not runs:
        raise BaltuiError(f"{run_dir} holds no completed query yet: nothing to export")
    if experiment is not None and fmt != "mlflow":
        raise BaltuiError("--experiment is for --format mlflow (TensorBoard's experiment is the --to folder)")
    if fmt == "tensorboard":
        from baltui.commands.export import to_tensorboard

        return to_tensorboard.export(folder, runs, Path(to), report_png(folder), force)
    from baltui.commands.export import to_mlflow

    return to_mlflow.export(folder, runs, to, report_png(folder), force, experiment)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        lines = export(args.run_dir, args.format, args.to, args.force, args.experiment)
    except BaltuiError as exc:
        print(f"baltui export: error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0
