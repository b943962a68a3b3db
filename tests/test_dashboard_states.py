"""The dashboard at 80x24 as at 200x60: what a resumed run shows, what the end says, the help, the header, the
palette. Pilot on the real app and a fake engine; every check reads what the screen draws (tests/drawn.py).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from drawn import drawn, screen_lines, show_panels, wait_until
from fakes import FakeEngine, fake_result
from test_layouts import SIZES

from baltui.commands.run import make_app
from baltui.runs.results import prepare_out_dir
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.histogram import ScoreHistogram
from baltui.ui.widgets.run_panel import RunPanel

IDS = [f"{w}x{h}" for w, h in SIZES]
QUERIES = 6


def saved_records(rid: str, strategy: str, upto: int) -> list[dict]:
    """What results.jsonl holds of a run stopped after query `upto` (as the Recorder writes it)."""
    records = []
    for q in range(upto + 1):
        result = fake_result(strategy, 0, q, instances=5, scores=np.linspace(0.0, 1.0, 40),
                             queried_indices=[7 * q + i for i in range(5 if q else 0)], images=None)
        records.append({"type": "query", **result.to_record()})
    return records


@pytest.fixture
def out(tmp_path, tiny):
    def make(config):
        prepare_out_dir(tmp_path / "run", config.to_dict())
        return tmp_path / "run"

    return make


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_a_resumed_run_shows_where_it_stands(size, out, tiny, digits):
    """Before the engine goes on: `query k of N` with the resumed count, the last histogram, the last digits."""
    config = tiny(queries=QUERIES)
    resume = {"entropy-s0": saved_records("entropy-s0", "entropy", 3),
              "uniform-s0": saved_records("uniform-s0", "uniform", 2)}
    held = threading.Event()

    def engine(config, dataset, strategy, seed, control, on_phase, resume):
        held.wait(30)  # the engine does not start until the test has looked
        return iter(())

    app = make_app(config, out(config), engine_factory=engine, dataset=digits, resume=resume)
    async with app.run_test(size=size) as pilot:
        await show_panels(app, pilot)
        entropy, uniform = app.query_one("#run-entropy-s0", RunPanel), app.query_one("#run-uniform-s0", RunPanel)
        assert "query 3 of 6" in drawn(app, entropy.query_one(".status"))
        assert "query 2 of 6" in drawn(app, uniform.query_one(".status"))
        assert "query 0 of" not in " ".join(screen_lines(app))
        histogram = entropy.query_one(ScoreHistogram)
        assert sum(histogram.counts) == 40 and histogram.chosen_min is not None  # from the record's bins
        previews = entropy.query_one(DigitPreviews)
        assert previews.labels == [0, 1, 2, 3, 4]
        assert np.array_equal(previews.images, digits.x_pool[[21, 22, 23, 24, 25], ..., 0])  # query 3's picks
        held.set()
        await app.workers.wait_for_complete()


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_end_names_the_folder_and_the_summary_keeps_run_names_whole(size, out, tiny, digits):
    config = tiny(queries=2, strategies=["var_ratios", "mean_std"])
    run_dir = out(config)
    app = make_app(config, run_dir, engine_factory=FakeEngine(epochs=1), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        line = drawn(app, app.query_one("#overall"))
        assert line.startswith("finished in 0:0") and line.endswith(f"results in {run_dir}"), line
        await show_panels(app, pilot)  # the summary is under the panels (the run table has its figures)
        app.query_one("#main").scroll_end(animate=False)
        await pilot.pause()
        summary = drawn(app, app.query_one("#summary"))
        assert "var_ratios-s0" in summary and "mean_std-s0" in summary and "AUC" in summary, summary
        assert app.farewell() == [f"run folder: {run_dir}", f"report:     baltui report {run_dir}"]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_help_scrolls_to_its_whole_key_table(size, out, tiny, digits):
    config = tiny(queries=2)
    app = make_app(config, out(config), engine_factory=FakeEngine(epochs=1), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause(0.3)
        screen = "\n".join(screen_lines(app))
        # the end of the help is its key table's last row
        assert any("│ Ctrl+P " in row and "command palette" in row for row in screen.splitlines()), screen
        # page by page from the top, the help reads whole: the ETA and the AUC are defined in it
        await pilot.press("home")
        pages = []
        for _ in range(12):
            await pilot.pause(0.2)
            page = drawn(app, app.screen.query_one("#help"))
            pages.append(page.replace("█", " ").replace("▀", " ").replace("▄", " "))
            await pilot.press("pagedown")
        read = " ".join(" ".join(pages).split())
        assert "AUC: the area under the learning curve" in read and "The ETA adds up the queries left" in read
        for key, what in (("p", "pause / resume between epochs and phases"), ("d", "show / hide the queried digits"),
                          ("Enter", "in the run table: open that run's panel")):
            assert f"│ {key} " in read and what in read, key


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_header_palette_and_seeds(size, out, tiny, digits):
    config = tiny(queries=20, seeds=[0, 1])
    run_dir = out(config)
    app = make_app(config, run_dir, engine_factory=FakeEngine(epochs=1, delay=0.2), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        header = screen_lines(app)[0]
        assert header.lstrip().startswith("β") and "⭘" not in header  # baltui's icon, not Textual's default
        assert "seeds 0, 1" in header and "[0, 1]" not in header
        assert header.rstrip().endswith(f"/{run_dir.name}"), header  # the folder keeps its end, whatever the width
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Pause", "Digits", "Compare", "Help", "Quit", "Screenshot"} <= set(titles) and "Resume" not in titles
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"digits")
        await pilot.pause(0.5)
        assert any("Digits" in row for row in screen_lines(app))  # drawn in the palette's list
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen.has_class("-hide-digits")
        await pilot.press("q")
        await app.workers.wait_for_complete()  # the runs stopped before the screen goes


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_every_footer_shows_the_help_key(size, out, tiny, digits, tmp_path):
    """`?` sits next to Quit in the footer: an 80-column terminal cuts the footer's end (label mode's had it)."""
    from baltui.commands.label.app import LabelApp
    from baltui.commands.label.session import LabelSession
    from baltui.core.images import load_source

    config = tiny(queries=2)
    app = make_app(config, out(config), engine_factory=FakeEngine(epochs=1), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: screen_lines(app)[-1].strip())
        assert "? Help" in screen_lines(app)[-1]
        await pilot.press("q")
        await app.workers.wait_for_complete()
    npz = tmp_path / "images.npz"
    np.savez(npz, x_train=digits.x_pool[:40, ..., 0], y_train=digits.y_pool[:40])
    session = LabelSession(load_source(str(npz)), tmp_path / "session", [str(c) for c in range(10)], initial=10,
                           instances=3, epochs=2, batch_size=16, mc_samples=3)
    label = LabelApp(session)
    async with label.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: screen_lines(label)[-1].strip())
        footer = screen_lines(label)[-1]
        assert "? Help" in footer and "Accept" in footer, footer
        await pilot.press("question_mark")
        await pilot.pause()
        assert "One image at a time: press its class" in " ".join(screen_lines(label))  # label mode's help
        await pilot.press("escape", "q")
