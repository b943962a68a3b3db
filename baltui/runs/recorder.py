"""The one writer of results.jsonl, and what a folder's records say is left to run.

Every executor (in process: baltui.executors.local; Ray: baltui.executors.ray_executor) reports through a
Recorder, so results.jsonl holds the same records whichever ran the runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, run_id
from baltui.core.events import Event, QueryResult, RunFailed, RunFinished, is_query
from baltui.runs.results import ResultsWriter

Emit = Callable[[Event], None]


class Recorder:
    """Consumes an experiment's outcomes: the one writer of results.jsonl, and the same events to `emit`.

    Every executor (in-process below, Ray in baltui.executors.ray_executor) reports through one of these,
    so results.jsonl holds the same records whichever ran the runs.
    """

    def __init__(self, config: RunConfig, out_dir: Path, emit: Emit, states: dict[str, str] | None = None) -> None:
        self.emit = emit
        self.writer = ResultsWriter(out_dir)
        self.states: dict[str, str] = {} if states is None else states
        self.keys = {run_id(strategy, seed): {"strategy": strategy, "seed": seed}
                     for seed in config.seeds for strategy in config.strategies}

    def query(self, result: QueryResult) -> None:
        self.writer.append({"type": "query", **result.to_record()})
        self.emit(result)

    def finished(self, rid: str) -> None:
        self.states[rid] = "finished"
        self.writer.append({"type": "run_finished", "run_id": rid, **self.keys[rid]})
        self.emit(RunFinished(rid))

    def failed(self, rid: str, reason: str) -> None:
        self.states[rid] = "failed"
        self.writer.append({"type": "run_failed", "run_id": rid, "error": reason, **self.keys[rid]})
        self.emit(RunFailed(rid, reason))

    def close(self) -> None:
        self.writer.close()


def run_complete(records: list[dict[str, Any]], queries: int) -> bool:
    """Whether a run's records hold a finish and every query up to `queries`: a finished run resumed with
    more --queries continues, exactly as if it had been asked for them from the start."""
    done = max((r["query"] for r in records if is_query(r)), default=-1)
    return done >= queries and any(r.get("type") == "run_finished" for r in records)


def runs_to_do(
    config: RunConfig, resume: dict[str, list[dict[str, Any]]] | None
) -> tuple[list[tuple[str, str, int, list[dict[str, Any]] | None]], dict[str, str]]:
    """(run id, strategy, seed, its query records so far or None) of every run still to do, in grid
    order, and {run id: "finished"} for the runs `resume` says are done.

    A run that failed (an error, a killed worker) continues from its last completed query.
    """
    resume = resume or {}
    todo, done = [], {}
    for seed in config.seeds:
        for strategy in config.strategies:
            rid = run_id(strategy, seed)
            records = resume.get(rid, [])
            if run_complete(records, config.queries):
                done[rid] = "finished"
                continue
            queries = [r for r in records if is_query(r)]
            todo.append((rid, strategy, seed, queries or None))
    return todo, done
