"""The run table, the views, the comparison chart and the axes, driven with Pilot at the layout test's sizes.

Every assertion reads what is drawn: the screen's lines, or a widget's rendered lines and their colours. The
dashboard runs on the fake engine (no TensorFlow); the comparison's paper points need runs on the paper's data,
so those tests watch a folder written by hand whose provenance names MNIST's content hash (no MNIST is read).
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from drawn import screen_lines, show_panels
from fakes import FakeEngine, fake_result
from textual.geometry import Region
from textual.widget import Widget

from baltui.commands.run import make_app
from baltui.core.config import RunConfig
from baltui.core.events import QueryResult
from baltui.runs.references import MNIST_SHA256
from baltui.runs.results import prepare_out_dir
from baltui.runs.watched import open_folders
from baltui.ui.charts import GUIDE_COLOUR, PALETTE, PAPER_MARKER
from baltui.ui.widgets.class_balance import ClassBalancePlot, fitting_title
from baltui.ui.widgets.comparison import Comparison, ComparisonLegend, ComparisonPlot
from baltui.ui.widgets.histogram import ScoreHistogram
from baltui.ui.widgets.plots import AccuracyPlot
from baltui.ui.widgets.run_panel import RunPanel
from baltui.ui.widgets.run_table import RunTable

SIZES = [(80, 24), (120, 40), (160, 50), (200, 60)]
IDS = [f"{w}x{h}" for w, h in SIZES]
BRAILLE = re.compile("[\u2801-\u28ff]")
# the six runs (strategy, seed) of the table tests: final accuracy and the query that first reaches 90% (None:
# never), so that accuracy and labels to 90% sort them differently
RUNS = {("entropy", 0): (0.93, 3), ("bald", 0): (0.91, 2), ("uniform", 0): (0.80, None),
        ("entropy", 1): (0.97, 5), ("bald", 1): (0.99, 4), ("uniform", 1): (0.95, 6)}
TABLE_QUERIES = 6


def drawn(widget: Widget) -> list:
    """The widget's strips as drawn (segments keep their styles)."""
    width, height = widget.size
    return widget.render_lines(Region(0, 0, width, height))


def text_of(widget: Widget) -> list[str]:
    return [strip.text for strip in drawn(widget)]


def colours_of(widget: Widget, chars: re.Pattern | str) -> set[tuple[int, int, int]]:
    """The foreground colours of the characters matching `chars` in the widget as drawn."""
    pattern = re.compile(chars) if isinstance(chars, str) else chars
    out = set()
    for strip in drawn(widget):
        for segment in strip:
            if segment.style and segment.style.color and pattern.search(segment.text):
                out.add(tuple(segment.style.color.get_truecolor()))
    return out


def plot_area(lines: list[str]) -> list[str]:
    """The rows between a plotext chart's top (┌) and bottom (└) frame lines."""
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[top + 1:bottom]


def x_tick_labels(lines: list[str]) -> list[str]:
    """The labels under a chart's bottom frame line."""
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[bottom + 1].split()


def assert_round_ticks(ticks: list[float]) -> None:
    """Evenly spaced multiples of a round step: 1, 2, 2.5 or 5 times a power of ten."""
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(ticks) >= 2 and len(steps) == 1, ticks
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5)), ticks
    assert all(math.isclose(t / step, round(t / step), abs_tol=1e-6) for t in ticks), ticks


def table_order(app) -> list[str]:
    """The run ids as the run table is drawn, top to bottom."""
    return [m[1] for line in text_of(app.query_one(RunTable)) if (m := re.search(r"■ (\S+)", line))]


# ---- the run table ------------------------------------------------------------------------------
def six_runs_engine():
    def result(strategy, seed, q, config):
        final, reach = RUNS[(strategy, seed)]
        accuracy = 0.5 + (final - 0.5) * min(1.0, q / (reach or config.queries))
        return fake_result(strategy, seed, q, instances=config.instances, accuracy=accuracy)

    return FakeEngine(epochs=1, result=result)


