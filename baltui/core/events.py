"""The event stream an experiment emits: plain dataclasses, no UI.

The dashboard and the headless printer are two consumers of these same events, which is what keeps
the engine free of Textual, rich and plotext.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCORE_HISTOGRAM_BINS = 20  # bins of the per-query score histogram written to results.jsonl


@dataclass
class PhaseChanged:
    """A run started a new phase; epoch/epochs are set while training."""

    run_id: str
    query: int
    phase: str  # "training" | "acquiring" | "evaluating"
    epoch: int = 0
    epochs: int = 0


@dataclass
class QueryResult:
    """Everything about one completed query of one run; query 0 is the model on the initial set."""

    run_id: str
    strategy: str
    seed: int
    query: int
    n_labelled: int
    pool_size: int
    accuracy: float
    acquisition_s: float
    training_s: float
    evaluation_s: float
    queried_indices: list[int]
    queried_labels: list[int]
    queried_scores: list[float] | None
    # Images of the queried points, [k, H, W] (or [k, H, W, 3] in colour) in [0, 1], for previews; not on disk.
    queried_images: np.ndarray | None = None
    # Acquisition scores of the whole scored subset (None for uniform), for histograms.
    scores: np.ndarray | None = None
    # Dataset indices of every labelled point after this query, for resume.
    labelled_indices: list[int] = field(default_factory=list)
    # How this query's model was trained, where the regime chooses: C of the weight decay, validation
    # accuracy, epochs run (early stopping); None for the seed's fixed regime.
    training: dict[str, Any] | None = None
    # The test metrics beside accuracy, from the same float32 probabilities (baltui.core.metrics): mean NLL,
    # ECE (15 bins), Brier score, accuracy per class (None for a class the test set lacks). None in records
    # written before baltui recorded them.
    nll: float | None = None
    ece: float | None = None
    brier: float | None = None
    class_accuracy: list[float | None] | None = None
    # The labelled set's count per class after this query's labels.
    labelled_per_class: list[int] | None = None
    # The fit this query's model came from: {"loss": [per epoch], "accuracy": [per epoch], "epochs": n,
    # "last_batch": images} (metrics.fit_summary); None where there was none (or in older records).
    fit: dict[str, Any] | None = None
    # The stop rule (as given) this query met: the run ends with it (baltui.core.stopping); not on the query's
    # record, on the run_finished record that follows it.
    stopped: str | None = None
    # Share of the stop set's deterministic predictions that changed since the previous query; measured only
    # for runs with a `stable` stop rule, and only then on the record.
    predictions_changed: float | None = None

    def score_summary(self) -> dict[str, float] | None:
        if self.scores is None or len(self.scores) == 0:
            return None
        s = np.asarray(self.scores, dtype=np.float64)
        return {
            "n": int(s.size),
            "min": float(s.min()),
            "mean": float(s.mean()),
            "median": float(np.median(s)),
            "max": float(s.max()),
        }

    def score_histogram(self) -> dict[str, Any] | None:
        """The scored subset's scores binned for results.jsonl (so a watcher can draw them), or None.

        `threshold` is the lowest score that still made the batch; when every score is equal, all
        counts are in the first bin.
        """
        if self.scores is None:
            return None
        s = np.asarray(self.scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        if s.size == 0:
            return None
        lo, hi = float(s.min()), float(s.max())
        if hi > lo:
            counts = np.histogram(s, bins=SCORE_HISTOGRAM_BINS, range=(lo, hi))[0]
        else:
            counts = np.zeros(SCORE_HISTOGRAM_BINS, dtype=np.int64)
            counts[0] = s.size
        chosen = [float(v) for v in self.queried_scores or [] if np.isfinite(v)]
        return {"lo": lo, "hi": hi, "counts": [int(c) for c in counts], "threshold": min(chosen) if chosen else None}

    def to_record(self) -> dict[str, Any]:
        """The JSON object written to results.jsonl for this query."""
        return {
            "run_id": self.run_id,
            "strategy": self.strategy,
            "seed": self.seed,
            "query": self.query,
            "n_labelled": self.n_labelled,
            "pool_size": self.pool_size,
            "accuracy": self.accuracy,
            "acquisition_s": round(self.acquisition_s, 4),
            "training_s": round(self.training_s, 4),
            "evaluation_s": round(self.evaluation_s, 4),
            "queried_indices": self.queried_indices,
            "queried_labels": self.queried_labels,
            "queried_scores": self.queried_scores,
            "score_summary": self.score_summary(),
            "score_histogram": self.score_histogram(),
            "labelled_indices": self.labelled_indices,
            "training": self.training,
            "nll": self.nll,
            "ece": self.ece,
            "brier": self.brier,
            "class_accuracy": self.class_accuracy,
            "labelled_per_class": self.labelled_per_class,
            "fit": self.fit,
            **({} if self.predictions_changed is None else {"predictions_changed": self.predictions_changed}),
        }


    @classmethod
    def from_record(cls, record: dict[str, Any], run_id: str | None = None, **extra: Any) -> QueryResult:
        """The QueryResult a results.jsonl record was written from (images and raw scores are not on disk).

        `run_id` renames the run (a watcher prefixes it with its folder); `extra` sets fields of a subclass.
        Raises KeyError / TypeError / ValueError on a malformed record.
        """
        return cls(
            run_id=str(record["run_id"]) if run_id is None else run_id,
            strategy=str(record["strategy"]),
            seed=int(record["seed"]),
            query=int(record["query"]),
            n_labelled=int(record["n_labelled"]),
            pool_size=int(record["pool_size"]),
            accuracy=float(record["accuracy"]),
            acquisition_s=float(record.get("acquisition_s") or 0.0),
            training_s=float(record.get("training_s") or 0.0),
            evaluation_s=float(record.get("evaluation_s") or 0.0),
            queried_indices=[int(i) for i in record.get("queried_indices") or []],
            queried_labels=[int(v) for v in record.get("queried_labels") or []],
            queried_scores=record.get("queried_scores"),
            labelled_indices=[int(i) for i in record.get("labelled_indices") or []],
            training=record.get("training"),
            nll=_number(record.get("nll")),
            ece=_number(record.get("ece")),
            brier=_number(record.get("brier")),
            class_accuracy=_numbers(record.get("class_accuracy")),
            labelled_per_class=None if record.get("labelled_per_class") is None
            else [int(v) for v in record["labelled_per_class"]],
            fit=record.get("fit") if isinstance(record.get("fit"), dict) else None,
            predictions_changed=record.get("predictions_changed"),
            **extra,
        )


def _number(value: Any) -> float | None:
    """A record's optional metric: None when absent (records before it), else a float."""
    return None if value is None else float(value)


