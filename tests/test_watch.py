"""`baltui watch`: the follower (UI-free) and the dashboard on folders a test appends to, driven by Pilot.

No training: config.json and the rows are written by hand, rows in the format the experiment writes
(QueryResult.to_record plus "type": "query"). Everything is written into tmp_path only.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from drawn import drawn
from rich.console import Console

from baltui.cli import main as cli_main
from baltui.core.config import RunConfig
from baltui.core.events import SCORE_HISTOGRAM_BINS, QueryResult
from baltui.runs.follower import FolderFollower, LineFollower, RecordedQuery, record_to_event
from baltui.runs.status import FAILED, FINISHED, RUNNING, STALLED, StallClock, WriterProbe
from baltui.runs.watched import open_folders
from baltui.ui.widgets.class_balance import ClassBalancePlot

QUERIES = 4


def make_run(root: Path, name: str = "run", dataset: str = "digits", data: str | None = None,
             strategies: tuple[str, ...] = ("entropy", "uniform"), provenance: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    config = RunConfig(name="watched", dataset=dataset, data=data, strategies=list(strategies), seeds=[0],
                       queries=QUERIES, instances=3, out=str(folder))
    record = config.to_dict()
    if provenance is not None:
        record["provenance"] = provenance
    (folder / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "results.jsonl").touch()
    return folder


def query_row(strategy: str, q: int, seed: int = 0) -> dict:
    """A row as run_experiment writes it, from a real QueryResult."""
    rng = np.random.default_rng(q)
    k = 0 if q == 0 else 3
    scores = None if strategy == "uniform" else rng.random(60)
    chosen = None if scores is None else sorted(scores.tolist(), reverse=True)[:k]
    result = QueryResult(f"{strategy}-s{seed}", strategy, seed, q, 20 + k * q, 1000 - k * q, 0.5 + q / 10,
                         0.01, 0.5, 0.02, [5 * q + i for i in range(k)], [(q + i) % 10 for i in range(k)],
                         chosen, None, scores, list(range(20 + k * q)))
    return {"type": "query", **result.to_record()}


def end_row(strategy: str, kind: str = "run_finished", seed: int = 0, error: str = "") -> dict:
    row = {"type": kind, "run_id": f"{strategy}-s{seed}", "strategy": strategy, "seed": seed}
    if error:
        row["error"] = error
    return row


def append(folder: Path, *rows: dict, text: str = "") -> None:
    with open(folder / "results.jsonl", "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows) + text)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


# ---- UI-free --------------------------------------------------------------------------------------

def test_record_has_a_score_histogram_of_the_scored_subset():
    row = query_row("entropy", 2)
    hist = row["score_histogram"]
    assert len(hist["counts"]) == SCORE_HISTOGRAM_BINS and sum(hist["counts"]) == 60
    scores = np.random.default_rng(2).random(60)
    assert hist["lo"] == pytest.approx(scores.min()) and hist["hi"] == pytest.approx(scores.max())
    assert hist["threshold"] == pytest.approx(min(row["queried_scores"]))
    assert hist["counts"] == np.histogram(scores, bins=SCORE_HISTOGRAM_BINS)[0].tolist()
    assert query_row("uniform", 2)["score_histogram"] is None
    json.dumps(row)  # plain JSON types only


def test_line_follower_waits_for_a_half_written_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("")
    follower = LineFollower(path)
    assert follower.poll() == []
    first, second = json.dumps({"a": 1}), json.dumps({"b": 2, "text": "é"})
    with open(path, "a", encoding="utf-8") as f:
        f.write(first + "\n" + second[:7])
    assert follower.poll() == [{"a": 1}]
    assert follower.poll() == []  # still no newline: not read, not misread
    with open(path, "a", encoding="utf-8") as f:
        f.write(second[7:])
    assert follower.poll() == []  # complete JSON but no newline yet: the writer may not be done
    with open(path, "a", encoding="utf-8") as f:
        f.write("\nnot json\n")
    assert follower.poll() == [{"b": 2, "text": "é"}]
    assert follower.bad_lines == 1


def test_records_turn_back_into_engine_events():
    event = record_to_event(query_row("entropy", 1), "x-entropy-s0", at=5.0, live=True)
    assert isinstance(event, RecordedQuery) and isinstance(event, QueryResult)
    assert (event.run_id, event.query, event.n_labelled, event.queried_labels) == ("x-entropy-s0", 1, 23, [1, 2, 3])
    assert event.score_histogram is not None and event.scores is None and event.live
    assert record_to_event(end_row("entropy", "run_failed", error="NaN"), "e").error == "NaN"
    assert record_to_event({"type": "something new", "run_id": "e"}, "e") is None


def test_stall_clock_uses_the_median_interval_and_a_floor():
    clock = StallClock(floor_s=60.0)
    clock.start(0.0)
    assert clock.threshold() == 60.0 and not clock.overdue(59.0) and clock.overdue(60.0)
    for t in (100.0, 130.0, 160.0, 190.0, 220.0):
        clock.rows(1, t)
    assert clock.threshold() == 90.0  # 3 x the 30 s median beats the floor
    assert not clock.overdue(220.0 + 89.0) and clock.overdue(220.0 + 90.0)


def test_a_folder_without_a_lock_file_is_interrupted_once_its_rows_are_overdue(tmp_path):
    """A committed or copied folder has no writer.lock: no writer of this baltui holds it, so once no row has
    come for the stall window it reads as interrupted (with `--resume`), not as a stall to wait out."""
    folder = open_folders([str(make_run(tmp_path))])[0]
    append(folder.path, query_row("entropy", 0), query_row("uniform", 0), query_row("entropy", 1))
    follower = FolderFollower(folder, stall_floor_s=10.0, probe=True)
    now = time.time()
    status = follower.step(now=now)[1]
    assert status.state == RUNNING and not status.writer_gone  # rows this fresh may still have a writer
    status = follower.step(now=now + 10)[1]
    assert status.interrupted and status.describe() == "interrupted at query 0 of 4", status.describe()
    append(folder.path, query_row("uniform", 1))  # an older baltui was writing after all: running again
    assert follower.step(now=now + 11)[1].state == RUNNING


def test_folder_follower_states(tmp_path):
    folder = open_folders([str(make_run(tmp_path))])[0]
    follower = FolderFollower(folder, stall_floor_s=10.0, probe=False)
    events, status = follower.step(now=time.time())
    assert events == [] and status.state == RUNNING and status.runs_total == 2
    append(folder.path, query_row("entropy", 0), query_row("uniform", 0))
    now = time.time()
    events, status = follower.step(now=now)
    assert [e.run_id for e in events] == ["entropy-s0", "uniform-s0"] and status.rows == 2
    assert follower.step(now=now + 5)[1] is None  # nothing changed
    assert follower.step(now=now + 10)[1].state == STALLED
    assert "no new row since" in follower.status.describe()
    append(folder.path, query_row("entropy", 1))
    assert follower.step(now=now + 11)[1].state == RUNNING
    append(folder.path, end_row("entropy"))
    assert follower.step(now=now + 12)[1].state == RUNNING  # uniform still going
    assert follower.ended == {"entropy-s0": FINISHED}
    append(folder.path, end_row("uniform", "run_failed", error="boom"))
    status = follower.step(now=now + 13)[1]
    assert status.state == FAILED and status.runs_done == 2
    assert follower.step(now=now + 1000)[1] is None  # an ended folder never stalls


def test_writer_probe_reads_the_writer_from_the_lock_file(tmp_path):
    folder = make_run(tmp_path)
    probe = WriterProbe(folder / "results.jsonl")
    assert not probe.gone()  # no lock file (no writer yet, or an older baltui): unknown, not gone
    code = ("import sys, time; from baltui.runs.lock import take; take(sys.argv[1], 'run'); print('held', flush=True); "
            "time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:  # the probe looked before the writer started and never took the lock: the writer got it
        assert writer.stdout.readline().strip() == "held"
        assert not probe.gone() and probe.holder.pid == writer.pid
    finally:
        writer.kill()
        writer.wait()
    assert probe.gone()  # the pid the lock names no longer runs


def test_watch_core_imports_no_ui():
    code = ("import sys; import baltui.runs.follower, baltui.runs.status, baltui.runs.watched; "
            "import baltui.commands.watch.cli; "
            "bad = [m for m in ('textual', 'rich', 'plotext', 'textual_plotext') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# ---- the command line -----------------------------------------------------------------------------

def test_missing_or_foreign_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli_main(["watch", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("baltui watch: error: ") and "does not exist" in err and err.count("\n") == 1
    (tmp_path / "other").mkdir()
    good = make_run(tmp_path)
    assert cli_main(["watch", str(good), str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("baltui watch: error: ") and "no config.json" in err and err.count("\n") == 1
    assert not any((tmp_path / "other").iterdir())


# ---- the app --------------------------------------------------------------------------------------

def _app(folders: list[Path], stall_after: float = 600.0):
    from baltui.commands.watch.app import make_watch_app

    return make_watch_app(open_folders([str(f) for f in folders]), stall_after=stall_after, poll=0.1, probe=False)


def _overall(app) -> str:
    return str(app.query_one("#overall").render())


async def test_new_rows_appear_and_half_lines_wait(tmp_path):
    from baltui.commands.watch.app import WatchRunPanel
    from baltui.ui.widgets.digits import DigitPreviews
    from baltui.ui.widgets.histogram import ScoreHistogram
    from baltui.ui.widgets.plots import AccuracyPlot, ComparisonPlot

    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("uniform", 0))  # already there when the watch starts
    config_mtime = (folder / "config.json").stat().st_mtime_ns
    app = _app([folder])
    async with app.run_test(size=(180, 70)) as pilot:
        entropy = app.query_one("#run-entropy-s0", WatchRunPanel)
        acc = entropy.query_one(".accuracy", AccuracyPlot)
        await until(pilot, lambda: acc.xs == [20])
        assert "running" in _overall(app)
        append(folder, query_row("entropy", 1), query_row("uniform", 1))
        await until(pilot, lambda: acc.xs == [20, 23])
        balance = entropy.query_one(ClassBalancePlot)  # these rows have no labelled_per_class: it says so
        assert balance.counts == [] and "not recorded" in drawn(app, balance)
        hist = entropy.query_one(ScoreHistogram)
        assert sum(hist.counts) == 60
        assert hist.chosen_min == pytest.approx(min(query_row("entropy", 1)["queried_scores"]))
        previews = entropy.query_one(DigitPreviews)
        await until(pilot, lambda: previews.images is not None)
        assert previews.labels == [1, 2, 3] and previews.images.shape == (3, 8, 8)
        assert "y=1" in str(previews.render())
        # half a line: never read until its newline is there
        line = json.dumps(query_row("entropy", 2), separators=(",", ":"))
        append(folder, text=line[: len(line) // 2])
        await pilot.pause(0.6)
        assert acc.xs == [20, 23]
        append(folder, text=line[len(line) // 2:] + "\n")
        await until(pilot, lambda: acc.xs == [20, 23, 26])
        assert "query 2 of 4" in str(entropy.query_one(".status").render())
        assert set(app.query_one(ComparisonPlot).series()) == {"entropy-s0", "uniform-s0"}
        append(folder, end_row("entropy"), end_row("uniform"))
        await until(pilot, lambda: "finished" in _overall(app))
        assert entropy.has_class("-finished") and entropy.border_subtitle == "finished"
        console = Console(width=150, record=True, file=io.StringIO())
        console.print(app.query_one("#summary").content)
        summary = console.export_text()
        assert "labels to 90%" in summary and "entropy-s0" in summary
        await pilot.press("q")
    assert app.return_code == 0
    assert (folder / "config.json").stat().st_mtime_ns == config_mtime  # read only
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "results.jsonl"]


async def test_failed_run_and_a_finished_folder_as_a_viewer(tmp_path):
    from baltui.commands.watch.app import WatchRunPanel

    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("uniform", 0), query_row("uniform", 1),
           end_row("entropy", "run_failed", error="FloatingPointError: [loss] is not finite"), end_row("uniform"))
    app = _app([folder])
    async with app.run_test(size=(180, 70)) as pilot:
        entropy = app.query_one("#run-entropy-s0", WatchRunPanel)
        await until(pilot, lambda: entropy.error is not None)
        assert entropy.has_class("-failed")
        assert "failed: FloatingPointError: [loss] is not finite" in str(entropy.query_one(".status").render())
        uniform = app.query_one("#run-uniform-s0", WatchRunPanel)
        assert uniform.finished and "finished (some runs failed)" in _overall(app)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_stalled_when_rows_stop_and_running_again_when_they_resume(tmp_path):
    from baltui.commands.watch.app import WatchRunPanel

    folder = make_run(tmp_path)
    app = _app([folder], stall_after=1.0)
    async with app.run_test(size=(180, 70)) as pilot:
        entropy = app.query_one("#run-entropy-s0", WatchRunPanel)
        append(folder, query_row("entropy", 0), query_row("uniform", 0))
        await until(pilot, lambda: len(entropy.results) == 1)
        assert not entropy.stalled
        await until(pilot, lambda: entropy.stalled, timeout=5.0)
        assert entropy.has_class("-stalled") and "stalled: no new row since" in _overall(app)
        assert "stalled: no new row since" in str(entropy.query_one(".status").render())
        append(folder, query_row("entropy", 1))
        await until(pilot, lambda: not entropy.stalled)
        assert "running" in _overall(app) and not entropy.has_class("-stalled")


async def test_a_run_on_mnist_shows_the_papers_random_points_and_two_mnist_folders_share_them(tmp_path):
    """The watcher asks whether every folder follows one paper (a set of references): on MNIST's content hash
    that set holds Gal 2017's reference, which must hash (it once raised TypeError in compose)."""
    from baltui.runs.references import GAL2017_TABLE1, MNIST_SHA256
    from baltui.ui.widgets.plots import ComparisonPlot

    mnist = {"data_sha256": MNIST_SHA256, "n_classes": 10}
    a = make_run(tmp_path, "a", dataset="npz", data="mnist.npz", provenance=mnist)
    b = make_run(tmp_path, "b", dataset="npz", data="mnist.npz", provenance=mnist)
    for folder in (a, b):
        append(folder, query_row("entropy", 0), query_row("uniform", 0))
    for folders in ([a], [a, b]):
        app = _app(folders)
        async with app.run_test(size=(200, 70)) as pilot:
            plot = app.query_one(ComparisonPlot)
            assert plot.reference == GAL2017_TABLE1
            expected_runs = 2 * len(folders)
            await until(pilot, lambda: len(plot.curves) == expected_runs)  # noqa: B023 - awaited in this pass
            # the paper's 90% / 95% points of each strategy on the chart (acquired + the 20 initial)
            assert plot.reference_points() == {"Gal 2017: entropy": [185, 375], "Gal 2017: uniform": [275, 855]}
            assert plot.visible_reference_points() == {}  # the runs are at 20 labels: nothing near them yet
            await pilot.press("q")
    # runs at 300 labels: the 90% points of both (185, 275) and entropy's 95% (375 <= 1.25 x 300) are drawn
    plot.book("a-entropy-s0", "entropy", 300, 0.93)
    assert plot.visible_reference_points() == {"Gal 2017: entropy": ([185, 375], [0.90, 0.95]),
                                               "Gal 2017: uniform": ([275], [0.90])}
    other = make_run(tmp_path, "c", provenance={"data_sha256": "5" * 64, "n_classes": 10})
    app = _app([a, other])
    async with app.run_test(size=(200, 70)) as pilot:
        plot = app.query_one(ComparisonPlot)
        assert plot.reference is None and plot.reference_points() == {}  # folders on different data: no paper
        await pilot.press("q")


