"""The `i` insight screen, driven with App.run_test() + Pilot on what it DRAWS: the dashboard on a fake engine
whose results carry today's metrics (at 80x24 and 160x50), `baltui watch` on a folder headless mode wrote, and
`baltui watch` on an old folder (tests/fixtures/before_layers) whose records have none of them.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from fakes import FakeEngine
from rich.console import Console
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from baltui.commands.run import make_app
from baltui.commands.run.headless import run_headless
from baltui.runs.results import prepare_out_dir
from baltui.runs.watched import open_folders
from baltui.ui.screens.insight import NOT_RECORDED, InsightScreen

OLD_FOLDER = Path(__file__).parent / "fixtures" / "before_layers"


def rendered_lines(widget: Widget) -> list[str]:
    """The widget's lines as drawn, whether or not it is scrolled into view."""
    width, height = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


def drawn(screen: InsightScreen) -> str:
    """Every line the insight screen's texts and charts draw (the screen scrolls at 80x24)."""
    return "\n".join("\n".join(rendered_lines(w)) for w in screen.query("Static, PlotextPlot")
                     if w.display and w.size.height)


def visible(app) -> str:
    """What is on the terminal now."""
    console = Console(width=app.size.width, record=True, file=io.StringIO())
    console.print(app.screen._compositor.render_update(full=True))  # noqa: SLF001
    return console.export_text()


async def _open(pilot, app) -> InsightScreen:
    await pilot.press("i")
    await pilot.pause()
    assert isinstance(app.screen, InsightScreen)
    await pilot.pause(0.1)
    return app.screen


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_dashboard_insight_draws_balance_calibration_and_loss(tmp_path, tiny, digits, size):
    config = tiny(queries=3)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    app = make_app(config, out, engine_factory=FakeEngine(result={"metrics": True}), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = await _open(pilot, app)
        assert screen.panel.run_id == "entropy-s0"  # nothing selected: the first panel
        text = drawn(screen)
        # class balance after query 3: class c has c + 1 + 3 images, 85 in all, by the digits' class names
        assert "85 labelled images after query 3" in text
        lines = text.splitlines()
        assert any(line.split()[:1] == ["0"] and line.rstrip().endswith(" 4") for line in lines)
        assert any(line.split()[:1] == ["9"] and line.rstrip().endswith(" 13") for line in lines)
        # accuracy per class: 0.6 + c / 20; class 9 has no test image
        assert "0.600" in text and "1.000" in text and "no test images of this class" in text
        # calibration numbers of query 3 and the ECE chart, the last fit's loss chart
        assert "query 3: ECE 0.0700 · NLL 0.3500 · Brier 0.2400" in text
        assert "ECE over queries" in text
        assert "training loss, query 3" in text and "4 epochs · final loss 0.1250" in text
        assert NOT_RECORDED not in text
        # at 80x24 the first section is on screen, inside the terminal's width
        shown = visible(app)
        assert "labelled set: images per class" in shown and "insight · entropy · seed 0" in shown
        assert screen.query_one("#insight").region.right <= size[0]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, InsightScreen)
        # the summary gains the last query's NLL and ECE
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(app.summary_text())
        summary = console.export_text()
        assert "NLL" in summary and "ECE" in summary and "0.3500" in summary and "0.0700" in summary


async def test_insight_follows_the_panel_under_the_mouse(tmp_path, tiny, digits):
    config = tiny(queries=1)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    app = make_app(config, out, engine_factory=FakeEngine(result={"metrics": True}), dataset=digits)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.hover("#run-uniform-s0 .status")
        screen = await _open(pilot, app)
        assert screen.panel.run_id == "uniform-s0"
        assert "insight · uniform · seed 0" in visible(app)
        await pilot.press("i")  # `i` closes it too
        await pilot.pause()
        assert not isinstance(app.screen, InsightScreen)


async def test_watch_insight_on_a_folder_headless_wrote(tmp_path, tiny, digits):
    from baltui.commands.watch.app import make_watch_app

    config = tiny(queries=2)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    console = Console(width=200, record=True, file=io.StringIO())
    assert run_headless(config, digits, out, engine_factory=FakeEngine(result={"metrics": True}),
                        console=console) == 0
    summary = console.export_text()
    assert "NLL" in summary and "0.4000" in summary and "0.0800" in summary  # headless's summary: query 2
    app = make_watch_app(open_folders([str(out)]), poll=0.1, probe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.1)
            if "finished" in str(app.query_one("#overall").render()):
                break
        screen = await _open(pilot, app)
        text = drawn(screen)
        assert "75 labelled images after query 2" in text
        assert "query 2: ECE 0.0800 · NLL 0.4000 · Brier 0.2600" in text
        assert "training loss, query 2" in text and NOT_RECORDED not in text
        await pilot.press("q")  # closes the screen, not the watcher
        await pilot.pause()
        assert not isinstance(app.screen, InsightScreen)


async def test_watch_insight_on_an_old_folder_says_not_recorded(tmp_path):
    from baltui.commands.watch.app import make_watch_app

    folder = tmp_path / "before_layers"
    shutil.copytree(OLD_FOLDER, folder)
    app = make_watch_app(open_folders([str(folder / "runs")]), poll=0.1, probe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panels = app.query("WatchRunPanel")
        for _ in range(50):
            await pilot.pause(0.1)
            if panels and all(p.results for p in app.query("WatchRunPanel")):
                break
        screen = await _open(pilot, app)
        text = drawn(screen)
        assert text.count(NOT_RECORDED) == 4  # balance, accuracy per class, calibration, last fit
        assert not screen.query_one("#ece-plot", PlotextPlot).display
        assert not screen.query_one("#loss-plot", PlotextPlot).display
        assert "not recorded in this folder" in visible(app)
        assert str(screen.query_one("#calibration", Static).render()) == NOT_RECORDED
        console = Console(width=200, record=True, file=io.StringIO())
        from baltui.ui.tables import summary_table

        console.print(summary_table(folder / "runs"))
        header, *rows = [line for line in console.export_text().splitlines() if "│" in line or "┃" in line]
        assert "NLL" in header and "ECE" in header
        assert rows and all("nan" not in row for row in rows)
