"""`baltui report RUN_DIR [RUN_DIR...]`: the per-strategy table, a terminal chart, and exports.

Reads results.jsonl of finished and interrupted runs alike. Folders are merged: the same run id found
in two folders counts as two runs (say, seed 0 run twice), labelled with its folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from baltui.aggregate import StrategySummary, summarise
from baltui.errors import BaltuiError
from baltui.results import RunCurve, curves, read_config, read_records

# Gal, Islam & Ghahramani (ICML 2017), Table 1: acquired MNIST images (beyond the 20 initial ones) to reach
# 10% and 5% test error, mean of 3 repeats.
PAPER_TABLE1 = {"bald": (145, 335), "var_ratios": (120, 295), "entropy": (165, 355), "mean_std": (230, 695),
                "uniform": (255, 835)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baltui report", description="Summarise baltui run folders.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="write a PNG of the mean curves (needs baltui[plot])")
    p.add_argument("--no-chart", action="store_true", help="table format without the terminal chart")
    return p


def load_runs(run_dirs: list[str]) -> tuple[list[RunCurve], dict, int]:
    runs: list[RunCurve] = []
    config: dict = {}
    initial = 0
    for d in run_dirs:
        path = Path(d)
        if not path.is_dir():
            raise BaltuiError(f"{d} is not a folder")
        config = read_config(path)
        initial = int(config.get("initial_per_class", 2)) * 10
        found = curves(read_records(path))
        for run in found.values():
            if len(run_dirs) > 1:
                run.run_id = f"{path.name}/{run.run_id}"
            runs.append(run)
    if not any(r.accuracy for r in runs):
        raise BaltuiError("no completed query in " + ", ".join(run_dirs))
    return runs, config, initial


def _rows(summaries: list[StrategySummary], paper: bool, initial: int) -> list[dict[str, str]]:
    rows = []
    for s in summaries:
        row = {
            "strategy": s.strategy,
            "runs": str(s.runs),
            "final accuracy": f"{s.final_mean:.4f} ± {s.final_std:.4f}" if s.runs > 1 else f"{s.final_mean:.4f}",
            "labelled": str(s.max_labelled),
            "labels to 90%": s.reach[0].text(),
            "labels to 95%": s.reach[1].text(),
            "AUC": f"{s.auc:.4f}",
        }
        if paper:
            ref = PAPER_TABLE1.get(s.strategy)
            row["paper 90% / 95%"] = f"{ref[0] + initial} / {ref[1] + initial}" if ref else "-"
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        runs, config, initial = load_runs(args.run_dirs)
        summaries = summarise(runs)
        paper = config.get("dataset") in ("mnist", "npz") and config.get("initial_per_class", 2) == 2
        rows = _rows(summaries, paper, initial)
        if args.format == "json":
            print(json.dumps([{**r, "curve": {"n_labelled": s.x, "mean": s.mean, "std": s.std, "seeds": s.count},
                               "labels_to_90": s.reach[0].values, "labels_to_95": s.reach[1].values}
                              for r, s in zip(rows, summaries, strict=True)], indent=2))
        elif args.format == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
            sys.stdout.write(buf.getvalue())
        elif args.format == "markdown":
            cols = list(rows[0])
            print("| " + " | ".join(cols) + " |")
            print("|" + "---|" * len(cols))
            for r in rows:
                print("| " + " | ".join(r[c] for c in cols) + " |")
            print("\nLabels include the initial set" + (
                f" ({initial}); paper: Gal, Islam & Ghahramani 2017, Table 1, acquired images + {initial}."
                if paper else "."))
        else:
            _print_table(rows, summaries, paper, initial, chart=not args.no_chart)
        if args.plot:
            _write_png(summaries, Path(args.plot))
    except BaltuiError as exc:
        print(f"baltui report: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_table(rows, summaries, paper: bool, initial: int, chart: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 140))
    table = Table(title="baltui report (labels include the initial set)", title_justify="left")
    for c in rows[0]:
        table.add_column(c, justify="left" if c == "strategy" else "right")
    for r in rows:
        table.add_row(*r.values())
    console.print(table)
    if paper:
        console.print(f"paper: Gal, Islam & Ghahramani 2017, Table 1 (acquired images + the {initial} initial).")
    if chart:
        import plotext as plt

        plt.clear_figure()
        if not console.is_terminal:
            plt.theme("clear")  # no colour codes in a pipe or a log
        plt.plotsize(min(console.width, 100), 20)
        for s in summaries:
            plt.plot(s.x, s.mean, label=s.strategy, marker="braille")
        plt.title("mean test accuracy over seeds")
        plt.xlabel("labelled images")
        print(plt.build())


def _write_png(summaries: list[StrategySummary], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BaltuiError("--plot needs matplotlib: pip install 'baltui[plot]'") from None
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for s in summaries:
        mean, std = np.asarray(s.mean), np.asarray(s.std)
        ax.plot(s.x, mean, label=f"{s.strategy} ({s.runs} run{'s' if s.runs > 1 else ''})")
        ax.fill_between(s.x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("labelled images")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise BaltuiError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
