"""`baltui --no-ui`: the experiment in the terminal's scrollback, one line per query.

A consumer of the same event stream as the dashboard. Ctrl+C or SIGTERM asks the engine to stop at
the next epoch; every completed query is already on disk by then.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from baltui.aggregate import STD_NOTE, THRESHOLDS, summarise
from baltui.config import RunConfig
from baltui.control import Control
from baltui.events import Event, ExperimentFinished, QueryResult, RunFailed, RunFinished
from baltui.experiment import EngineFactory, run_experiment
from baltui.results import curves, read_records


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
            self.console.print(f"[dim]{escape(f'[{event.run_id}]')} finished[/dim]", highlight=False)
        elif isinstance(event, ExperimentFinished) and event.cancelled:
            self.console.print("[yellow]stopped: every completed query is saved[/yellow]")


def summary_table(out_dir: Path) -> Table:
    """Per run: final and mean accuracy, and labels needed to reach 90% / 95% test accuracy."""
    table = Table(title="Summary", title_justify="left")
    for column in ("run", "queries", "labelled", "final acc", "mean acc", "labels to 90%", "labels to 95%"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for rid, curve in curves(read_records(out_dir)).items():
        reach = [curve.labels_to_reach(t) for t in THRESHOLDS]
        table.add_row(
            rid + (" (failed)" if curve.failed else ""),
            str(max(len(curve.accuracy) - 1, 0)),
            str(curve.n_labelled[-1]) if curve.n_labelled else "-",
            f"{curve.final_accuracy:.4f}" if curve.final_accuracy is not None else "-",
            f"{curve.mean_accuracy:.4f}" if curve.mean_accuracy is not None else "-",
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
    for column in ("strategy", "runs", "final acc (at labels)", "labels to 90%", "labels to 95%", "AUC"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for s in summaries:
        final = f"{s.final_text()} ({s.final_at})" if s.final_at is not None else "-"
        table.add_row(s.strategy, s.runs_text(), final, s.reach[0].text(), s.reach[1].text(),
                      f"{s.auc:.4f}" if s.auc is not None else "-")
    return table


def run_headless(
    config: RunConfig,
    dataset: Any,
    out_dir: Path,
    resume: dict[str, list[dict[str, Any]]] | None = None,
    engine_factory: EngineFactory | None = None,
    console: Console | None = None,
) -> int:
    """Run the experiment; exit code 0 when every run finished, 1 if any failed, 130 if stopped."""
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:  # piped or logged: keep the summary table readable
            console = Console(highlight=False, width=max(console.width, 120))
    control = Control()
    printer = HeadlessPrinter(console)
    started = time.perf_counter()

    def on_signal(signum: int, frame: object) -> None:
        if control.stopped:  # a second Ctrl+C: stop waiting for the epoch to end
            raise KeyboardInterrupt
        console.print(f"[yellow]{signal.Signals(signum).name}: stopping after the current epoch...[/yellow]")
        control.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    what = "resuming" if resume else "running"
    console.print(
        f"baltui {what} '{config.name}' on {dataset.name} ({len(dataset.y_pool)} pool, {len(dataset.y_test)} test): "
        f"{', '.join(config.strategies)} x seeds {', '.join(map(str, config.seeds))}, {config.queries} queries of "
        f"{config.instances}; results in {out_dir}",
        highlight=False,
    )
    try:
        states = run_experiment(config, dataset, out_dir, printer, control, engine_factory, resume)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    console.print(summary_table(out_dir))
    by_strategy = strategy_table(out_dir)
    if by_strategy is not None:
        console.print(by_strategy)
    console.print(f"results: {out_dir / 'results.jsonl'} ({time.perf_counter() - started:.0f} s)", highlight=False)
    if "failed" in states.values():
        return 1
    if "cancelled" in states.values():
        console.print(f"continue with: baltui --resume {out_dir} --no-ui", highlight=False)
        return 130
    return 0