async def test_several_folders_side_by_side(tmp_path):
    from baltui.commands.watch.app import WatchRunPanel
    from baltui.ui.widgets.plots import ComparisonPlot

    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b", strategies=("bald", "uniform"))
    append(a, query_row("entropy", 0), query_row("uniform", 0))
    append(b, query_row("bald", 0), query_row("uniform", 0), query_row("bald", 1))
    app = _app([a, b])
    async with app.run_test(size=(200, 70)) as pilot:
        bald = app.query_one("#run-b-bald-s0", WatchRunPanel)
        await until(pilot, lambda: len(bald.results) == 2 and len(app.query_one("#run-a-uniform-s0").results) == 1)
        assert bald.border_title == "bald · seed 0 · b"  # the run first: a narrow column cuts the folder
        assert {p.run_id for p in app.query(WatchRunPanel)} == {"a-entropy-s0", "a-uniform-s0", "b-bald-s0",
                                                               "b-uniform-s0"}
        assert set(app.query_one(ComparisonPlot).series()) == {"a-entropy-s0", "a-uniform-s0", "b-bald-s0",
                                                               "b-uniform-s0"}
        assert bald.parent.has_class("folder-1")
        assert "a: running" in _overall(app) and "b: running" in _overall(app)


async def test_data_that_arrives_while_the_app_shuts_down_draws_nothing(tmp_path):
    """The data loader's thread can post its result while Textual takes the panels down (a test leaving
    run_test, a quit): that message must not raise on a panel whose charts are already gone (CI saw it)."""
    from baltui.commands.watch.app import WatchRunPanel
    from baltui.core.data import load_digits

    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("entropy", 1))
    app = _app([folder])
    close_all = app._close_all
    seen: list[bool] = []

    async def close_mid_way() -> None:  # Textual's teardown, caught after it removed a panel's charts
        panel = app.query_one("#run-entropy-s0", WatchRunPanel)
        await panel.query_one(ClassBalancePlot).remove()
        seen.append(panel.latest is not None)
        app.data_loaded(app.DataLoaded(0, load_digits(), None))
        await close_all()

    async with app.run_test(size=(180, 70)) as pilot:
        await until(pilot, lambda: len(app.query_one("#run-entropy-s0", WatchRunPanel).results) == 2)
        assert not app.closing
        app._close_all = close_mid_way
    assert seen == [True]  # the panel had a query to preview, so only the guard kept it from drawing


