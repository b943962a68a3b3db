"""baltui from Python: run an experiment, follow its events, load a run folder, ask for the next batch to label.

    import baltui
    folder = baltui.run(strategies=["bald", "uniform"], seeds=[0, 1], queries=5, out="runs/nb")
    folder = baltui.load_run("runs/nb")
    folder.curves()            # per run: labelled counts and accuracies
    folder.summaries()         # the numbers `baltui report` prints, per strategy
    folder.to_pandas()         # one row per completed query (needs pandas)

    for event in baltui.experiment(preset="quick", queries=3, out="runs/live"):
        ...                    # QueryResult, RunFinished, RunFailed, ExperimentFinished, PhaseChanged

    batch = baltui.next_batch("photos/", labelled=["cat/1.png", "dog/7.png"], labels=["cat", "dog"],
                              strategy="bald", instances=10)   # for a labelling tool outside baltui
    batch.indices, batch.items, batch.scores

The same checks, folder layout and results as the command line (which is built on the same functions in
baltui.runs.start and baltui.executors.local); nothing here prints or imports a UI library.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from baltui.core.config import DEFAULT_PRESET, RunConfig
from baltui.core.control import Control
from baltui.core.events import Event, ExperimentFinished
from baltui.core.next_batch import NextBatch, next_batch
from baltui.runs.folder import RunFolder
from baltui.runs.start import Prepared, resume, start, start_config

__all__ = ["Experiment", "NextBatch", "experiment", "load_run", "next_batch", "run"]


def _prepare(config: RunConfig | None, preset: str | None, out: str | Path | None, resume_from: str | Path | None,
             settings: dict[str, Any], accept_changed_plugins: bool = False) -> Prepared:
    if resume_from is not None:
        return resume(resume_from, settings, accept_changed_plugins=accept_changed_plugins)
    if config is not None:
        if preset is not None or settings:
            raise TypeError("give either a RunConfig or a preset and keyword settings, not both")
        return start_config(config, out)
    return start(preset or DEFAULT_PRESET, settings, str(out) if out is not None else None)


class Experiment:
    """An experiment running in a background thread; iterate it for its events (it stops when you stop).

    Leaving the loop early (break, an exception, or `stop()`) stops the runs at their next epoch; every
    completed query is on disk by then, and `--resume` (or `baltui.run(resume=folder.path)`) continues it.
    """

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.folder: RunFolder = prepared.folder
        self.control = Control()
        self.states: dict[str, str] = {}
        self._events: queue.Queue[Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _work(self) -> None:
        from baltui.executors.local import run_experiment

        p = self.prepared
        try:
            self.states = run_experiment(p.config, p.dataset, p.out, self._events.put, self.control, resume=p.resume)
        except BaseException as exc:  # handed to the iterating thread
            self._error = exc
            self._events.put(ExperimentFinished(cancelled=True))

    def __iter__(self) -> Iterator[Event]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="baltui-experiment", daemon=True)
            self._thread.start()
        try:
            while True:
                event = self._events.get()
                yield event
                if isinstance(event, ExperimentFinished):
                    break
        finally:
            self.stop()
            self.prepared.release()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Ask the runs to stop and wait for the thread (it stops at the next epoch or phase)."""
        self.control.stop()
        if self._thread is not None:
            self._thread.join()


def experiment(config: RunConfig | None = None, *, preset: str | None = None, out: str | Path | None = None,
               resume: str | Path | None = None, accept_changed_plugins: bool = False,
               **settings: Any) -> Experiment:
    """A new (or resumed) experiment, checked and its folder made now; iterate it to run it."""
    return Experiment(_prepare(config, preset, out, resume, settings, accept_changed_plugins))


def run(config: RunConfig | None = None, *, preset: str | None = None, out: str | Path | None = None,
        resume: str | Path | None = None, accept_changed_plugins: bool = False, **settings: Any) -> RunFolder:
    """Run an experiment to the end (keyword settings as the flags: strategies=[...], seeds=[...], queries=...;
    plug-ins by name or reference, strategies=["bald", "my_pkg.scores:margin_score"]) and return its run
    folder. A bad setting raises baltui.core.errors.BaltuiError before anything slow."""
    exp = experiment(config, preset=preset, out=out, resume=resume, accept_changed_plugins=accept_changed_plugins,
                     **settings)
    for _ in exp:
        pass
    return RunFolder.open(exp.folder.path)


def load_run(path: str | Path) -> RunFolder:
    """An existing run folder (finished, interrupted or still being written)."""
    return RunFolder.open(path)
