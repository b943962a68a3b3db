"""The dashboard driven with App.run_test() + Pilot: a fake engine for speed, one real tiny run."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from fakes import FakeEngine
from rich.console import Console

from baltui.commands.run import make_app
from baltui.runs.results import curves, prepare_out_dir, read_records
from baltui.ui.messages import EngineEvent
from baltui.ui.widgets.class_balance import ClassBalancePlot
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.plots import AccuracyPlot, ComparisonPlot, ScoreHistogram
from baltui.ui.widgets.run_panel import RunPanel


def make_fake_engine(delay: float = 0.0, fail: str | None = None, gate: threading.Event | None = None):
    """The shared fake engine; `fail` names a strategy that raises at query 2, `gate` holds query 1."""
    return FakeEngine(delay=delay, fail=fail, gate=gate, error=FloatingPointError("training loss is not finite"),
                      result={"metrics": True})  # with the labelled set's class counts the panel draws


@pytest.fixture
def out(tmp_path, tiny):
    def _out(config):
        prepare_out_dir(tmp_path / "run", config.to_dict())
        return tmp_path / "run"

    return _out


async def test_panels_charts_and_summary(out, tiny, digits):
    config = tiny(queries=3)
    messages = []
    app = make_app(config, out(config), engine_factory=make_fake_engine(), dataset=digits)
    async with app.run_test(size=(180, 60), message_hook=messages.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        panels = list(app.query(RunPanel))
        assert [p.run_id for p in panels] == ["entropy-s0", "uniform-s0"]
        entropy = app.query_one("#run-entropy-s0", RunPanel)
        assert entropy.query_one(".accuracy", AccuracyPlot).xs == [20, 25, 30, 35]
        assert entropy.query_one(ClassBalancePlot).counts == [c + 1 + 3 for c in range(10)]  # the last query's
        hist = entropy.query_one(ScoreHistogram)
        assert sum(hist.counts) == 50
        assert not app.query_one("#run-uniform-s0").query(ScoreHistogram)  # says so instead
        assert "no acquisition scores" in str(app.query_one("#run-uniform-s0 .no-scores").render())
        previews = entropy.query_one(DigitPreviews)
        assert previews.labels == [0, 1, 2, 3, 4] and "y=0" in str(previews.render())
        comparison = app.query_one(ComparisonPlot)
        assert set(comparison.series()) == {"entropy-s0", "uniform-s0"}
        console = Console(width=150, record=True, file=io.StringIO())
        console.print(app.summary_text())
        summary = console.export_text()
        assert "labels to 90%" in summary and "entropy-s0" in summary
        assert sum(isinstance(m, EngineEvent) for m in messages) >= 8
        assert app.query_one("ProgressBar").progress == 8


async def test_keys_toggle_views_pause_help_and_screenshot(out, tiny, digits):
    config = tiny(queries=50)
    run_dir = out(config)
    # 0.05 s an epoch: the experiment lasts 15 s, so it is still running when `p` is pressed on a loaded machine
    app = make_app(config, run_dir, engine_factory=make_fake_engine(delay=0.05), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("d")
        assert app.screen.has_class("-hide-digits")
        await pilot.press("c")
        assert not app.query_one(ComparisonPlot).display or app.screen.has_class("-hide-comparison")
        await pilot.press("p")
        assert app.control.paused and app.paused
        await pilot.pause(0.3)
        done = len(app.query_one("#run-entropy-s0", RunPanel).results)
        await pilot.pause(0.5)
        assert len(app.query_one("#run-entropy-s0", RunPanel).results) <= done + 1
        await pilot.press("p")
        assert not app.control.paused
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("s")
        for _ in range(100):  # the SVG is written on the UI thread: slower on a loaded machine
            if list(run_dir.glob("*.svg")):
                break
            await pilot.pause(0.1)
        assert list(run_dir.glob("*.svg"))
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert app.control.stopped


async def test_quit_mid_run_cancels_promptly_and_keeps_results(out, tiny, digits):
    config = tiny(queries=500)
    run_dir = out(config)
    app = make_app(config, run_dir, engine_factory=make_fake_engine(delay=0.01), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await pilot.pause(0.5)
        shown = sum(len(p.results) for p in app.query(RunPanel))
        started = time.perf_counter()
        await pilot.press("q")
        await app.workers.wait_for_complete()
        assert time.perf_counter() - started < 2
    queries = [r for r in read_records(run_dir) if r["type"] == "query"]
    assert len(queries) >= shown > 0
    assert {r["type"] for r in read_records(run_dir)} == {"query"}  # cut short: no run finished, none failed


async def test_a_failing_run_shows_its_error_while_the_other_finishes(out, tiny, digits):
    config = tiny(queries=4)
    app = make_app(config, out(config), engine_factory=make_fake_engine(fail="entropy"), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        failed = app.query_one("#run-entropy-s0", RunPanel)
        assert failed.has_class("-failed") and "not finite" in str(failed.query_one(".status").render())
        assert app.query_one("#run-uniform-s0", RunPanel).finished
        assert app.exit_code == 1
    runs = curves(read_records(app.out_dir))
    assert runs["entropy-s0"].failed and runs["uniform-s0"].finished


async def test_real_engine_tiny_digits_run(out, tiny, digits):
    """Real TensorFlow + modAL behind the real app: charts fill from real queries."""
    config = tiny(queries=2)
    app = make_app(config, out(config), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for panel in app.query(RunPanel):
            assert len(panel.query_one(".accuracy", AccuracyPlot).xs) == 3
            assert panel.finished
    assert len([r for r in read_records(app.out_dir) if r["type"] == "query"]) == 6


def test_renderer_keeps_8x8_and_28x28_legible():
    from baltui.ui.render import SHADES, shaded

    img = np.zeros((28, 28))
    img[4:24, 12:16] = 1.0  # a "1"
    lines = shaded(img, 14)
    assert len(lines) == 7 and all(len(line) == 14 for line in lines)
    assert all(line[6:8] == SHADES[-1] * 2 for line in lines[1:6]) and lines[3][0] == " "
    small = shaded(np.eye(8), 14)
    assert small[0][0] != " " and small[-1][-1] != " " and small[0][-1] == " " and small[-1][0] == " "


async def test_resume_shows_saved_queries_and_continues(out, tiny, digits):
    config = tiny(queries=3)
    run_dir = out(config)
    saved = {"entropy-s0": [{"type": "query", "run_id": "entropy-s0", "strategy": "entropy", "seed": 0,
                             "query": q, "n_labelled": 20 + 5 * q, "pool_size": 1000 - 5 * q, "accuracy": 0.4,
                             "queried_indices": [], "queried_labels": [], "queried_scores": None}
                            for q in range(2)]}

    def engine(config, dataset, strategy, seed, control, on_phase, resume):
        start = resume[-1]["query"] + 1 if resume else 0
        for result in make_fake_engine()(config, dataset, strategy, seed, control, on_phase, None):
            if result.query >= start:
                yield result

    app = make_app(config, run_dir, engine_factory=engine, dataset=digits, resume=saved)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = app.query_one("#run-entropy-s0", RunPanel)
        assert panel.query_one(".accuracy", AccuracyPlot).xs == [20, 25, 30, 35]
        assert panel.resumed == 2
        assert app.query_one("ProgressBar").progress == 8


# ---- Ctrl+C and the exit code (as headless mode: 0 finished, 1 a run failed, 130 stopped early) ------------
async def test_ctrl_c_stops_the_runs_and_exits_130_mid_run(out, tiny, digits):
    config = tiny(queries=500)
    run_dir = out(config)
    app = make_app(config, run_dir, engine_factory=make_fake_engine(delay=0.01), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await pilot.pause(0.5)
        assert app.worker_busy.is_set()
        await pilot.press("ctrl+c")
        assert app.control.stopped
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert "stopped: every completed query is saved" in str(app.query_one("#overall").render())
    assert app.return_value == 130
    shown = sum(len(p.results) for p in app.query(RunPanel))
    queries = [r for r in read_records(run_dir) if r["type"] == "query"]
    assert 0 < len(queries) < 2 * 501 and len(queries) >= shown
    time.sleep(0.3)
    assert len([r for r in read_records(run_dir) if r["type"] == "query"]) == len(queries)  # the runs stopped


async def test_quit_after_the_experiment_finished_exits_0(out, tiny, digits):
    config = tiny(queries=3)
    app = make_app(config, out(config), engine_factory=make_fake_engine(), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.done
        await pilot.press("ctrl+c")
    assert app.return_value == 0


async def test_quit_after_a_run_failed_exits_1_even_mid_run(out, tiny, digits):
    config = tiny(queries=500)
    app = make_app(config, out(config), engine_factory=make_fake_engine(fail="entropy"), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        failed = app.query_one("#run-entropy-s0", RunPanel)
        deadline = time.monotonic() + 10
        while failed.error is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert failed.error and app.return_value == 1