async def test_previews_say_why_when_the_data_cannot_be_loaded(tmp_path):
    from baltui.commands.watch.app import WatchRunPanel
    from baltui.ui.widgets.digits import DigitPreviews

    folder = make_run(tmp_path, dataset="npz", data="gone.npz")
    append(folder, query_row("entropy", 0), query_row("entropy", 1))
    app = _app([folder])
    async with app.run_test(size=(180, 70)) as pilot:
        previews = app.query_one("#run-entropy-s0", WatchRunPanel).query_one(DigitPreviews)
        await until(pilot, lambda: "no digit previews" in str(previews.render()))
        assert "gone.npz not found" in str(previews.render())


def test_data_path_relative_to_the_run_folder_or_the_cwd(tmp_path, monkeypatch):
    from baltui.core.data import load_digits
    from baltui.runs.watched import load_folder_data

    d = load_digits()
    arrays = dict(x_train=d.x_pool[..., 0], y_train=d.y_pool, x_test=d.x_test[..., 0], y_test=d.y_test)
    in_run = make_run(tmp_path, "a", dataset="npz", data="mine.npz")
    np.savez(in_run / "mine.npz", **arrays)
    in_cwd = make_run(tmp_path, "b", dataset="npz", data="data/theirs.npz")
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "theirs.npz", **arrays)
    monkeypatch.chdir(tmp_path)
    for folder in open_folders([str(in_run), str(in_cwd)]):
        assert len(load_folder_data(folder).x_pool) == len(d.x_pool)
    assert sorted(os.listdir(in_run)) == ["config.json", "mine.npz", "results.jsonl"]


