"""`baltui --no-ui`: the experiment in the terminal's scrollback, one line per query.

A consumer of the same event stream as the dashboard. Ctrl+C, SIGTERM or SIGHUP asks the engine to stop
at the next epoch; every completed query is already on disk by then, and the process leaves within
STOP_GRACE_S even when the phase in progress cannot be interrupted.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from baltui.core.config import RunConfig
from baltui.core.control import Control
from baltui.core.eta import clock_text
from baltui.core.events import Event, ExperimentFinished, QueryResult, RunFailed, RunFinished
from baltui.executors.local import EngineFactory, run_experiment
from baltui.runs.next_steps import next_steps
from baltui.ui.leaving import exit_process, run_stoppable
from baltui.ui.tables import strategy_table, summary_table


class HeadlessPrinter:
    """Turns events into the seed notebook's lines: `Accuracy after query 3: 0.8123`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.failed: dict[str, str] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, QueryResult):
            seconds = event.acquisition_s + event.training_s + event.evaluation_s
            label = "Initial accuracy" if event.query == 0 else f"Accuracy after query {event.query}"
            self.console.print(
                f"[bold]{escape(f'[{event.strategy} seed {event.seed}]')}[/bold] {label}: {event.accuracy:.4f} "
                f"(labelled {event.n_labelled}, pool {event.pool_size}, {seconds:.1f} s)",
                highlight=False,
            )
        elif isinstance(event, RunFailed):
            self.failed[event.run_id] = event.error
            tag = escape(f"[{event.run_id}]")
            self.console.print(f"[bold red]{tag} failed:[/bold red] {escape(event.error)}", highlight=False)
        elif isinstance(event, RunFinished):
            style = "dim" if event.stopped is None else "cyan"
            self.console.print(f"[{style}]{escape(f'[{event.run_id}]')} {escape(event.text())}[/{style}]",
                               highlight=False)
        elif isinstance(event, ExperimentFinished) and event.cancelled:
            self.console.print("[yellow]stopped: every completed query is saved[/yellow]")


def run_headless(
    config: RunConfig,
    dataset: Any,
    out_dir: Path,
    resume: dict[str, list[dict[str, Any]]] | None = None,
    engine_factory: EngineFactory | None = None,
    console: Console | None = None,
    executor: Callable[..., dict[str, str]] | None = None,
) -> int:
    """Run the experiment; exit code 0 when every run finished, 1 if any failed, 130 if stopped.

    `executor` runs the grid instead of run_experiment (same signature), e.g. a RayExecutor.
    """
    run = executor or run_experiment
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:  # piped or logged: keep the summary table readable
            console = Console(highlight=False, width=max(console.width, 120))
    control = Control()
    printer = HeadlessPrinter(console)
    started = time.perf_counter()

    def on_signal(signum: int) -> None:
        console.print(f"[yellow]{signal.Signals(signum).name}: stopping after the current epoch...[/yellow]")

    def emit(event: Event) -> None:
        try:
            printer(event)
        except OSError:  # the terminal was closed or the pipe is gone: stop; every result is on disk
            control.stop()

    what = "resuming" if resume else "running"
    console.print(
        f"baltui {what} '{config.name}' on {data_name(config, dataset)} ({len(dataset.y_pool)} pool, "
        f"{len(dataset.y_test)} test{escape(_classes(dataset))}): "
        f"{', '.join(config.strategies)} x seeds {', '.join(map(str, config.seeds))}, {config.queries} queries of "
        f"{config.instances}; results in {out_dir}",
        highlight=False,
    )
    # The experiment runs in a thread; this one handles SIGINT/SIGTERM/SIGHUP and never waits more than
    # STOP_GRACE_S after a stop for a phase that cannot be interrupted.
    ended, states = run_stoppable(
        lambda: run(config, dataset, out_dir, emit, control, engine_factory, resume), control, on_signal)
    if not ended:  # a phase that cannot be interrupted is still running; nothing of it is on disk yet
        code = 130
    else:
        assert states is not None
        code = 1 if "failed" in states.values() else 130 if "cancelled" in states.values() else 0
    try:
        _print_end(console, out_dir, started)
        if not ended:  # else the printer said so on ExperimentFinished
            console.print("[yellow]stopped: every completed query is saved[/yellow]")
        for line in next_steps(out_dir, headless=True):  # the dashboard and watch print the same on leaving
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    except OSError:  # the terminal is gone (SIGHUP); the results are on disk
        pass
    if control.stopped:  # a signal or a closed terminal: leave now, not after TensorFlow's slow teardown
        exit_process(code)
    return code


def _classes(dataset: Any, shown: int = 10) -> str:
    """', classes cat, dog, bird' for data that names its classes (an image folder), else ''."""
    names = getattr(dataset, "class_names", None)
    if not names:
        return ""
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return f", classes {', '.join(names[:shown])}{more}"


def _print_end(console: Console, out_dir: Path, started: float) -> None:
    console.print(summary_table(out_dir))
    by_strategy = strategy_table(out_dir)
    if by_strategy is not None:
        console.print(by_strategy)
    console.print(f"results: {out_dir / 'results.jsonl'} ({clock_text(time.perf_counter() - started)})",
                  highlight=False, soft_wrap=True)


def data_name(config: RunConfig, dataset: Any) -> str:
    """The data as the user named it: the file given (--data) or the data set's name, and its recipe, if any;
    never a name guessed from the images' shape."""
    name = str(config.data) if config.data else dataset.name
    recipe = getattr(config, "recipe", "none")
    return f"{name} (recipe {recipe})" if recipe and recipe != "none" else name
