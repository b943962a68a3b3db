"""BaltuiApp: runs the experiment in a thread worker and draws its events live.

The worker only calls run_experiment and posts each event as an EngineEvent message; every widget
update happens in the message handler on the UI thread.

Every way out (q, Ctrl+Q, Ctrl+C, the command palette's Quit, SIGINT, SIGTERM, SIGHUP) takes AppBase's one
path: stop the runs, leave when the worker has ended or STOP_GRACE_S later, and then leave the process even
if the worker is still inside a phase it cannot interrupt. As in headless mode, the exit code is 0 when
every run finished, 1 if one failed, 130 when the experiment was stopped before its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker

from baltui.core.config import RunConfig, run_id
from baltui.core.control import Control
from baltui.core.errors import BaltuiError
from baltui.core.eta import ActiveClock, EtaModel, clock_text, cost_grows
from baltui.core.events import Event, ExperimentFinished, PhaseChanged, QueryResult, RunFailed, RunFinished, is_query
from baltui.executors.local import EngineFactory, run_experiment
from baltui.runs.next_steps import next_steps
from baltui.runs.recorder import run_complete, stopped_by
from baltui.runs.references import PaperReference, reference_for
from baltui.ui import APP_CSS, BASE_CSS
from baltui.ui.app_base import AppBase
from baltui.ui.keys import RUN
from baltui.ui.messages import EngineEvent
from baltui.ui.screens.insight import InsightKey
from baltui.ui.tables import summary_table
from baltui.ui.view_toggles import ViewToggles
from baltui.ui.widgets.comparison import Comparison
from baltui.ui.widgets.plots import ComparisonPlot
from baltui.ui.widgets.run_panel import RunPanel
from baltui.ui.widgets.run_table import RunTable

PHASE_INTERVAL_S = 0.1  # at most ~10 status updates a second per run from training epochs


HELP = """\
# baltui

Each **panel** is one run (acquisition strategy x seed), all advancing together query by query:

* **status**: query k of N, labelled images, test accuracy, phase (training epoch e/E, acquiring,
  evaluating), elapsed time and ETA (a narrow panel drops elapsed, labelled and phase first). The ETA
  adds up the queries left at a cost per query fitted to the run's queries so far (after `--resume`,
  the recorded ones too): a + b x labelled images where each query trains a fresh model on all of them, a
  constant where an epoch is a fixed number of draws. Paused time counts neither as elapsed nor in an ETA.
  The bar's ETA is the last run's.
* **test accuracy** against labelled images, and the labelled set's **class balance** (images per class
  after the latest query: a strategy that keeps asking for a few classes shows at once)
* **acquisition scores** of the latest query over the scored pool subset (red line: the lowest score
  that was still queried); uniform has none, and badge and coreset, which pick for diversity, show what
  their first pick maximises instead (gradient-embedding norm; distance to the nearest labelled image)
* **queried digits**: the images the latest query chose, with their true label (an image folder's class
  name) and score

The **run table** (first with more than four runs, or when the panels do not fit) has a row per run.
The **comparison** draws each strategy in its colour: mean, band, the paper's points, 90% / 95% lines.

The **summary** at the end has, per run, **AUC**: the area under the learning curve (test accuracy against
labelled images) divided by the labelled range, a mean accuracy that weighs every label alike; `baltui
report` calls it the same and computes it the same way.

