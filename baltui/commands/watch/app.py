"""WatchApp: the dashboard's panels on run folders another process writes (`baltui watch`).

A thread worker follows every folder's results.jsonl (baltui.runs.follower) and posts what it read as
Messages; the handlers feed the same RunPanel, ComparisonPlot and ProgressBar the dashboard uses. A
second worker loads each run's data for the digit previews. Nothing is ever written into the folders,
and quitting (q, Ctrl+Q, Ctrl+C, the command palette, a signal) leaves only the viewer: the writer carries on.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from baltui.core.data import preview_images
from baltui.core.errors import BaltuiError
from baltui.core.eta import EtaModel, cost_grows
from baltui.core.events import Event, RunFailed, RunFinished
from baltui.runs.folder import RunFolder
from baltui.runs.follower import FolderFollower, RecordedQuery
from baltui.runs.next_steps import next_steps
from baltui.runs.references import PaperReference
from baltui.runs.status import FAILED, FINISHED, STALL_FLOOR_S, STALLED, FolderStatus
from baltui.runs.watched import WatchedFolder, folder_run_config
from baltui.ui import APP_CSS, BASE_CSS
from baltui.ui.app_base import AppBase
from baltui.ui.keys import WATCH
from baltui.ui.screens.insight import InsightKey
from baltui.ui.view_toggles import ViewToggles
from baltui.ui.widgets.class_balance import ClassBalancePlot
from baltui.ui.widgets.comparison import Comparison
from baltui.ui.widgets.plots import AccuracyPlot, ComparisonPlot, ScoreHistogram
from baltui.ui.widgets.run_panel import KEEP_ALWAYS, RunPanel
from baltui.ui.widgets.run_table import RunTable

MAX_QUEUED = 50  # messages waiting for the UI before the follower slows down (back-pressure on a backlog)

WATCH_HELP = """\
# baltui watch

A read-only view of run folders another process writes: each **panel** is one run (strategy x seed), updated
within a second of each new row of `results.jsonl`, with the same charts as the dashboard. The score
histogram comes from the row's `score_histogram`; the digits are taken from the run's data (config.json).

A run is **finished** or **failed** when its writer says so; a folder is **interrupted** (at query k of N) when
no process writes it any more (its `writer.lock` is released or names a process that is gone, or a folder
without one, committed or copied, is overdue) short of its end, and **stalled** when no row has come for 3x
the usual interval (and at least the `--stall-after` floor).
Times not of today come with their date.

