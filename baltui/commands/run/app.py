"""BaltuiApp: runs the experiment in a thread worker and draws its events live.

The worker only calls run_experiment and posts each event as an EngineEvent message; every widget
update happens in the message handler on the UI thread.

Every way out (q, Ctrl+Q, the command palette's Quit, SIGINT, SIGTERM, SIGHUP) goes through
action_quit: stop the runs, leave when the worker has ended or STOP_GRACE_S later, and then leave the
process even if the worker is still inside a phase it cannot interrupt (see baltui.core.control).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rich.table import Table
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker, WorkerState

from baltui.core.config import RunConfig, run_id
from baltui.core.control import Control
from baltui.core.events import Event, ExperimentFinished, PhaseChanged, QueryResult, RunFailed, RunFinished
from baltui.executors.local import EngineFactory, run_experiment
from baltui.runs.references import PaperReference, reference_for
from baltui.ui import APP_CSS
from baltui.ui.leaving import STOP_GRACE_S, LeavesCleanly
from baltui.ui.messages import EngineEvent
from baltui.ui.screens.help import HelpScreen
from baltui.ui.tables import summary_table
from baltui.ui.view_toggles import ViewToggles
from baltui.ui.widgets.plots import ComparisonPlot
from baltui.ui.widgets.run_panel import RunPanel

PHASE_INTERVAL_S = 0.1  # at most ~10 status updates a second per run from training epochs


class BaltuiApp(LeavesCleanly, ViewToggles, App[int]):
    """The dashboard: one RunPanel per run, a comparison chart, status, progress and summary."""

    CSS_PATH = APP_CSS
    TITLE = "baltui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("p", "resume", "Resume", id="resume"),
        Binding("s", "screenshot", "Screenshot", id="screenshot"),
        Binding("d", "toggle_digits", "Digits", id="digits"),
        Binding("c", "toggle_comparison", "Compare", id="compare"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
    ]

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
        self.exit_code = 0
        self.done = False
        self.quitting = False
        self.worker_busy = threading.Event()  # set while the experiment thread is inside run_experiment
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
            with VerticalScroll(id="runs") as runs:
                runs.can_focus = False
                for seed in self.config.seeds:
                    for strategy in self.config.strategies:
                        yield RunPanel(run_id(strategy, seed), strategy, seed, self.config.queries)
            yield ComparisonPlot(len(self.config.seeds), reference=self._reference(), id="comparison")
            yield Static("", id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.started = time.monotonic()
        self.query_one("#runs").styles.grid_size_columns = min(2, len(self.config.run_ids))
        self._show_resumed()
        self.run_worker_experiment()
        self.set_interval(1.0, self._tick)

    def _show_resumed(self) -> None:
        """On --resume, draw the queries already on disk so curves and progress continue where they were."""
        for rid, records in (self.resume or {}).items():
            for r in sorted((r for r in records if r.get("type", "query") == "query"), key=lambda r: r["query"]):
                result = QueryResult(rid, r["strategy"], r["seed"], r["query"], r["n_labelled"], r["pool_size"],
                                     r["accuracy"], 0.0, 0.0, 0.0, r["queried_indices"], r["queried_labels"],
                                     r.get("queried_scores"))
                self.panel(rid).show_saved(result)
                self.query_one(ComparisonPlot).add(rid, result.strategy, result.n_labelled, result.accuracy)
                self.query_one(ProgressBar).advance(1)

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
        elif isinstance(event, RunFailed):
            self.failed[event.run_id] = event.error
            self.exit_code = 1
            self.panel(event.run_id).on_failed(event.error)
            self._skip_progress(event.run_id)
        elif isinstance(event, RunFinished):
            self.panel(event.run_id).on_finished()
        elif isinstance(event, ExperimentFinished):
            self.finish(event.cancelled)

    def _skip_progress(self, rid: str) -> None:
        panel = self.panel(rid)
        done = len(panel.results)
        self.query_one(ProgressBar).advance(self.config.queries + 1 - done)

    @on(Worker.StateChanged)
    def worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "experiment":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            text = f"{type(error).__name__}: {error}"
            self.exit_code = 2 if type(error).__name__ == "BaltuiError" else 1
            self.query_one("#overall", Static).update(f"[b red]experiment stopped:[/] {text}")
            self.notify(text, title="experiment stopped", severity="error", timeout=30)
            self.done = True
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED) and self.quitting:
            self.exit(self.exit_code)

    # ---- end of the experiment ------------------------------------------------------------------
    def finish(self, cancelled: bool) -> None:
        self.done = True
        self.refresh_bindings()
        if cancelled:
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
        state = "paused" if self.paused else "running"
        self.query_one("#overall", Static).update(
            f"{state} · {len(self.config.run_ids)} runs · elapsed {time.monotonic() - self.started:.0f} s")

    # ---- keys -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return not self.paused and not self.done
        if action == "resume":
            return self.paused and not self.done
        return True

    def action_pause(self) -> None:
        self.control.pause()
        self.paused = True
        self._tick()

    def action_resume(self) -> None:
        self.control.resume()
        self.paused = False
        self._tick()

    async def action_quit(self) -> None:
        """Every way out: stop the runs (at the next epoch) and leave; completed queries are already on disk.

        Overrides App.action_quit, so `q`, Ctrl+Q, the command palette's Quit and the signal handlers all
        take this path. The screen closes when the worker ends, or STOP_GRACE_S later if it is inside a
        phase that cannot be interrupted; a second quit leaves at once.
        """
        if self.quitting:
            self.exit(self.exit_code)
            return
        self.quitting = True
        self.begin_quit()
        workers = [w for w in self.workers if w.name == "experiment" and w.is_running]
        if not workers:
            self.exit(self.exit_code)
            return
        self.query_one("#overall", Static).update("stopping after the current epoch...")
        self.set_timer(STOP_GRACE_S, lambda: self.exit(self.exit_code))  # never hang on a stuck thread

    @property
    def stop_control(self) -> Control:
        return self.control

    def action_screenshot(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(filename=f"baltui-{stamp}.svg", path=str(self.out_dir))
        self.notify(f"saved {path}", title="screenshot")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