The screen **scrolls** (mouse wheel, arrows, Page Up/Down) where it is taller than the terminal. On the way
out (`q`, Ctrl+C, or after the end) the run folder and the commands to resume and to report it are printed.
"""


class BaltuiApp(ViewToggles, InsightKey, AppBase):
    """The dashboard: one RunPanel per run, a comparison chart, status, progress and summary."""

    APP = RUN
    CSS_PATH = [BASE_CSS, APP_CSS]
    TITLE = "baltui"
    HELP_INTRO = HELP
    WAITS_FOR_WORK = True  # the screen says "stopping..." until the runs have stopped

    paused: reactive[bool] = reactive(False, bindings=True)

    def __init__(
        self,
        config: RunConfig,
        out_dir: Path,
        engine_factory: EngineFactory | None = None,
        dataset: Any = None,
        resume: dict[str, list[dict[str, Any]]] | None = None,
        executor: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.executor = executor  # runs the grid instead of run_experiment (same signature), e.g. a RayExecutor
        self.config = config
        self.out_dir = Path(out_dir)
        self.engine_factory = engine_factory
        self.dataset = dataset
        self.resume = resume
        self.control = Control()
        self.done = False
        self.failed: dict[str, str] = {}
        self._last_phase: dict[str, float] = {}
        self.clock = ActiveClock(clock)  # stands still while paused: elapsed times and ETAs leave pauses out
        self._paused_mark: dict[str, float] = {}  # paused seconds so far at the last completion (see _compute)
        initial = config.initial_per_class * dataset.n_classes if dataset is not None else None
        self.eta = EtaModel(config.run_ids, config.queries, config.instances, grows=cost_grows(config.epoch_draws),
                            slots=self._slots(executor, len(config.run_ids)), initial=initial)
        self.sub_title = self._header(10_000)

    def _header(self, width: int) -> str:
        """The header's line: preset, strategies, seeds and the run folder; where that is too long for `width`,
        the strategies are counted and the folder keeps its end (its own name), so it is never what is lost."""
        c = self.config
        seeds = f"seed{'s' if len(c.seeds) > 1 else ''} {', '.join(map(str, c.seeds))}"
        folder = str(self.out_dir)
        full = f"{c.name} · {', '.join(c.strategies)} · {seeds} · {folder}"
        if len(full) <= width:
            return full
        short = f"{c.name} · {len(c.strategies)} strategies · {seeds} · "
        room = width - len(short)
        if room >= len(folder):
            return short + folder
        return short + "…" + folder[-max(room - 1, 12):]

    def on_resize(self, event: events.Resize) -> None:
        self.sub_title = self._header(event.size.width - 18 - len(self.TITLE) - 3)  # Header: icon 8, clock 10, " — "

    @staticmethod
    def _slots(executor: Any, runs: int) -> int:
        """Runs computing at once: one in process (they take turns), the executor's workers otherwise."""
        if executor is None:
            return 1
        return max(1, min(runs, getattr(executor, "workers", None) or runs))

    # ---- layout ---------------------------------------------------------------------------------
    def _reference(self) -> PaperReference | None:
        """The paper whose points belong beside these runs: by the data's content, never its name."""
        if self.dataset is None:
            return None
        return reference_for(self.dataset.content_sha256, self.config.initial_per_class * self.dataset.n_classes,
                             self.config.model, self.config.initial_set)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield Static("starting...", id="overall")
            yield ProgressBar(total=len(self.config.run_ids) * (self.config.queries + 1), id="progress",
                              show_eta=False)  # Textual's own guess assumes every query costs the same
            yield Static("", id="eta")
        with VerticalScroll(id="main"):
            yield RunTable(id="run-table")
            with VerticalScroll(id="runs", classes="panels") as runs:
                runs.can_focus = False
                for seed in self.config.seeds:
                    for strategy in self.config.strategies:
                        yield RunPanel(run_id(strategy, seed), strategy, seed, self.config.queries,
                                       class_names=getattr(self.dataset, "class_names", None), clock=self.clock.now)
            yield Comparison(len(self.config.seeds), reference=self._reference(), id="comparison")
            yield Static("", id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.started = self.clock.now()
        self.query_one("#runs").styles.grid_size_columns = min(2, len(self.config.run_ids))
        comparison = self.query_one(ComparisonPlot)
        for panel in self.query(RunPanel):
            comparison.plan(panel.run_id, panel.strategy)
        self.start_views()
        self._show_resumed()
        self.refresh_run_table()
        self.run_worker_experiment()
        self.set_interval(1.0, self.tick)

    def _show_resumed(self) -> None:
        """On --resume, draw the queries already on disk so curves, progress and ETAs continue where they were:
        each run's latest histogram and queried digits too, and the runs already finished as finished."""
        for rid, records in (self.resume or {}).items():
            if rid not in self.config.run_ids:
                continue
            queries = sorted((r for r in records if is_query(r)), key=lambda r: r["query"])
            panel = self.panel(rid)
            for r in queries:
                result = QueryResult.from_record(r, rid)
                panel.show_saved(result)
                self.eta.add(rid, result.query, result.n_labelled, _seconds(result))
                self.query_one(ComparisonPlot).add(rid, result.strategy, result.n_labelled, result.accuracy)
                self.query_one(ProgressBar).advance(1)
            if queries:
                panel.show_saved_extras(queries[-1], self._saved_images(queries[-1]))
            stop = stopped_by(records)
            if stop is not None and stop[0] in self.config.stop_when:  # stays stopped: --resume leaves it be
                panel.on_finished(RunFinished(rid, *stop))
                self._skip_progress(rid)
                self.eta.end(rid)
            elif run_complete(records, self.config.queries, self.config.stop_when):
                panel.on_finished()
                self.eta.end(rid)
        self.eta.begin_session()
        self._show_times()

    def _saved_images(self, record: dict[str, Any]) -> Any:
        """A saved query's images, from the run's data by index (None without the data, or out of its range)."""
        indices = [int(i) for i in record.get("queried_indices") or []]
        if self.dataset is None or not indices or max(indices) >= len(self.dataset.x_pool):
            return None
        from baltui.core.data import preview_images

        return preview_images(self.dataset, indices)

    def previews_per_query(self) -> int:
        return self.config.instances

    def panel(self, rid: str) -> RunPanel:
        return self.query_one(f"#{RunPanel.widget_id(rid)}", RunPanel)

    # ---- the worker -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, name="experiment", group="experiment")
    def run_worker_experiment(self) -> dict[str, str]:
        """Runs in a thread: loads data if needed, runs every run, posts events. Touches no widget."""
        self.worker_busy.set()
        try:
            if self.control.stopped:  # quit before the thread started
                return {}
            dataset = self.dataset
            if dataset is None:
                from baltui.core.data import load_dataset

                dataset = load_dataset(self.config)
            return (self.executor or run_experiment)(self.config, dataset, self.out_dir, self._emit, self.control,
                                                     self.engine_factory, self.resume)
        finally:
            self.worker_busy.clear()

    def _emit(self, event: Event) -> None:
        """Called on the worker thread: thin out epoch updates, then hand the event to the UI."""
        if isinstance(event, PhaseChanged) and event.phase == "training" and 0 < event.epoch < event.epochs:
            now = time.monotonic()
            if now - self._last_phase.get(event.run_id, 0.0) < PHASE_INTERVAL_S:
                return
            self._last_phase[event.run_id] = now
        self.post_message(EngineEvent(event))

    @on(EngineEvent)
    def handle_engine_event(self, message: EngineEvent) -> None:
        if self.closing:  # a result the worker posted while the screen was closing: it is on disk already
            return
        event = message.event
        if isinstance(event, PhaseChanged):
            self.eta.start(self.clock.now())  # the first query is in progress from here (data and model loaded)
            self.panel(event.run_id).on_phase(event)
        elif isinstance(event, QueryResult):
            self.eta.add(event.run_id, event.query, event.n_labelled, self._compute(event), at=self.clock.now())
            with self.batch_update():
                self.panel(event.run_id).on_result(event)
                self.query_one(ComparisonPlot).add(event.run_id, event.strategy, event.n_labelled, event.accuracy)
                self.query_one(ProgressBar).advance(1)
                self._show_times()
                self.run_table_changed()
        elif isinstance(event, RunFailed):
            self.failed[event.run_id] = event.error
            self.exit_code = 1
            self.eta.end(event.run_id)
            self.panel(event.run_id).on_failed(event.error)
            self._skip_progress(event.run_id)
            self._show_times()
            self.run_table_changed()
        elif isinstance(event, RunFinished):
            self.eta.end(event.run_id)
            self.panel(event.run_id).on_finished(event)
            if event.stopped is not None:  # the queries it will never run
                self._skip_progress(event.run_id)
            self._show_times()
            self.run_table_changed()
        elif isinstance(event, ExperimentFinished):
            self.finish(event.cancelled)
            self.refresh_run_table()

    def _skip_progress(self, rid: str) -> None:
        panel = self.panel(rid)
        done = len(panel.results)
        self.query_one(ProgressBar).advance(self.config.queries + 1 - done)

    def worker_failed(self, worker: Worker, text: str) -> None:
        if worker.name != "experiment":
            return
        self.exit_code = 2 if isinstance(worker.error, BaltuiError) else 1
        self.query_one("#overall", Static).update(f"[b red]experiment stopped:[/] {escape(text)}")
        self.done = True

    # ---- end of the experiment ------------------------------------------------------------------
    def finish(self, cancelled: bool) -> None:
        self.done = True
        self.refresh_bindings()
        self.query_one("#eta", Static).update("")
        if cancelled:
            self._stopped_early()
            self.query_one("#overall", Static).update("stopped: every completed query is saved")
            return
        self.query_one("#summary", Static).update(self.summary_text())
        self.query_one(ProgressBar).display = False  # the whole width for the line that names the folder
        took = clock_text(self.clock.now() - self.started)
        self.query_one("#overall", Static).update(f"[b]finished[/b] in {took} · results in {escape(str(self.out_dir))}")

    def summary_text(self) -> Table:
        """The same per-run table headless mode prints (labels to reach 90% / 95%)."""
        return summary_table(self.out_dir)

    def tick(self) -> None:
        """Once a second: elapsed times and ETAs move on even while a long epoch runs (not while paused)."""
        if self.done:
            return
        self._show_times()
        self.refresh_run_table()
        state = "paused" if self.paused else "running"
        self.query_one("#overall", Static).update(
            f"{state} · elapsed {clock_text(self.clock.now() - self.started)}")

    def _compute(self, result: QueryResult) -> float:
        """A query's seconds without the pauses it waited through: the engine's clock runs on while a paused run
        waits at an epoch's checkpoint, and a pause must not make the runs look slower. Where the runs take
        turns, a pause falls in the one query then computing; in parallel slots, in each run's own."""
        key = "*" if self.eta.slots == 1 else result.run_id
        paused = self.clock.paused_total()
        during = paused - self._paused_mark.get(key, 0.0)
        self._paused_mark[key] = paused
        return max(0.0, _seconds(result) - during)

    def _show_times(self) -> None:
        """Every panel's ETA and the bar's (the last run's), from the one EtaModel: the bar and the panels agree."""
        if self.done:
            return
        remaining = self.eta.remaining(self.clock.now())
        for panel in self.query(RunPanel):
            panel.show_eta(remaining.get(panel.run_id))
            panel.refresh_status()
        self.query_one("#eta", Static).update(f"ETA {clock_text(max(remaining.values()))}" if remaining else "")

    # ---- keys -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return not self.paused and not self.done
        if action == "resume":
            return self.paused and not self.done
        return super().check_action(action, parameters)

    def action_pause(self) -> None:
        self.control.pause()
        self.clock.pause()
        self.paused = True
        self.tick()

    def action_resume(self) -> None:
        self.control.resume()
        self.clock.resume()
        self.paused = False
        self.tick()

    def stop_work(self) -> None:
        """Stop the runs at their next epoch; every completed query is already on disk."""
        self.control.stop()

    def quit_started(self) -> None:
        if not self.done:
            self._stopped_early()
            if self.worker_busy.is_set():
                self.query_one("#overall", Static).update("stopping after the current epoch...")

    def _stopped_early(self) -> None:
        """The experiment ends before its last query: 130, as headless mode (a failed run's 1 stands)."""
        if self.exit_code == 0:
            self.exit_code = 130

    def screenshot_folder(self) -> Path:
        return self.out_dir

    def farewell(self) -> list[str]:
        """The run folder and how to resume (if unfinished) and report it, as headless mode prints them."""
        return next_steps(self.out_dir)


def _seconds(result: QueryResult) -> float:
    """A query's own compute, as results.jsonl records it."""
    return result.acquisition_s + result.training_s + result.evaluation_s