The ETA adds up each run's queries left at a cost per query fitted to its recorded times (see the dashboard's
help); **AUC** in the summary is the area under the learning curve over the labelled range, as `baltui report`
computes it. On leaving, each folder and the commands to resume (when nobody writes it) and report it are printed.
"""


def _strategy_seed(rid: str) -> tuple[str, int]:
    """'entropy-s0' -> ('entropy', 0), as baltui.core.config.run_id names runs."""
    strategy, _, tail = rid.rpartition("-s")
    return (strategy, int(tail)) if strategy and tail.isdigit() else (rid, 0)


def folders_title(paths: list[str], names: list[str], width: int) -> str:
    """The watched folders for the header: every path as given when they fit in `width`, else
    `3 folders: a, b, c` by their names, with as many names as fit (then `…`)."""
    full = " · ".join(paths)
    if len(paths) < 2 or len(full) <= width:
        return full
    head = f"{len(names)} folders: "
    if len(head + ", ".join(names)) <= width:
        return head + ", ".join(names)
    shown: list[str] = []
    for name in names:
        if len(head + ", ".join([*shown, name]) + ", …") > width:
            break
        shown.append(name)
    return head + ", ".join([*shown, "…"])


class WatchRunPanel(RunPanel):
    """A RunPanel fed from disk: the histogram draws the writer's binned counts, and a run can be stalled."""

    def __init__(self, run_id: str, strategy: str, seed: int, queries: int, label: str | None = None) -> None:
        super().__init__(run_id, strategy, seed, queries)
        if label:
            self.border_title = f"{strategy} · seed {seed} · {label}"  # cut at the folder, never the run
        self.stalled = False
        self.interrupted = False
        self.latest: RecordedQuery | None = None  # the newest query, for previews once the data is loaded
        self.seen: set[int] = set()

    def show_saved_many(self, results: list[RecordedQuery]) -> None:
        """Rows already on disk: every point goes on the curves, which are drawn once with the newest row
        (show_saved per row would replot the curve per row, seconds for a long run)."""
        if not results:
            return
        *earlier, last = results
        accuracy = self.query_one(".accuracy", AccuracyPlot)
        for result in earlier:
            self.results.append(result)
            accuracy.xs.append(result.n_labelled)
            accuracy.ys.append(result.accuracy)
        self.resumed += len(earlier)
        self.show_saved(last)
        self.current_query = last.query

    def book(self, event: RecordedQuery) -> bool:
        """Take a query row: False for one already drawn (the file was rewritten); a run that goes on after
        its run_failed or run_finished record (it was resumed) is running again."""
        if event.query in self.seen:
            return False
        self.seen.add(event.query)
        if self.error or self.finished:
            self.reopen()
        if event.query > 0 or self.latest is None:
            self.latest = event
        return True

    def on_row(self, event: RecordedQuery, since_previous: float) -> None:
        """A new row, written `since_previous` s after the folder's previous one (the run's pace so far)."""
        self.start_clock(since_previous)
        self.on_result(event)
        self.current_query = event.query

    def on_failed(self, error: str) -> None:
        self._not_stalled()
        super().on_failed(error)

    def on_finished(self, event: RunFinished | None = None) -> None:
        self._not_stalled()
        super().on_finished(event)

    def _not_stalled(self) -> None:
        self.stalled = self.interrupted = False
        self.remove_class("-stalled")

    def on_folder_status(self, text: str, stalled: bool, interrupted: bool = False) -> None:
        """The writer's state, shown in the status line in place of the engine's phase."""
        if self.finished or self.error:
            return
        self.stalled, self.interrupted = stalled, interrupted and stalled
        self.set_class(stalled, "-stalled")
        self.border_subtitle = ("interrupted" if self.interrupted else "stalled") if stalled else ""
        self.phase = f"[b $warning]{escape(text)}[/]" if stalled else escape(text)
        self.refresh_status()

    def show_latest(self, dataset: Any, data_error: str | None) -> None:
        """The newest query's histogram, and its digits once the run's data is loaded (else why not)."""
        result = self.latest
        if result is None:
            return
        histograms = self.query(ScoreHistogram)
        if histograms:
            if result.score_histogram:
                histograms.first().show_binned(result.score_histogram)
            elif not result.has_histogram and result.query > 0:
                histograms.first().show_missing()
        if result.query == 0:
            return
        if dataset is None:
            text = f"no digit previews: {data_error}" if data_error else \
                "loading the run's images for the digit previews..."
            self.say_in_previews(Text(text, style="dim"))
            return
        indices = result.queried_indices
        if indices and max(indices) >= len(dataset.x_pool):
            self.say_in_previews(Text(f"no digit previews: queried index {max(indices)} is beyond the data's pool "
                                      f"of {len(dataset.x_pool)} images (not the data this run used?)", style="dim"))
            return
        images = preview_images(dataset, indices) if indices else None
        self.class_names = dataset.class_names
        self.query_one(ClassBalancePlot).name_classes(dataset.class_names)
        self.show_previews(images, result.queried_labels, result.queried_scores)

    def eta_seconds(self) -> float | None:
        return None if self.stalled else super().eta_seconds()  # a stopped run has no time left to tell

    def status_parts(self) -> list[tuple[str, int]]:
        parts = super().status_parts()
        if self.stalled and not self.finished and not self.error:  # no elapsed time or ETA for a stopped run
            parts = [(text, rank) for text, rank in parts if not text.startswith(("elapsed ", "ETA "))]
        if self.interrupted:  # what it says matters more than the accuracy on a narrow panel
            parts = [(text, KEEP_ALWAYS if text == self.phase else rank) for text, rank in parts]
        return parts


