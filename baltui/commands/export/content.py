"""What an export carries, the same for every tracker: runs, their per-query scalars, their parameters.

Scalars are found generically, not from a list: every number a query record holds (nested dicts and lists of
numbers flattened to `key/sub` and `key/3`), so a metric a later baltui adds to the records (nll, ece,
class_accuracy...) is exported without touching this module. Left out are what identifies the record (run,
strategy, seed, query; n_labelled is the step), lists of dataset indices and class labels (not metrics), and
the acquisition scores, which go out as histograms.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from baltui.core.events import is_query
from baltui.runs.folder import RunFolder
from baltui.runs.results import curves

STEP = "n_labelled"  # a tracker's step: the labelled count, the x axis of every baltui curve
# Not scalars: the record's identity, the queried points' labels, and the scores (exported as histograms).
NOT_SCALARS = frozenset({"type", "run_id", "strategy", "seed", "query", STEP, "queried_labels", "queried_scores",
                         "score_histogram"})
HISTOGRAM_KEYS = ("query", STEP, "score_histogram", "score_summary", "queried_scores")


def _is_index_list(key: str) -> bool:
    """queried_indices, labelled_indices and any later `*_indices`: positions in the dataset, not measurements."""
    return key.endswith("_indices")


@dataclass
class ExportRun:
    """One baltui run (strategy, seed): a TensorBoard run folder, an MLflow run."""

    run_id: str
    strategy: str
    seed: int
    status: str  # "finished" | "failed" | "unfinished" (interrupted; --resume continues it)
    error: str | None = None
    queries: list[dict[str, Any]] = field(default_factory=list)  # query records, in query order

    def histograms(self) -> list[dict[str, Any]]:
        """Each query's acquisition-score histogram as results.jsonl holds it (query 0 and uniform have none)."""
        return [{k: q.get(k) for k in HISTOGRAM_KEYS} for q in self.queries if q.get("score_histogram")]


def export_runs(folder: RunFolder) -> list[ExportRun]:
    """The folder's runs with at least one completed query, in the grid order of config.json (others after).

    A query recorded twice (a resumed run) counts once, its last record, as `baltui report` counts it."""
    records = folder.records()
    by_run: dict[str, dict[int, dict[str, Any]]] = {}
    for record in records:
        if is_query(record):
            by_run.setdefault(record["run_id"], {})[record["query"]] = record
    order = [r for r in folder.run_ids if r in by_run] + [r for r in by_run if r not in folder.run_ids]
    outcomes = curves(records)
    out = []
    for rid in order:
        curve = outcomes[rid]
        status = "failed" if curve.failed else "finished" if curve.finished else "unfinished"
        queries = [by_run[rid][q] for q in sorted(by_run[rid])]
        out.append(ExportRun(rid, curve.strategy, curve.seed, status, curve.failed, queries))
    return out


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """Every number of a query record by tracker tag: accuracy, acquisition_s, class_accuracy/3, training/C..."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if key not in NOT_SCALARS and not _is_index_list(key):
            _numbers(key, value, out)
    return out


def _numbers(name: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        out[name] = float(value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _numbers(f"{name}/{i}", item, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _numbers(f"{name}/{key}", item, out)


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """config.json as one level of parameters: nested tables as `provenance.versions.numpy`, lists (and null)
    as their JSON text, so every value is one a tracker takes (bool, number, text)."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, f"{name}."))
        elif isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            out[name] = value
        else:
            out[name] = json.dumps(value)
    return out


def run_params(config: dict[str, Any], run: ExportRun) -> dict[str, bool | int | float | str]:
    """The folder's settings and provenance, with this run's own strategy, seed and outcome."""
    return {**flat_params(config), "strategy": run.strategy, "seed": run.seed, "run_id": run.run_id,
            "status": run.status}
