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
from pathlib import Path
from typing import Any

from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker

from baltui.core.config import RunConfig, run_id
from baltui.core.control import Control
from baltui.core.errors import BaltuiError
from baltui.core.events import Event, ExperimentFinished, PhaseChanged, QueryResult, RunFailed, RunFinished, is_query
from baltui.executors.local import EngineFactory, run_experiment
from baltui.runs.references import PaperReference, reference_for
from baltui.ui import APP_CSS, BASE_CSS
from baltui.ui.app_base import AppBase
from baltui.ui.keys import RUN
from baltui.ui.messages import EngineEvent
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
  evaluating), elapsed time and ETA
* **test accuracy** against labelled images, and the **unlabelled pool** shrinking per query
* **acquisition scores** of the latest query over the scored pool subset (red line: the lowest score
  that was still queried); uniform has none, and badge and coreset, which pick for diversity, show what
  their first pick maximises instead (gradient-embedding norm; distance to the nearest labelled image)
* **queried digits**: the images the latest query chose, with their true label and score

The **run table** (first with more than four runs, or when the panels do not fit) has a row per run.
The **comparison** draws each strategy in its colour: mean, band, the paper's points, 90% / 95% lines.
"""


class BaltuiApp(ViewToggles, AppBase):
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
        self.sub_title = f"{config.name} · {', '.join(config.strategies)} · seeds {config.seeds} · {self.out_dir}"

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
                              show_eta=True)
        with VerticalScroll(id="main"):
            yield RunTable(id="run-table")
            with VerticalScroll(id="runs", classes="panels") as runs:
                runs.can_focus = False
                for seed in self.config.seeds:
                    for strategy in self.config.strategies:
                        yield RunPanel(run_id(strategy, seed), strategy, seed, self.config.queries)
            yield Comparison(len(self.config.seeds), reference=self._reference(), id="comparison")
            yield Static("", id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.started = time.monotonic()
        self.query_one("#runs").styles.grid_size_columns = min(2, len(self.config.run_ids))
        comparison = self.query_one(ComparisonPlot)
        for panel in self.query(RunPanel):
            comparison.plan(panel.run_id, panel.strategy)
        self.start_views()
        self._show_resumed()
        self.refresh_run_table()
        self.run_worker_experiment()
        self.set_interval(1.0, self._tick)

    def _show_resumed(self) -> None:
        """On --resume, draw the queries already on disk so curves and progress continue where they were."""
        for rid, records in (self.resume or {}).items():
            for r in sorted((r for r in records if is_query(r)), key=lambda r: r["query"]):
                result = QueryResult.from_record(r, rid)
                self.panel(rid).show_saved(result)
                self.query_one(ComparisonPlot).add(rid, result.strategy, result.n_labelled, result.accuracy)
                self.query_one(ProgressBar).advance(1)

    def previews_per_query(self) -> int:
        return self.config.instances

    def panel(self, rid: str) -> RunPanel:
        return self.query_one(f"#run-{rid}", RunPanel)

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
        event = message.event
        if isinstance(event, PhaseChanged):
            self.panel(event.run_id).on_phase(event)
        elif isinstance(event, QueryResult):
            with self.batch_update():
                self.panel(event.run_id).on_result(event)
                self.query_one(ComparisonPlot).add(event.run_id, event.strategy, event.n_labelled, event.accuracy)
                self.query_one(ProgressBar).advance(1)
                self.run_table_changed()
        elif isinstance(event, RunFailed):
            self.failed[event.run_id] = event.error
            self.exit_code = 1
            self.panel(event.run_id).on_failed(event.error)
            self._skip_progress(event.run_id)
            self.run_table_changed()
        elif isinstance(event, RunFinished):
            self.panel(event.run_id).on_finished()
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
        if cancelled:
            self._stopped_early()
            self.query_one("#overall", Static).update("stopped: every completed query is saved")
            return
        self.query_one("#summary", Static).update(self.summary_text())
        self.query_one("#overall", Static).update(
            f"[b]experiment finished[/b] in {time.monotonic() - self.started:.0f} s · results in {self.out_dir}")

    def summary_text(self) -> Table:
        """The same per-run table headless mode prints (labels to reach 90% / 95%)."""
        return summary_table(self.out_dir)

    def _tick(self) -> None:
        """Once a second: elapsed times move on even while a long epoch runs."""
        if self.done:
            return
        for panel in self.query(RunPanel):
            panel.refresh_status()
        self.refresh_run_table()
        state = "paused" if self.paused else "running"
        self.query_one("#overall", Static).update(
            f"{state} · {len(self.config.run_ids)} runs · elapsed {time.monotonic() - self.started:.0f} s")

    # ---- keys -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return not self.paused and not self.done
        if action == "resume":
            return self.paused and not self.done
        return super().check_action(action, parameters)

    def action_pause(self) -> None:
        self.control.pause()
        self.paused = True
        self._tick()

    def action_resume(self) -> None:
        self.control.resume()
        self.paused = False
        self._tick()

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
