"""An experiment: every (strategy, seed) run of a config, advanced together query by query.

Interleaving the runs (one query of each in turn) makes the comparison build up side by side in the
dashboard and keeps a cancelled experiment balanced across strategies. Results are written here, not
in a consumer, so the dashboard and headless mode both keep every completed query on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from baltui.config import RunConfig, run_id
from baltui.control import Control
from baltui.errors import RunCancelled
from baltui.events import Event, ExperimentFinished, PhaseChanged, QueryResult, RunFailed, RunFinished
from baltui.results import ResultsWriter

Emit = Callable[[Event], None]


class EngineFactory(Protocol):
    """Builds one run's stream of QueryResults; the real one is baltui.engine.ActiveLearningRun."""

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


def run_complete(records: list[dict[str, Any]], queries: int) -> bool:
    """Whether a run's records hold a finish and every query up to `queries`: a finished run resumed with
    more --queries continues, exactly as if it had been asked for them from the start."""
    done = max((r["query"] for r in records if r.get("type", "query") == "query"), default=-1)
    return done >= queries and any(r.get("type") == "run_finished" for r in records)


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
        from baltui.engine import ActiveLearningRun

        engine_factory = ActiveLearningRun
    resume = resume or {}
    writer = ResultsWriter(out_dir)
    states: dict[str, str] = {}
    streams: dict[str, Iterator[QueryResult]] = {}
    keys = {run_id(strategy, seed): {"strategy": strategy, "seed": seed}
            for seed in config.seeds for strategy in config.strategies}
    try:
        for seed in config.seeds:
            for strategy in config.strategies:
                rid = run_id(strategy, seed)
                done = resume.get(rid, [])
                if run_complete(done, config.queries):  # failed runs continue from their last query
                    states[rid] = "finished"
                    continue
                queries = [r for r in done if r.get("type", "query") == "query"]
                streams[rid] = iter(engine_factory(config, dataset, strategy, seed, control, emit, queries or None))
                states[rid] = "running"
        while streams:
            for rid in list(streams):
                control.checkpoint()
                try:
                    result = next(streams[rid])
                except StopIteration:
                    del streams[rid]
                    states[rid] = "finished"
                    writer.append({"type": "run_finished", "run_id": rid, **keys[rid]})
                    emit(RunFinished(rid))
                    continue
                except RunCancelled:
                    raise
                except Exception as exc:  # one run failing must not stop the others
                    del streams[rid]
                    states[rid] = "failed"
                    reason = _describe(exc)
                    writer.append({"type": "run_failed", "run_id": rid, "error": reason, **keys[rid]})
                    emit(RunFailed(rid, reason))
                    continue
                writer.append({"type": "query", **result.to_record()})
                emit(result)
    except RunCancelled:
        for rid in streams:
            states[rid] = "cancelled"
        emit(ExperimentFinished(cancelled=True))
        return states
    finally:
        writer.close()
    emit(ExperimentFinished(cancelled=False))
    return states