@pytest.fixture
def dashboard(tmp_path, tiny, digits):
    def _make(strategies=("entropy", "bald", "uniform"), seeds=(0, 1), queries=TABLE_QUERIES, engine=None):
        config = tiny(strategies=list(strategies), seeds=list(seeds), queries=queries)
        out = tmp_path / "-".join(strategies)
        prepare_out_dir(out, config.to_dict())
        return make_app(config, out, engine_factory=engine or six_runs_engine(), dataset=digits)

    return _make


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_run_table_comes_first_sorts_and_opens_a_panel(size, dashboard):
    app = dashboard()
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: sum("■" in line and "finished" in line for line in screen_lines(app)) == 6)
        lines = screen_lines(app)
        # six runs: the table is the first thing under the top bar, one row per run, every column in view
        at = app.query_one("#top").region.bottom  # the top bar: 2 lines once the finish line names the folder
        header = lines[at].split()
        assert header == ["run", "status", "query", "labels", "acc", "→90%", "→95%", "s/query", "ETA"], lines[at]
        runs = [f"{strategy}-s{seed}" for strategy, seed in RUNS]
        assert [re.search(r"■ (\S+)", line)[1] for line in lines[at + 1:at + 7]] == runs
        assert all("finished" in line and "6/6" in line for line in lines[at + 1:at + 7])
        assert not any("seed 0" in line for line in lines)  # no panel drawn
        # `o` sorts by the next column: status, query, labels, accuracy (best first, ▼ in its header)
        for _ in range(4):
            await pilot.press("o")
        await pilot.pause()
        by_accuracy = ["bald-s1", "entropy-s1", "uniform-s1", "entropy-s0", "bald-s0", "uniform-s0"]
        assert table_order(app) == by_accuracy and "acc▼" in screen_lines(app)[app.query_one("#top").region.bottom]
        await pilot.press("o")  # labels to 90%: fewest first, the run that never got there last
        await pilot.pause()
        assert table_order(app) == ["bald-s0", "entropy-s0", "bald-s1", "entropy-s1", "uniform-s1", "uniform-s0"]
        assert "→90%▲" in screen_lines(app)[app.query_one("#top").region.bottom]
        # a click on the acc header sorts by it; a second click turns it round
        table = app.query_one(RunTable)
        acc_x = text_of(table)[0].index("acc")
        await pilot.click(RunTable, offset=(acc_x + 1, 0))
        await pilot.pause()
        assert table_order(app) == by_accuracy
        await pilot.click(RunTable, offset=(acc_x + 1, 0))
        await pilot.pause()
        under_top = screen_lines(app)[app.query_one("#top").region.bottom]
        assert table_order(app) == by_accuracy[::-1] and "acc▲" in under_top
        # Enter on the second row: the panels, that run's in view and marked; Escape: the table again
        table.focus()
        table.move_cursor(row=1)
        chosen = table_order(app)[1]
        await pilot.press("enter")
        await pilot.pause(0.3)
        strategy, seed = chosen[:-3], chosen[-1]
        assert app.view == "panels" and any(f"{strategy} · seed {seed}" in line for line in screen_lines(app))
        assert app.query_one(f"#run-{chosen}", RunPanel).has_class("-selected")
        assert not any("→90%" in line for line in screen_lines(app))
        await pilot.press("escape")
        await pilot.pause()
        assert app.view == "table" and "→90%" in screen_lines(app)[app.query_one("#top").region.bottom]


async def test_the_table_shows_the_eta_and_pace_the_panels_show(dashboard):
    app = dashboard(strategies=("entropy", "uniform"), seeds=(0,), queries=200,
                    engine=FakeEngine(epochs=2, delay=0.05))
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one("#run-entropy-s0", RunPanel)
        await wait_for(pilot, lambda: len(panel.results) >= 4)
        while app.view != "table":
            await pilot.press("v")
        await pilot.press("p")  # paused: no new result between reading the table and the status line
        await pilot.pause(0.5)
        app.tick()  # the once-a-second refresh: the status lines and the table together
        status = panel.status_text()  # what its status line says (the panel is hidden under the table)
        pace = panel.seconds_per_query()
        row = next(line for line in text_of(app.query_one(RunTable)) if "entropy-s0" in line)
        await pilot.press("q")  # (a paused run would keep its thread, and the test, waiting)
        eta = re.search(r"ETA (\d+:\d\d)", status)[1]
        seconds = lambda clock: int(clock.split(":")[0]) * 60 + int(clock.split(":")[1])  # noqa: E731
        assert abs(seconds(row.split()[-1]) - seconds(eta)) <= 1  # read a moment apart
        assert pace is not None and row.split()[-2] == f"{pace:.1f}"  # the panel's own pace, to 0.1 s


