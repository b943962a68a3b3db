"""An experiment: every (strategy, seed) run of a config, advanced together query by query.

Interleaving the runs (one query of each in turn) makes the comparison build up side by side in the
dashboard and keeps a cancelled experiment balanced across strategies. Results are written here, not
in a consumer, so the dashboard and headless mode both keep every completed query on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from baltui.core.config import RunConfig, run_id
from baltui.core.control import Control
from baltui.core.errors import RunCancelled
from baltui.core.events import Event, ExperimentFinished, PhaseChanged, QueryResult, RunFailed, RunFinished
from baltui.runs.results import ResultsWriter

Emit = Callable[[Event], None]


class EngineFactory(Protocol):
    """Builds one run's stream of QueryResults; the real one is baltui.core.engine.ActiveLearningRun."""

    def __call__(
        self,
        config: RunConfig,
        dataset: Any,
        strategy: str,
        seed: int,
        control: Control,
        on_phase: Callable[[PhaseChanged], None],
        resume: list[dict[str, Any]] | None,
    ) -> Iterator[QueryResult]: ...


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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
    done = max((r["query"] for r in records if r.get("type", "query") == "query"), default=-1)
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
            queries = [r for r in records if r.get("type", "query") == "query"]
            todo.append((rid, strategy, seed, queries or None))
    return todo, done


def run_experiment(
    config: RunConfig,
    dataset: Any,
    out_dir: Path,
    emit: Emit,
    control: Control,
    engine_factory: EngineFactory | None = None,
    resume: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, str]:
    """Run every (strategy, seed) of `config`, interleaved; returns each run's final state.

    `resume` maps run ids to the records already on disk; those runs continue after their last
    completed query (failed ones too) and runs already finished are not run again.
    """
    if engine_factory is None:
        from baltui.core.engine import ActiveLearningRun

        engine_factory = ActiveLearningRun
    todo, states = runs_to_do(config, resume)
    recorder = Recorder(config, out_dir, emit, states)
    streams: dict[str, Iterator[QueryResult]] = {}
    try:
        for rid, strategy, seed, queries in todo:
            streams[rid] = iter(engine_factory(config, dataset, strategy, seed, control, emit, queries))
            states[rid] = "running"
        while streams:
            for rid in list(streams):
                control.checkpoint()
                try:
                    result = next(streams[rid])
                except StopIteration:
                    del streams[rid]
                    recorder.finished(rid)
                    continue
                except RunCancelled:
                    raise
                except Exception as exc:  # one run failing must not stop the others
                    del streams[rid]
                    recorder.failed(rid, _describe(exc))
                    continue
                recorder.query(result)
    except RunCancelled:
        for rid in streams:
            states[rid] = "cancelled"
        emit(ExperimentFinished(cancelled=True))
        return states
    finally:
        recorder.close()
    emit(ExperimentFinished(cancelled=False))
    return states
