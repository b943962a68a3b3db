"""The rich tables of a run folder's results, shared by headless mode's end and the dashboard's summary.

A layer below both consumers (baltui.commands.run.headless and baltui.commands.run), so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from baltui.runs.aggregate import STD_NOTE, THRESHOLDS, summarise
from baltui.runs.results import curves, read_records


def _last_metric(records: list[dict[str, Any]], metric: str) -> str:
    """The last query's NLL / ECE as a cell; blank where its record has none (written by an older baltui)."""
    value = records[-1].get(metric) if records else None
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def summary_table(out_dir: Path) -> Table:
    """Per run: final and mean accuracy, the last query's NLL and ECE (calibration beside accuracy), and
    labels needed to reach 90% / 95% test accuracy."""
    table = Table(title="Summary", title_justify="left")
    for column in ("run", "queries", "labelled", "final acc", "mean acc", "NLL", "ECE", "labels to 90%",
                   "labels to 95%"):
        # The run's name (with why it stopped) on one line: the numbers' columns wrap their headers instead.
        table.add_column(column, justify="left" if column == "run" else "right", no_wrap=column == "run")
    for rid, curve in curves(read_records(out_dir)).items():
        reach = [curve.labels_to_reach(t) for t in THRESHOLDS]
        table.add_row(
            rid + (" (failed)" if curve.failed else f" (stopped: {curve.stopped})" if curve.stopped else ""),
            str(max(len(curve.accuracy) - 1, 0)),
            str(curve.n_labelled[-1]) if curve.n_labelled else "-",
            f"{curve.final_accuracy:.4f}" if curve.final_accuracy is not None else "-",
            f"{curve.mean_accuracy:.4f}" if curve.mean_accuracy is not None else "-",
            _last_metric(curve.records, "nll"),
            _last_metric(curve.records, "ece"),
            *(str(r) if r is not None else "not reached" for r in reach),
        )
    return table


def strategy_table(out_dir: Path) -> Table | None:
    """With several seeds: per strategy, mean ± sample std over seeds (the reproduction issue's table).

    The same arithmetic as `baltui report`: final accuracy at the largest labelled count every run of the
    strategy reached (a cancelled run must not be averaged with finished ones at another count), failed
    runs counted but not averaged in, and the caption says what ± is.
    """
    summaries = summarise(list(curves(read_records(out_dir)).values()))
    if not any(s.total > 1 for s in summaries):
        return None
    table = Table(title="Over seeds (labels include the initial set)", title_justify="left", caption=STD_NOTE,
                  caption_justify="left")
    for column in ("strategy", "runs", "final acc (at labels)", "labels to 90%", "labels to 95%", "AUC"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for s in summaries:
        final = f"{s.final_text()} ({s.final_at})" if s.final_at is not None else "-"
        table.add_row(s.strategy, s.runs_text(), final, s.reach[0].text(), s.reach[1].text(),
                      f"{s.auc:.4f}" if s.auc is not None else "-")
    return table