@pytest.mark.parametrize(("size", "first"), [((80, 24), "table"), ((120, 40), "table"), ((160, 50), "panels"),
                                           ((200, 60), "panels")], ids=IDS)
async def test_two_runs_open_on_the_panels_where_they_fit(size, first, dashboard):
    """Five previews a query: at 120x40 they take two rows of the narrow panels, which then no longer fit (the
    view is chosen for the panels as they will be, not as they are before the first query)."""
    import threading

    gate = threading.Event()  # no query before the view is chosen
    app = dashboard(strategies=("entropy", "uniform"), seeds=(0,), engine=FakeEngine(epochs=1, gate=gate, gate_at=0))
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        assert app.view == first and not app.query_one(RunPanel).results
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        lines = screen_lines(app)
        assert app.view == first
        if first == "panels":  # and the panels fit now that the previews are in
            assert app.query_one(".panels").outer_size.height <= app.query_one("#main").size.height
        at = app.query_one("#top").region.bottom
        assert (lines[at].split()[:2] == ["run", "status"]) == (first == "table")
        assert any("entropy · seed 0" in line for line in lines) == (first == "panels")
        # `v`: the next view, round and round; the comparison view shows the chart and its legend alone
        views = ["table", "panels", "comparison"]
        for step in range(1, 4):
            await pilot.press("v")
            await pilot.pause()
            assert app.view == views[(views.index(first) + step) % 3]
            lines = screen_lines(app)
            if app.view == "comparison":
                assert any("test accuracy, all runs" in line for line in lines)
                assert any("━ entropy-s0" in line for line in lines)
                assert not any("seed 0" in line or "→90%" in line for line in lines[at:])  # (the header names seeds)


async def test_more_than_four_runs_open_on_the_table_even_where_their_panels_fit(dashboard):
    """On a screen tall enough for six panels, six runs still open on the table; four open on their panels."""
    for strategies, first in ((("entropy", "bald", "uniform"), "table"), (("entropy", "bald"), "panels")):
        app = dashboard(strategies=strategies)
        async with app.run_test(size=(200, 140)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)
            assert app.query_one(".panels").outer_size.height < 130 or first == "table"
            under_top = screen_lines(app)[app.query_one("#top").region.bottom]
            assert app.view == first and (under_top.split()[:2] == ["run", "status"]) == (first == "table")
            await pilot.press("v")
            await pilot.pause()
            assert app.query_one(".panels").outer_size.height < 130  # six panels would have fitted


