"""An experiment: every (strategy, seed) run of a config, advanced together query by query.

Interleaving the runs (one query of each in turn) makes the comparison build up side by side in the
dashboard and keeps a cancelled experiment balanced across strategies. Results are written here, not
in a consumer, so the dashboard and headless mode both keep every completed query on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from baltui.core.config import RunConfig
from baltui.core.control import Control
from baltui.core.errors import RunCancelled
from baltui.core.events import ExperimentFinished, PhaseChanged, QueryResult
from baltui.runs.recorder import Emit, Recorder, runs_to_do


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
    completed query (failed ones too) and runs already finished (or stopped by a rule still given) are not
    run again. A run ends early at the query its engine says met a stop rule.
    """
    if engine_factory is None:
        from baltui.core.engine import ActiveLearningRun

        engine_factory = ActiveLearningRun
    todo, states = runs_to_do(config, resume)
    recorder = Recorder(config, out_dir, emit, states, resume)
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
                if recorder.query(result):  # a stop rule ended the run: finished with it, nothing follows
                    del streams[rid]
    except RunCancelled:
        for rid in streams:
            states[rid] = "cancelled"
        emit(ExperimentFinished(cancelled=True))
        return states
    finally:
        recorder.close()
    emit(ExperimentFinished(cancelled=False))
    return states
