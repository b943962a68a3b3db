"""One run (strategy, seed): status, accuracy and class-balance charts, score histogram, queried digits."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from baltui.core.acquisition import STRATEGIES
from baltui.core.config import safe_id
from baltui.core.eta import clock_text
from baltui.core.events import PhaseChanged, QueryResult, RunFinished
from baltui.ui.widgets.class_balance import ClassBalancePlot
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.histogram import histogram_title
from baltui.ui.widgets.plots import AccuracyPlot, ScoreHistogram
from baltui.ui.widgets.status import fit_parts

STATUS_LINES = 2  # the status line's height (app.tcss): every panel keeps one layout
# What a narrow status line gives up first (higher first; 0 is never left out): the elapsed time, then the
# labelled count, then the phase; the query, the accuracy and the ETA stay.
KEEP_ALWAYS, KEEP, KEEP_PHASE, KEEP_LABELLED, KEEP_ELAPSED = 0, 1, 2, 3, 4


class RunPanel(Vertical):
    """Everything about one run; fed by the app with engine events, on the UI thread only.

    It changes only through its own methods: an app calls them and reads its fields, never sets them.
    `clock` is the app's: an ActiveClock's `now`, which stands still while the experiment is paused."""

    def __init__(self, run_id: str, strategy: str, seed: int, queries: int,
                 class_names: Sequence[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 **kwargs) -> None:
        super().__init__(id=self.widget_id(run_id), classes="run-panel", **kwargs)
        self.clock = clock
        self.run_id = run_id
        self.class_names = class_names  # the previews' labels by name (an image folder's classes), else by index
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
        self.resumed = 0  # results shown from disk on --resume
        self.eta: float | None = None  # seconds until its last query, as the app's EtaModel says

    @staticmethod
    def widget_id(run_id: str) -> str:
        """The panel's id: a plug-in strategy's run id may hold what Textual refuses in an id ('.')."""
        return f"run-{safe_id(run_id)}"

    def compose(self) -> ComposeResult:
        yield Static("waiting to start...", classes="status")
        with Horizontal(classes="charts"):
            yield AccuracyPlot("test accuracy", "labelled images", classes="accuracy")
            yield ClassBalancePlot(self.class_names, classes="balance")
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
            self.started = self.clock()
        self.current_query = event.query
        if event.phase == "training" and event.epochs:
            self.phase = f"training epoch {event.epoch}/{event.epochs}"
        else:
            self.phase = event.phase
        self.refresh_status()

    def on_result(self, result: QueryResult) -> None:
        if self.started is None:
            self.started = self.clock()
        self.results.append(result)
        self.current_query = max(self.current_query, result.query)
        self.query_one(".accuracy", AccuracyPlot).add(result.n_labelled, result.accuracy)
        self.query_one(ClassBalancePlot).show(result.labelled_per_class)
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

    def show_saved_extras(self, record: dict[str, Any], images: np.ndarray | None) -> None:
        """What results.jsonl keeps of a saved query beyond its curves (--resume, watch): its score histogram,
        binned by the writer, and its queried images (taken from the run's data by index, when loaded)."""
        histograms = self.query(ScoreHistogram)
        if histograms and record.get("score_histogram"):
            histograms.first().show_binned(record["score_histogram"])
        if int(record.get("query", 0)) > 0 and images is not None:
            self.show_previews(images, [int(v) for v in record.get("queried_labels") or []],
                               record.get("queried_scores"))

    def start_clock(self, ago: float = 0.0) -> None:
        """Time the run from `ago` seconds back, unless it is timed already."""
        if self.started is None:
            self.started = self.clock() - max(0.0, ago)

    def show_eta(self, seconds: float | None) -> None:
        """Seconds until the run's last query (None: not known yet, or nothing left)."""
        self.eta = seconds

    def show_previews(self, images: np.ndarray | None, labels: list[int], scores: list[float] | None) -> None:
        self.query_one(DigitPreviews).show(images, labels, scores, self.class_names)

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

    def on_finished(self, event: RunFinished | None = None) -> None:
        """The run's end: 'finished', or 'stopped: <rule> at query k' when a stop rule ended it early."""
        self.finished = True
        self.add_class("-finished")
        stopped = event is not None and event.stopped is not None
        self.border_subtitle = "stopped" if stopped else "finished"
        self.phase = f"[b $accent]{escape(event.text())}[/]" if stopped else "finished"
        self.refresh_status()

    # ---- status ---------------------------------------------------------------------------------
    def seconds_per_query(self) -> float | None:
        """This session's pace: active (unpaused) time over the queries completed in it (two at least)."""
        new = len(self.results) - self.resumed
        if self.started is None or new < 2:
            return None
        return (self.clock() - self.started) / new

    def eta_seconds(self) -> float | None:
        """The cost model's time left (the app's EtaModel), for a run still going; the run table shows it."""
        return None if self.finished or self.error else self.eta

    def status_parts(self) -> list[tuple[str, int]]:
        """The status line's items (markup) with the rank `fit_parts` leaves them out by on a narrow panel."""
        if self.error:
            return [(f"[b red]failed:[/] {self.error}", KEEP_ALWAYS)]
        last = self.results[-1] if self.results else None
        parts = [(f"query {max(self.current_query, 0)} of {self.queries}", KEEP_ALWAYS)]
        if last:
            parts.append((f"labelled {last.n_labelled}", KEEP_LABELLED))
            parts.append((f"acc [b]{last.accuracy:.4f}[/b]", KEEP))
        parts.append((self.phase, KEEP_PHASE))
        if self.started is not None:
            parts.append((f"elapsed {clock_text(self.clock() - self.started)}", KEEP_ELAPSED))
        if self.eta is not None and not self.finished:
            parts.append((f"ETA {clock_text(self.eta)}", KEEP))
        return parts

    def status_text(self) -> str:
        return " · ".join(text for text, _ in self.status_parts())

    def refresh_status(self) -> None:
        found = self.query(".status")
        if not found:  # a tick or a message before the panel's children are mounted: on_resize draws it
            return
        status = found.first(Static)
        parts = [(Content.from_markup(text), rank) for text, rank in self.status_parts()]
        status.update(fit_parts(parts, status.content_size.width, STATUS_LINES))

    def on_resize(self) -> None:
        self.refresh_status()  # re-packed for the new width
