"""One run (strategy, seed): status, accuracy and pool charts, score histogram, queried digits."""

from __future__ import annotations

import time

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from baltui.core.acquisition import STRATEGIES
from baltui.core.events import PhaseChanged, QueryResult
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.histogram import histogram_title
from baltui.ui.widgets.plots import AccuracyPlot, LinePlot, ScoreHistogram
from baltui.ui.widgets.status import pack_parts


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class RunPanel(Vertical):
    """Everything about one run; fed by the app with engine events, on the UI thread only.

    It changes only through its own methods: an app calls them and reads its fields, never sets them."""

    def __init__(self, run_id: str, strategy: str, seed: int, queries: int, **kwargs) -> None:
        super().__init__(id=f"run-{run_id}", classes="run-panel", **kwargs)
        self.run_id = run_id
        self.strategy = strategy
        self.seed = seed
        self.queries = queries
        self.border_title = f"{strategy} · seed {seed}"
        self.phase = "waiting"
        self.current_query = 0
        self.results: list[QueryResult] = []
        self.started: float | None = None
        self.error: str | None = None
        self.finished = False
        self.resumed = 0  # results shown from disk on --resume: not part of this session's pace

    def compose(self) -> ComposeResult:
        yield Static("waiting to start...", classes="status")
        with Horizontal(classes="charts"):
            yield AccuracyPlot("test accuracy", "labelled images", classes="accuracy")
            yield LinePlot("unlabelled pool", "query", y_integer=True, classes="pool")
        acquisition = STRATEGIES.get(self.strategy)
        if acquisition is not None and not acquisition.has_scores:
            yield Static(f"{self.strategy} picks pool images without scoring them: no acquisition scores to show.",
                         classes="no-scores")
        else:
            yield ScoreHistogram(histogram_title(self.strategy), classes="histogram")
        yield DigitPreviews(classes="digits")

    # ---- events ---------------------------------------------------------------------------------
    def on_phase(self, event: PhaseChanged) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.current_query = event.query
        if event.phase == "training" and event.epochs:
            self.phase = f"training epoch {event.epoch}/{event.epochs}"
        else:
            self.phase = event.phase
        self.refresh_status()

    def on_result(self, result: QueryResult) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.results.append(result)
        self.query_one(".accuracy", AccuracyPlot).add(result.n_labelled, result.accuracy)
        self.query_one(".pool", LinePlot).add(result.query, result.pool_size)
        if result.scores is not None and len(result.scores):
            self.query_one(ScoreHistogram).show(result.scores, result.queried_scores)
        if result.query > 0:
            self.show_previews(result.queried_images, result.queried_labels, result.queried_scores)
        self.phase = "done" if result.query >= self.queries else "waiting for the other runs"
        self.refresh_status()

    def show_saved(self, result: QueryResult) -> None:
        """A query completed in an earlier session (--resume): drawn like a new one, not timed."""
        self.on_result(result)
        self.resumed += 1
        self.started = None

    def start_clock(self, ago: float = 0.0) -> None:
        """Time the run from `ago` seconds back, unless it is timed already (the watcher paces a run from the
        folder's previous row, so the ETA is right at once)."""
        if self.started is None:
            self.started = time.monotonic() - max(0.0, ago)

    def show_previews(self, images: np.ndarray | None, labels: list[int], scores: list[float] | None) -> None:
        self.query_one(DigitPreviews).show(images, labels, scores)

    def say_in_previews(self, text: Text) -> None:
        """A message where the digit previews go (why there are none)."""
        self.query_one(DigitPreviews).update(text)

    def reopen(self) -> None:
        """The run goes on after its run_failed or run_finished record (it was resumed)."""
        self.error, self.finished, self.border_subtitle = None, False, ""
        self.remove_class("-failed", "-finished")

    def on_failed(self, error: str) -> None:
        self.error = error
        self.add_class("-failed")
        self.border_subtitle = "failed"
        self.refresh_status()

    def mark_selected(self, selected: bool) -> None:
        """The run picked in the run table (Enter): its border stands out among the panels."""
        self.set_class(selected, "-selected")

    def on_finished(self) -> None:
        self.finished = True
        self.add_class("-finished")
        self.border_subtitle = "finished"
        self.phase = "finished"
        self.refresh_status()

    # ---- status ---------------------------------------------------------------------------------
    def seconds_per_query(self) -> float | None:
        """This session's pace: elapsed time over the queries completed in it (two at least), else None."""
        new = len(self.results) - self.resumed
        if self.started is None or new < 2:
            return None
        return (time.monotonic() - self.started) / new

    def eta_seconds(self) -> float | None:
        """Time left at this session's pace, for a run still going; the status line and the run table show it."""
        pace = self.seconds_per_query()
        if pace is None or self.finished or self.error:
            return None
        done = self.results[-1].query if self.results else -1
        return pace * (self.queries - done)

    def status_text(self) -> str:
        if self.error:
            return f"[b red]failed:[/] {self.error}"
        last = self.results[-1] if self.results else None
        parts = [f"query {max(self.current_query, 0)} of {self.queries}"]
        if last:
            parts.append(f"labelled {last.n_labelled}")
            parts.append(f"acc [b]{last.accuracy:.4f}[/b]")
        parts.append(self.phase)
        if self.started is not None:
            elapsed = time.monotonic() - self.started
            parts.append(f"elapsed {clock(elapsed)}")
            eta = self.eta_seconds()
            if eta is not None:
                parts.append(f"ETA {clock(eta)}")
        return " · ".join(parts)

    def refresh_status(self) -> None:
        status = self.query_one(".status", Static)
        status.update(pack_parts(Content.from_markup(self.status_text()), status.content_size.width))

    def on_resize(self) -> None:
        self.refresh_status()  # re-packed for the new width