# ---- the comparison ------------------------------------------------------------------------------
def mnist_folder(root: Path, seeds=(0, 1), queries: int = 30) -> Path:
    """A run folder on MNIST (by its content hash in the provenance), rows written by hand: entropy and uniform
    with two seeds each, at 20 + 10 q labels, entropy the steeper."""
    folder = root / "mnist"
    folder.mkdir()
    config = RunConfig(name="m", dataset="npz", data="mnist.npz", strategies=["entropy", "uniform"],
                       seeds=list(seeds), queries=queries, instances=10, out=str(folder))
    record = {**config.to_dict(), "provenance": {"data_sha256": MNIST_SHA256, "n_classes": 10}}
    (folder / "config.json").write_text(json.dumps(record))
    rows = []
    for seed in seeds:
        for strategy, scale in (("entropy", 60.0), ("uniform", 120.0)):
            for q in range(queries + 1):
                n = 20 + 10 * q
                acc = 0.99 - 0.5 * math.exp(-(n - 20) / scale) - 0.03 * seed
                result = QueryResult(f"{strategy}-s{seed}", strategy, seed, q, n, 1000 - n, acc, 0.0, 0.0, 0.0,
                                     [], [], None, None, None, [])
                rows.append(json.dumps({"type": "query", **result.to_record()}))
    (folder / "results.jsonl").write_text("\n".join(rows) + "\n")
    return folder


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_comparison_colours_legend_band_paper_and_one_strategy_at_a_time(size, tmp_path):
    from baltui.commands.watch.app import make_watch_app

    app = make_watch_app(open_folders([str(mnist_folder(tmp_path))]), poll=0.1, probe=False)
    async with app.run_test(size=size) as pilot:
        plot = app.query_one(ComparisonPlot)
        await wait_for(pilot, lambda: sum(len(p) for _, p in plot.curves.values()) == 4 * 31)
        await pilot.pause(0.3)  # the view is chosen once laid out
        while app.view != "comparison":
            await pilot.press("v")
        await pilot.pause(0.3)
        legend = app.query_one(ComparisonLegend)
        assert legend.region.y >= plot.region.bottom  # the legend is under the plot, outside it
        legend_text = " ".join(text_of(legend))
        for entry in ("━ entropy", "━ uniform", "· band: mean ± std", f"{PAPER_MARKER} Gal 2017 at 90% / 95%",
                      "─ 90% / 95% accuracy"):
            assert entry in legend_text, legend_text
        lines = text_of(plot)
        area = plot_area(lines)
        assert not any("entropy" in line or "uniform" in line for line in area)  # no legend inside the plot
        # one colour per strategy: its mean line, its band and its legend swatch
        series = {PALETTE[0], PALETTE[1]}
        assert colours_of(plot, BRAILLE) == series
        assert colours_of(plot, "·") == series
        assert colours_of(legend, "━") == series
        # the paper's points (entropy 185 and 375, uniform 275: within reach of 320 labels), in their colours
        assert sum(line.count(PAPER_MARKER) for line in area) == 3
        assert colours_of(plot, PAPER_MARKER) == series
        # the 90% / 95% guides: two rows drawn across the plot
        assert sum(1 for line in area if re.search("├.*┤$", line.rstrip())) == 2  # joined to both frame sides
        assert GUIDE_COLOUR in colours_of(plot, "─")
        # round, evenly spaced x ticks in whole labels
        assert_round_ticks([int(t) for t in x_tick_labels(lines)])
        # b: the band is min / max (two seeds: it is drawn elsewhere than mean ± std)
        band_rows = [line for line in plot_area(text_of(plot))]
        await pilot.press("b")
        await pilot.pause()
        assert "· band: min / max" in " ".join(text_of(legend))
        assert plot_area(text_of(plot)) != band_rows and colours_of(plot, "·") == series
        # r: no paper points, and no legend entry for them
        await pilot.press("r")
        await pilot.pause()
        assert not any(PAPER_MARKER in line for line in text_of(plot))
        assert PAPER_MARKER not in " ".join(text_of(legend))
        # n: one strategy, then the other, then both
        await pilot.press("n")
        await pilot.pause()
        assert colours_of(plot, BRAILLE) == {PALETTE[0]} and "only entropy (1/2)" in text_of(plot)[0]
        assert "uniform" not in " ".join(text_of(legend))
        await pilot.press("n")
        await pilot.pause()
        assert colours_of(plot, BRAILLE) == {PALETTE[1]} and "only uniform (2/2)" in text_of(plot)[0]
        await pilot.press("n")
        await pilot.pause()
        assert colours_of(plot, BRAILLE) == series and "only" not in text_of(plot)[0]
        # f: the comparison full screen, legend included; Escape: back
        await pilot.press("f")
        await pilot.pause()
        comparison = app.query_one(Comparison)
        assert app.screen.maximized is comparison and comparison.region.width == size[0]
        assert comparison.region.height >= size[1] - 2 and legend.region.bottom <= comparison.region.bottom
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.maximized is None
        await pilot.press("q")


