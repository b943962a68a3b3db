"""The rich tables of a run folder's results, shared by headless mode's end and the dashboard's summary.

A layer below both consumers (baltui.commands.run.headless and baltui.commands.run), so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from baltui.runs.aggregate import STD_NOTE, THRESHOLDS, normalised_auc, summarise
from baltui.runs.results import curves, read_records

# The figure over the whole curve is named and computed as `baltui report` does (its AUC column, defined in the
# help screens): the area under the learning curve divided by the labelled range.
AUC = "AUC"


def _last_metric(records: list[dict[str, Any]], metric: str) -> str:
    """The last query's NLL / ECE as a cell; blank where its record has none (written by an older baltui)."""
    value = records[-1].get(metric) if records else None
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def summary_table(out_dir: Path) -> Table:
    """Per run: final accuracy, AUC, the last query's NLL and ECE (calibration beside accuracy), and labels
    needed to reach 90% / 95% test accuracy.

    Run names never wrap ("entropy-" above "s0") nor lose their end ("entropy…"): the numbers give way first."""
    table = Table(title="Summary", title_justify="left")
    runs = curves(read_records(out_dir))
    names = {rid: rid + (" (failed)" if c.failed else f" (stopped: {c.stopped})" if c.stopped else "")
             for rid, c in runs.items()}
    widest = max(map(len, names.values()), default=3)
    for column in ("run", "queries", "labelled", "final acc", AUC, "NLL", "ECE", "labels to 90%", "labels to 95%"):
        if column == "run":
            table.add_column(column, justify="left", no_wrap=True, min_width=widest)
        else:
            table.add_column(column, justify="right")
    for rid, curve in runs.items():
        reach = [curve.labels_to_reach(t) for t in THRESHOLDS]
        table.add_row(
            names[rid],
            str(max(len(curve.accuracy) - 1, 0)),
            str(curve.n_labelled[-1]) if curve.n_labelled else "-",
            f"{curve.final_accuracy:.4f}" if curve.final_accuracy is not None else "-",
            f"{normalised_auc(curve.n_labelled, curve.accuracy):.4f}" if curve.accuracy else "-",
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
    widest = max((len(s.strategy) for s in summaries), default=8)
    for column in ("strategy", "runs", "final acc (at labels)", "labels to 90%", "labels to 95%", AUC):
        if column == "strategy":
            table.add_column(column, justify="left", no_wrap=True, min_width=widest)
        else:
            table.add_column(column, justify="right")
    for s in summaries:
        final = f"{s.final_text()} ({s.final_at})" if s.final_at is not None else "-"
        table.add_row(s.strategy, s.runs_text(), final, s.reach[0].text(), s.reach[1].text(),
                      f"{s.auc:.4f}" if s.auc is not None else "-")
    return table