@pytest.fixture
def writes_from_outside(monkeypatch):
    """Every change of a RunPanel's state (its fields, its state classes) made from outside its own methods."""
    from baltui.ui.widgets.run_panel import RunPanel

    fields = {"phase", "current_query", "results", "started", "error", "finished", "resumed", "stalled", "latest",
              "seen", "border_title", "border_subtitle"}
    state_classes = {"-stalled", "-failed", "-finished"}
    outside: list[str] = []

    def caller_is(panel) -> bool:
        return sys._getframe(2).f_locals.get("self") is panel

    setattr_ = RunPanel.__setattr__

    def guarded_setattr(self, name, value):
        if name in fields and not caller_is(self):
            outside.append(f"{name} = ... in {sys._getframe(1).f_code.co_name}")
        setattr_(self, name, value)

    monkeypatch.setattr(RunPanel, "__setattr__", guarded_setattr)
    for method in ("add_class", "remove_class"):
        original = getattr(RunPanel, method)

        def guarded(self, *names, _original=original, _method=method, **kwargs):
            if state_classes & set(names) and not caller_is(self):
                outside.append(f"{_method}{names} in {sys._getframe(1).f_code.co_name}")
            return _original(self, *names, **kwargs)

        monkeypatch.setattr(RunPanel, method, guarded)
    return outside