# ---- axes and the histogram ---------------------------------------------------------------------
def gapped_engine(gate):
    """Scores in two clusters with empty bins between them; query 1 waits for `gate`."""

    def result(strategy, seed, q, config):
        rng = np.random.default_rng([seed, q])
        scores = np.concatenate([rng.random(40) * 0.3, 1.7 + rng.random(10) * 0.3])
        if strategy == "uniform":  # no scores, as the real uniform
            scores = None
        balance = [0 if c == 7 else 2 + c + q for c in range(10)]  # class 7 never labelled: no bar
        return fake_result(strategy, seed, q, instances=config.instances, scores=scores, labelled_per_class=balance)

    return FakeEngine(epochs=1, gate=gate, gate_at=1, result=result)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_axes_tick_round_whole_numbers_and_histogram_bars_stand_whole(size, dashboard):
    import threading

    gate = threading.Event()
    app = dashboard(strategies=("entropy", "uniform"), seeds=(0,), queries=6, engine=gapped_engine(gate))
    async with app.run_test(size=size) as pilot:
        panel = app.query_one("#run-entropy-s0", RunPanel)
        await wait_for(pilot, lambda: len(panel.results) == 1)
        await pilot.pause(0.3)  # the view is chosen once laid out
        await show_panels(app, pilot)
        await pilot.pause(0.3)
        # the class balance (where the pool curve was): the classes named under their bars, evenly, from the first
        balance = panel.query_one(ClassBalancePlot)
        names = x_tick_labels(text_of(balance))
        assert names and names[0] == "0" and all(re.fullmatch(r"\d", t) for t in names)
        steps = {int(b) - int(a) for a, b in zip(names, names[1:], strict=False)}
        assert len(steps) <= 1, names
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        for chart in (panel.query_one(".accuracy", AccuracyPlot),):
            lines = text_of(chart)
            ticks = [int(t) for t in x_tick_labels(lines)]  # whole numbers: labelled images
            assert_round_ticks(ticks)
            bottom = next(line for line in lines if "└" in line)
            marks = [i for i, c in enumerate(bottom) if c == "┬"]  # evenly spaced on the axis too
            assert max(b - a for a, b in zip(marks, marks[1:], strict=False)) - \
                min(b - a for a, b in zip(marks, marks[1:], strict=False)) <= 1
        balance_y = [line.split("┤")[0].strip() for line in plot_area(text_of(balance)) if "┤" in line]
        assert balance_y and all(re.fullmatch(r"\d+", t) for t in balance_y)  # images per class: whole numbers
        assert balance.counts == [0 if c == 7 else 2 + c + 6 for c in range(10)]  # the last query's
        title = fitting_title(balance.size.width)  # one that fits: plotext drops one that does not
        assert title in " ".join(text_of(balance)) and (size[0] < 120 or title == "labelled per class")
        histogram = panel.query_one(ScoreHistogram)
        lines = text_of(histogram)
        assert "pool images" in lines[-1] and "score" in lines[-1]  # both axes titled
        score_ticks = [float(t) for t in x_tick_labels(lines)]
        assert_round_ticks(score_ticks)
        assert 0 <= min(score_ticks) and max(score_ticks) <= 2.0  # score values (the bars are drawn in bin units)
        area = [re.split("[│┤]", line, maxsplit=1)[1].rstrip("│ ") for line in plot_area(lines)]
        # every bar stands whole down to the axis (an empty bin's blank bar once cut its neighbour's foot),
        # and the empty bins between the two clusters draw nothing
        for column in range(max(len(line) for line in area)):
            cells = [line[column] if column < len(line) else " " for line in area]
            if "█" in cells:
                first = cells.index("█")
                assert all(c == "█" for c in cells[first:]), (column, cells)
        width = len(area[-1])
        assert "█" not in "".join(line[width // 3: width // 2] for line in area)


def test_the_class_balance_title_fits_every_width_a_panel_gives_it():
    """plotext drops a title wider than the chart allows: the balance chart picks one it draws (80x24's panels
    give it about 12 columns)."""
    import plotext as plt

    for width in range(12, 40):
        title = fitting_title(width)
        plt.clear_figure()
        plt.plotsize(width, 10)
        plt.title(title)
        plt.bar([0, 1, 2], [3, 4, 5])
        assert title in plt.build().splitlines()[0], width
    assert fitting_title(40) == "labelled per class"