def _numbers(values: Any) -> list[float | None] | None:
    return None if values is None else [None if v is None else float(v) for v in values]


def event_from_record(record: dict[str, Any], run_id: str | None = None, query_type: type[QueryResult] = QueryResult,
                      **extra: Any) -> Event | None:
    """One results.jsonl record as the event it was written from (None for unknown record types).

    `run_id` renames the run (a watcher prefixes it); `query_type` and `extra` build a QueryResult subclass.
    Raises KeyError / TypeError / ValueError on a malformed record.
    """
    kind = record.get("type", "query")
    rid = str(record["run_id"]) if run_id is None else run_id
    if kind == "run_finished":
        return RunFinished(rid, record.get("stopped"), record.get("queries"))
    if kind == "run_failed":
        return RunFailed(rid, str(record.get("error") or "failed"))
    if kind != "query":
        return None
    return query_type.from_record(record, rid, **extra)


def is_query(record: dict[str, Any]) -> bool:
    """Whether a results.jsonl record is a completed query (records before `type` existed were all queries)."""
    return record.get("type", "query") == "query"


@dataclass
class RunFinished:
    """A run completed all its queries, or `stopped` by that stop rule after query `queries`."""

    run_id: str
    stopped: str | None = None
    queries: int | None = None

    def text(self) -> str:
        """'finished', or 'stopped: labels>=500 at query 12': what the consumers show."""
        return "finished" if self.stopped is None else f"stopped: {self.stopped} at query {self.queries}"


@dataclass
class RunFailed:
    """A run stopped on an error; other runs carry on."""

    run_id: str
    error: str


@dataclass
class ExperimentFinished:
    """Every run has finished, failed, or the experiment was cancelled."""

    cancelled: bool


Event = PhaseChanged | QueryResult | RunFinished | RunFailed | ExperimentFinished
