"""Numbers as columns: one flat row per strategy row, per run or per query, for CSV and JSON (numpy only).

What a terminal table says in one cell ("0.9400 ± 0.0283", "190 ± 16, median 190 (3/4 reached)") a script
wants as separate numbers: mean, std, median and how many runs reached a threshold each in a column of its
own, counts as integers, and nothing in prose (what ± means is the report's footnote, not a cell). Missing
values are None (an empty CSV cell, JSON null): a statistic of a single run has no std, a run that never
reached 90% has no labels-to-90%, a record written before a metric existed has none of it.
"""

from __future__ import annotations

from typing import Any

from baltui.runs.aggregate import StrategySummary, normalised_auc, up_to
from baltui.runs.results import RunCurve

METRICS = ("accuracy", "nll", "ece", "brier")  # the per-query metrics a report can summarise (--metric)


def percent(threshold: float) -> int:
    return round(threshold * 100)


def summary_columns(s: StrategySummary) -> dict[str, Any]:
    """A report row's statistics of its metric: counts, the value at the common count, AUC, labels to X%."""
    m = s.metric
    row: dict[str, Any] = {
        "runs": s.total, "runs_failed": s.failed, "runs_unfinished": s.unfinished, "runs_in_statistics": s.runs,
        "n_labelled": s.final_at,
        f"{m}_mean": s.final_mean, f"{m}_std": s.final_std, f"{m}_median": s.final_median,
        f"{m}_auc_mean": s.auc, f"{m}_auc_std": s.auc_std,
    }
    for reach in s.reach:
        name = f"labels_to_{percent(reach.threshold)}"
        row |= {f"{name}_mean": reach.mean, f"{name}_std": reach.std, f"{name}_median": reach.median,
                f"{name}_reached": len(reach.values)}
    return row


def status(run: RunCurve) -> str:
    return "failed" if run.failed else "finished" if run.finished else "unfinished"


def run_columns(run: RunCurve, s: StrategySummary) -> dict[str, Any]:
    """One run of a report row: its value of the row's metric at the row's common count (None for a run left
    out of the statistics) and its AUC up to there, so the per-run rows average to the row's numbers."""
    m = s.metric
    xs, ys = run.values(m)
    counted = any(run is member for member in s.members)
    at = s.final_at if counted else None
    value = next((v for n, v in zip(xs, ys, strict=True) if n == at), None)
    row: dict[str, Any] = {
        "seed": run.seed, "run_id": run.run_id, "status": status(run), "stopped": run.stopped,
        "queries": len(run.n_labelled),
        "last_n_labelled": run.n_labelled[-1] if run.n_labelled else None, "n_labelled": at, m: value,
        f"{m}_auc": normalised_auc(*up_to(xs, ys, at)) if at is not None else None,
        f"last_{m}": ys[-1] if ys else None,
    }
    for reach in s.reach:
        row[f"labels_to_{percent(reach.threshold)}"] = run.labels_to_reach(reach.threshold) if counted else None
    return row


def query_columns(run: RunCurve, n_classes: int) -> list[dict[str, Any]]:
    """One row per completed query of a run: every metric, the timings, the fit's last epoch, and per class the
    test accuracy and the labelled count (columns class_accuracy_<c>, labelled_<c>, c < n_classes)."""
    rows = []
    for record in run.records:
        fit = record.get("fit") if isinstance(record.get("fit"), dict) else {}
        per_class = record.get("class_accuracy") or []
        labelled = record.get("labelled_per_class") or []
        row: dict[str, Any] = {"seed": run.seed, "run_id": run.run_id, "query": record.get("query"),
                               "n_labelled": record.get("n_labelled"), "pool_size": record.get("pool_size")}
        row |= {m: record.get(m) for m in METRICS}
        row |= {k: record.get(k) for k in ("acquisition_s", "training_s", "evaluation_s")}
        row |= {"fit_epochs": fit.get("epochs"), "fit_last_batch": fit.get("last_batch"),
                "fit_loss": (fit.get("loss") or [None])[-1], "fit_accuracy": (fit.get("accuracy") or [None])[-1]}
        row |= {f"class_accuracy_{c}": per_class[c] if c < len(per_class) else None for c in range(n_classes)}
        row |= {f"labelled_{c}": labelled[c] if c < len(labelled) else None for c in range(n_classes)}
        rows.append(row)
    return rows


def classes_recorded(runs: list[RunCurve]) -> int:
    """The most classes any record's per-class lists name (0 for records from before they were recorded)."""
    return max((len(r.get(k) or []) for run in runs for r in run.records
                for k in ("class_accuracy", "labelled_per_class")), default=0)


def class_accuracy_at(s: StrategySummary) -> dict[str, Any] | None:
    """Per-class test accuracy at the row's common count: per class the mean over the runs that recorded it
    (None for a class the test set lacks), and each run's list; None when no run of the row recorded it."""
    at = s.final_at
    lists = []
    for run in s.members:
        record = next((r for n, r in zip(run.n_labelled, run.records, strict=False) if n == at), None)
        if record is not None and isinstance(record.get("class_accuracy"), list):
            lists.append(record["class_accuracy"])
    if at is None or not lists:
        return None
    width = max(len(v) for v in lists)
    mean = []
    for c in range(width):
        known = [v[c] for v in lists if c < len(v) and v[c] is not None]
        mean.append(sum(known) / len(known) if known else None)
    return {"n_labelled": at, "runs": len(lists), "mean": mean, "values": lists}