async def test_the_watcher_changes_panels_only_through_their_methods(tmp_path, writes_from_outside):
    """Rows on disk and new, a stall, a failure, a run resumed after it, a finish, the previews: WatchApp calls
    the panels' methods and never sets their fields."""
    from baltui.commands.watch.app import WatchRunPanel
    from baltui.ui.widgets.digits import DigitPreviews

    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("uniform", 0), query_row("entropy", 1))
    app = _app([folder], stall_after=1.0)
    async with app.run_test(size=(180, 70)) as pilot:
        entropy = app.query_one("#run-entropy-s0", WatchRunPanel)
        uniform = app.query_one("#run-uniform-s0", WatchRunPanel)
        await until(pilot, lambda: len(entropy.results) == 2)
        # the data worker imports and loads the digits first: slow on a busy machine
        await until(pilot, lambda: entropy.query_one(DigitPreviews).images is not None, timeout=60.0)
        await until(pilot, lambda: entropy.stalled, timeout=5.0)
        append(folder, end_row("entropy", "run_failed", error="boom"))
        await until(pilot, lambda: entropy.error is not None)
        assert not entropy.stalled and not entropy.has_class("-stalled") and entropy.has_class("-failed")
        append(folder, query_row("entropy", 2))  # resumed after its failure: running again
        await until(pilot, lambda: len(entropy.results) == 3)
        assert entropy.error is None and not entropy.has_class("-failed") and entropy.current_query == 2
        assert entropy.started is not None
        append(folder, query_row("uniform", 1), end_row("uniform"))
        await until(pilot, lambda: uniform.finished)
        await pilot.press("q")
    assert writes_from_outside == []