class WatchApp(ViewToggles, InsightKey, AppBase):
    """The dashboard, read-only, on one or more run folders (side by side when several)."""

    APP = WATCH
    CSS_PATH = [BASE_CSS, APP_CSS]
    TITLE = "baltui watch"
    HELP_INTRO = WATCH_HELP
    SCREENSHOT_NAME = "baltui-watch"

    class RowsRead(Message):
        """New rows of one folder (posted from the follower thread), with the folder's status after them."""

        def __init__(self, folder: int, events: list[Event], status: FolderStatus) -> None:
            super().__init__()
            self.folder, self.events, self.status = folder, events, status

    class FolderChanged(Message):
        """A folder's status changed without new rows (e.g. it became stalled)."""

        def __init__(self, folder: int, status: FolderStatus) -> None:
            super().__init__()
            self.folder, self.status = folder, status

    class DataLoaded(Message):
        """A folder's data for the digit previews, or why there is none."""

        def __init__(self, folder: int, dataset: Any, error: str | None) -> None:
            super().__init__()
            self.folder, self.dataset, self.error = folder, dataset, error

    def __init__(self, folders: list[WatchedFolder], stall_after: float = STALL_FLOOR_S, poll: float = 0.5,
                 probe: bool = True) -> None:
        super().__init__()
        self.folders = folders
        self.stall_after = stall_after
        self.poll = poll
        self.probe = probe
        self.statuses: dict[int, FolderStatus] = {}
        self.datasets: dict[int, Any] = {}
        self.data_errors: dict[int, str] = {}
        self.panels: dict[str, tuple[int, WatchRunPanel]] = {}
        self._summarised: dict[int, str] = {}
        self.etas = [EtaModel([f.screen_id(rid) for rid in f.run_ids], f.queries, _whole(f.config.get("instances")),
                              grows=cost_grows(f.config.get("epoch_draws", 0))) for f in folders]
        self.sub_title = self._header(10_000)

    def on_resize(self, event: events.Resize) -> None:
        """The header names every folder while they fit beside the title, else as many as do."""
        self.sub_title = self._header(event.size.width - 18 - len(self.TITLE) - 3)  # Header: icon 8, clock 10, " — "

    def _header(self, width: int) -> str:
        return folders_title([str(f.path) for f in self.folders], [f.label for f in self.folders], max(width, 20))

    # ---- layout ---------------------------------------------------------------------------------
    def _new_panel(self, index: int, rid: str, strategy: str, seed: int) -> WatchRunPanel:
        folder = self.folders[index]
        panel = WatchRunPanel(folder.screen_id(rid), strategy, seed, folder.queries,
                              label=folder.label if len(self.folders) > 1 else None)
        self.panels[panel.run_id] = (index, panel)
        return panel

    def _planned(self, index: int) -> list[WatchRunPanel]:
        return [self._new_panel(index, rid, *_strategy_seed(rid)) for rid in self.folders[index].run_ids]

    def _reference(self) -> PaperReference | None:
        """The paper's points, only when every folder ran on that paper's data (by content hash)."""
        refs = {RunFolder(folder.path, folder.config).reference() for folder in self.folders}
        return refs.pop() if len(refs) == 1 else None

    def compose(self) -> ComposeResult:
        yield Header()
        total = sum(len(f.run_ids) * (f.queries + 1) for f in self.folders)
        with Horizontal(id="top"):
            yield Static("reading...", id="overall")
            yield ProgressBar(total=total or None, id="progress", show_eta=False)
        with VerticalScroll(id="main"):
            yield RunTable(id="run-table")
            if len(self.folders) == 1:
                with VerticalScroll(id="runs", classes="folder-0 panels") as runs:
                    runs.can_focus = False
                    yield from self._planned(0)
            else:
                with Horizontal(id="folders", classes="panels"):
                    for i in range(len(self.folders)):
                        with Vertical(classes=f"folder-column folder-{i}"):
                            yield from self._planned(i)
            seeds = max((len(f.config.get("seeds") or [0]) for f in self.folders), default=1)
            yield Comparison(seeds, reference=self._reference(), id="comparison")
            yield Static("", id="summary")
        yield Footer()

    def on_mount(self) -> None:
        if len(self.folders) == 1:
            self.query_one("#runs").styles.grid_size_columns = max(1, min(2, len(self.folders[0].run_ids)))
        for folder, eta in zip(self.folders, self.etas, strict=True):
            try:  # the query in progress began about when the rows on disk ended
                eta.start(os.stat(folder.results).st_mtime)
            except OSError:
                eta.start(time.time())
        for index, panel in self.panels.values():
            self._plan(index, panel)
        self.start_views()
        self.refresh_run_table()
        self.follow()
        self.load_data()
        self.set_interval(1.0, self.tick)

    def previews_per_query(self) -> int:
        return max((int(f.config.get("instances") or 0) for f in self.folders), default=0)

    def panel_for(self, index: int, event: Event) -> WatchRunPanel:
        """The panel of an event's run; a run config.json did not list gets a new one."""
        known = self.panels.get(event.run_id)
        if known is not None:
            return known[1]
        folder = self.folders[index]
        rid = event.run_id.removeprefix(f"{folder.prefix}-") if folder.prefix else event.run_id
        strategy, seed = (event.strategy, event.seed) if isinstance(event, RecordedQuery) else _strategy_seed(rid)
        panel = self._new_panel(index, rid, strategy, seed)
        self.query_one(f".folder-{index}").mount(panel)
        self._plan(index, panel)
        return panel

    def _group(self, index: int, strategy: str) -> str:
        """The comparison's series of a strategy: with several folders, the folder's label and the strategy."""
        return f"{self.folders[index].label} {strategy}" if len(self.folders) > 1 else strategy

    def _plan(self, index: int, panel: WatchRunPanel) -> None:
        self.query_one(ComparisonPlot).plan(panel.run_id, panel.strategy, self._group(index, panel.strategy))

    # ---- workers --------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, name="follow", group="follow")
    def follow(self) -> None:
        """Poll every folder's results.jsonl; post what is new. Touches no widget."""
        worker = get_current_worker()
        followers = [FolderFollower(f, self.stall_after, probe=self.probe) for f in self.folders]
        while not worker.is_cancelled:
            backlog = False
            for index, follower in enumerate(followers):
                events, changed = follower.step()
                if events:
                    self.post_message(self.RowsRead(index, events, follower.status))
                elif changed is not None:
                    self.post_message(self.FolderChanged(index, changed))
                backlog = backlog or follower.lines.pending
            while self.message_queue_size > MAX_QUEUED and not worker.is_cancelled:
                worker.cancelled_event.wait(0.05)
            if not backlog:
                worker.cancelled_event.wait(self.poll)

    @work(thread=True, exit_on_error=False, name="data", group="data")
    def load_data(self) -> None:
        """Each folder's data (from its config.json), for the digit previews; one load per distinct data."""
        from baltui.core.data import load_dataset

        def attempt(load: Any) -> tuple[Any, str | None]:
            try:
                return load(), None
            except BaltuiError as exc:
                return None, str(exc)
            except Exception as exc:  # any failure to load only costs the previews
                return None, f"{type(exc).__name__}: {exc}"

        worker = get_current_worker()
        cache: dict[tuple[Any, ...], tuple[Any, str | None]] = {}
        for index, folder in enumerate(self.folders):
            if worker.is_cancelled:
                return
            config, error = attempt(lambda folder=folder: folder_run_config(folder))
            dataset = None
            if config is not None:
                key = (config.dataset, config.data, config.recipe, config.recipe_seed, config.test_fraction,
                       config.image_size)
                if key not in cache:
                    cache[key] = attempt(lambda config=config: load_dataset(config))
                dataset, error = cache[key]
            self.post_message(self.DataLoaded(index, dataset, error))

    def worker_failed(self, worker: Worker, text: str) -> None:
        self.query_one("#overall", Static).update(Text(f"{worker.name} stopped: {text}", style="bold red"))

    # ---- handlers (UI thread) -------------------------------------------------------------------
    @on(RowsRead)
    def rows_read(self, message: RowsRead) -> None:
        if self.closing:  # read while the screen closed: nothing left to draw on (the rows stay on disk)
            return
        index = message.folder
        before = self.statuses.get(index)
        previous_row = before.last_row if before else None
        touched: dict[str, WatchRunPanel] = {}
        saved: dict[str, list[RecordedQuery]] = {}  # rows that were on disk already: drawn in one go per panel
        rows = 0
        with self.batch_update():
            for event in message.events:
                panel = self.panel_for(index, event)
                touched[panel.run_id] = panel
                if isinstance(event, RecordedQuery) and not event.live:
                    if self._accept(index, panel, event):
                        saved.setdefault(panel.run_id, []).append(event)
                        rows += 1
                    continue
                panel.show_saved_many(saved.pop(panel.run_id, []))
                if isinstance(event, RecordedQuery):
                    if self._accept(index, panel, event):
                        panel.on_row(event, event.at - previous_row if previous_row else 0.0)
                        rows += 1
                elif isinstance(event, RunFailed):
                    self.etas[index].end(event.run_id)
                    panel.on_failed(escape(event.error))
                    self._skip_progress(index, panel)
                elif isinstance(event, RunFinished):
                    self.etas[index].end(event.run_id)
                    panel.on_finished(event)
                    if event.stopped is not None:  # the queries it will never run
                        self._skip_progress(index, panel)
            for rid, results in saved.items():
                self.panels[rid][1].show_saved_many(results)
            for panel in touched.values():  # the newest query only: a long backlog draws once
                self._show_latest(index, panel)
            self.query_one(ComparisonPlot).replot()
            self.query_one(ProgressBar).advance(rows)
            self._set_status(index, message.status)

    def _accept(self, index: int, panel: WatchRunPanel, event: RecordedQuery) -> bool:
        """Book a query row (False for one already drawn) and put it on the comparison (drawn per batch)."""
        if not panel.book(event):
            return False
        seconds = event.acquisition_s + event.training_s + event.evaluation_s
        self.etas[index].add(event.run_id, event.query, event.n_labelled, seconds, at=event.at if event.live else None)
        group = self._group(index, event.strategy)
        self.query_one(ComparisonPlot).book(panel.run_id, event.strategy, event.n_labelled, event.accuracy, group)
        return True

    def _show_latest(self, index: int, panel: WatchRunPanel) -> None:
        panel.show_latest(self.datasets.get(index), self.data_errors.get(index))

    @on(DataLoaded)
    def data_loaded(self, message: DataLoaded) -> None:
        if self.closing:  # loaded while the screen closed: its panels are being taken down
            return
        if message.dataset is not None:
            self.datasets[message.folder] = message.dataset
        else:
            self.data_errors[message.folder] = message.error or "the data could not be loaded"
        for index, panel in self.panels.values():
            if index == message.folder:
                self._show_latest(index, panel)

    @on(FolderChanged)
    def folder_changed(self, message: FolderChanged) -> None:
        if self.closing:
            return
        self._set_status(message.folder, message.status)

    def _skip_progress(self, index: int, panel: WatchRunPanel) -> None:
        bar = self.query_one(ProgressBar)
        if bar.total is not None:
            bar.advance(max(0, self.folders[index].queries + 1 - len(panel.results)))

    def _set_status(self, index: int, status: FolderStatus) -> None:
        self.statuses[index] = status
        for i, panel in self.panels.values():
            if i == index:
                panel.on_folder_status(status.short(), status.state == STALLED, status.interrupted)
        self._show_times()
        self._show_overall()
        self.run_table_changed()
        if status.state in (FINISHED, FAILED, STALLED) and self._summarised.get(index) != status.state:
            self._summarised[index] = status.state
            self._show_summary()

    def _show_overall(self) -> None:
        parts = []
        for index, folder in enumerate(self.folders):
            status = self.statuses.get(index)
            if status is None:
                continue
            text = status.describe()
            if status.runs_total:
                text += f" · {status.runs_done}/{status.runs_total} runs done"
            if status.bad_lines:
                text += f" · {status.bad_lines} unreadable lines skipped"
            colour = {STALLED: "yellow", FAILED: "red", FINISHED: "green"}.get(status.state, "")
            name = f"{folder.label}: " if len(self.folders) > 1 else ""
            parts.append(Text.assemble(name, (text, colour)))
        self.query_one("#overall", Static).update(Text(" | ").join(parts))

    def _show_summary(self) -> None:
        """The dashboard's summary table, per folder that has stopped (finished, failed or stalled)."""
        from baltui.ui.tables import summary_table

        tables = []
        for index in sorted(self._summarised):
            folder = self.folders[index]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    table = summary_table(folder.path)
            except BaltuiError as exc:
                tables.append(Text(f"{folder.label}: no summary ({exc})", style="dim"))
                continue
            if len(self.folders) > 1:
                table.title = f"Summary: {folder.label}"
            tables.append(table)
        self.query_one("#summary", Static).update(Group(*tables))

    def tick(self) -> None:
        """Once a second: elapsed times and ETAs of running runs move on."""
        self._show_times()

    def _show_times(self) -> None:
        """Each running run's ETA from its folder's EtaModel (wall time: the writer's pauses are not known)."""
        now = time.time()
        remaining = [eta.remaining(now) for eta in self.etas]
        for index, panel in self.panels.values():
            if not (panel.finished or panel.error or panel.stalled):
                panel.show_eta(remaining[index].get(panel.run_id))
                panel.refresh_status()
        self.refresh_run_table()

    # ---- keys -----------------------------------------------------------------------------------
    def stop_work(self) -> None:
        """Stop reading (q, Ctrl+Q, Ctrl+C, the palette, a signal): the writer is never touched; exit code 0."""
        self.workers.cancel_group(self, "follow")
        self.workers.cancel_group(self, "data")

    def screenshot_folder(self) -> Path:
        """The current folder, never a watched run folder (then the temp folder)."""
        here = Path.cwd().resolve()
        return Path(tempfile.gettempdir()) if any(f.path.resolve() == here for f in self.folders) else here

    def farewell(self) -> list[str]:
        """Each folder and how to resume (when unfinished and nobody writes it) and report it."""
        return [line for folder in self.folders for line in next_steps(folder.path)]


def _whole(value: Any, default: int = 10) -> int:
    """A whole number from a config.json another version wrote (else `default`)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def make_watch_app(folders: list[WatchedFolder], stall_after: float = STALL_FLOOR_S, poll: float = 0.5,
                   probe: bool = True) -> WatchApp:
    """The one factory the CLI and the tests use."""
    return WatchApp(folders, stall_after=stall_after, poll=poll, probe=probe)
