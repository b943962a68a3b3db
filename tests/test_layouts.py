"""Layouts at 80x24, 120x40, 160x50 and 200x60 (plus the sizes where bugs were seen): whole previews only.

Pilot runs the real dashboard on a fake engine with 10 queried images a query, and the real label screen on a
small npz. From the widgets' regions and their rendered lines: every digit preview and batch thumbnail lies
whole within one row and inside its container's width, every run panel shows as many previews a row, and no
widget of a panel reaches past the panel's sides. One SVG screenshot per size goes to tmp_path.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from drawn import show_panels
from fakes import FakeEngine, fake_result
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget

from baltui.commands.label.app import LabelApp
from baltui.commands.label.session import LabelSession
from baltui.commands.label.widgets import BAR, BatchStrip
from baltui.commands.run import make_app
from baltui.core.images import load_source
from baltui.runs.results import prepare_out_dir
from baltui.ui.render import shaded
from baltui.ui.widgets.digits import GAP, TILE, DigitPreviews, tile
from baltui.ui.widgets.run_panel import RunPanel
from baltui.ui.widgets.status import SEPARATOR

SIZES = [(80, 24), (120, 40), (160, 50), (200, 60)]
# 128 columns: the grid gives the two panels content widths 58 and 59, where 3 and 4 previews fit.
DASHBOARD_SIZES = [*SIZES, (128, 40)]
LABEL_SIZES = [*SIZES, (150, 45)]  # 150x45: the strip of 10 used to wrap mid-thumbnail into interleaved rows
INSTANCES = 10


def rendered_lines(widget: Widget) -> list[str]:
    """The widget's lines as drawn (after any wrapping), whether or not it is scrolled into view."""
    width, height = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


def assert_inside(widget: Widget, container: Widget) -> None:
    outer = container.region
    assert outer.x <= widget.region.x and widget.region.right <= outer.right, (widget, widget.region, outer)


def assert_whole_tiles(lines: list[str], width: int, tiles: list[list[str]], captions: list[str]) -> int:
    """Rows of whole tiles (TILE wide, TILE // 2 image lines, then the caption line): returns tiles a row."""
    rows_per_tile = TILE // 2 + 1
    first_captions = lines[TILE // 2] if len(lines) > TILE // 2 else ""
    per_row = sum(1 for c in range(0, width, TILE + GAP) if first_captions[c:c + TILE].strip())
    assert 1 <= per_row and per_row * (TILE + GAP) - GAP <= width, (per_row, width)
    n_rows = -(-len(tiles) // per_row)
    assert len(lines) == n_rows * rows_per_tile, "a line wrapped (or a row is missing)"
    for i, (image_rows, caption) in enumerate(zip(tiles, captions, strict=True)):
        top, left = (i // per_row) * rows_per_tile, (i % per_row) * (TILE + GAP)
        assert left + TILE <= width
        for k, row in enumerate(image_rows):
            assert lines[top + k][left:left + TILE] == row, f"preview {i} cut at its image row {k}"
        assert lines[top + TILE // 2][left:left + TILE].rstrip() == caption[:TILE].rstrip(), f"caption {i}"
    return per_row


# ---- dashboard ----------------------------------------------------------------------------------
def fixed_engine(images: np.ndarray):
    """The shared fake engine yielding fixed results: INSTANCES queried images a query, the same every run."""

    def result(strategy, seed, q, config):
        k = 0 if q == 0 else config.instances
        scores = None if strategy == "uniform" else np.linspace(0.0, 1.0, 50)
        return fake_result(strategy, seed, q, instances=config.instances, scores=scores, images=images[:k],
                           queried_scores=None if scores is None else [round(0.1 * i, 2) for i in range(k)])

    return FakeEngine(epochs=1, result=result)


@pytest.mark.parametrize("size", DASHBOARD_SIZES, ids=[f"{w}x{h}" for w, h in DASHBOARD_SIZES])
async def test_dashboard_lays_out_whole_previews_alike_in_every_panel(size, tmp_path, tiny, digits):
    config = tiny(queries=2, instances=INSTANCES)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    images = digits.x_pool[:INSTANCES, ..., 0]
    app = make_app(config, out, engine_factory=fixed_engine(images), dataset=digits)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await show_panels(app, pilot)  # the run table comes first where the panels do not fit: `v` shows them
        panels = list(app.query(RunPanel))
        assert len(panels) == 2 and all(len(p.results) == config.queries + 1 for p in panels)
        per_row, layouts = [], []
        for panel in panels:
            assert 0 <= panel.region.x and panel.region.right <= app.size.width
            for widget in panel.query("*"):
                if widget.display:
                    assert_inside(widget, panel)
            previews = panel.query_one(DigitPreviews)
            assert_inside(previews, panel)
            assert previews.region.width <= panel.content_region.width
            tiles = [[row.plain for row in tile(img)] for img in images]
            captions = [f"y={i % 10} {0.1 * i:.2f}" if panel.strategy != "uniform" else f"y={i % 10}"
                        for i in range(INSTANCES)]
            per_row.append(assert_whole_tiles(rendered_lines(previews), previews.size.width, tiles, captions))
            layouts.append([child.region.height for child in panel.children])
            # the status breaks between items only: every visible " · " part is a whole item
            status = panel.query_one(".status")
            items = Content.from_markup(panel.status_text()).plain.split(SEPARATOR)
            for line in rendered_lines(status):
                for part in filter(None, (p.strip() for p in line.split(SEPARATOR))):
                    assert part in items or part.startswith(("elapsed", "ETA")), (part, items)
        assert len(set(per_row)) == 1, f"panels lay out {per_row} previews a row"
        narrowest = min(p.query_one(DigitPreviews).size.width for p in panels)
        assert per_row[0] == (narrowest + GAP) // (TILE + GAP), "fewer previews a row than the width holds"
        assert len({tuple(heights) for heights in layouts}) == 1, f"panels lay out differently: {layouts}"
        assert len({p.region.height for p in panels}) == 1
        shot = tmp_path / app.save_screenshot(filename=f"dashboard-{size[0]}x{size[1]}.svg", path=str(tmp_path))
        assert shot.exists() and "<svg" in shot.read_text()[:200]


# ---- label mode ---------------------------------------------------------------------------------
@pytest.fixture
def npz(tmp_path, digits):
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=digits.x_pool[:40, ..., 0], y_train=digits.y_pool[:40])
    return path


@pytest.mark.parametrize("size", LABEL_SIZES, ids=[f"{w}x{h}" for w, h in LABEL_SIZES])
async def test_label_batch_strip_keeps_thumbnails_whole(size, npz, tmp_path):
    source = load_source(str(npz))
    session = LabelSession(source, tmp_path / "session", [str(c) for c in range(10)], initial=INSTANCES,
                           instances=3, epochs=2, batch_size=16, mc_samples=3)
    app = LabelApp(session)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        strip = app.query_one(BatchStrip)
        left = app.query_one("#left")
        for keys in ((), ("1", "1", "1", "1", "2", "2", "x")):  # as first shown (the strip was filled before
            await pilot.press(*keys)  # any layout), then 7 of the 10 labelled: no retrain starts
            await pilot.pause()
            assert not app.training
            assert_inside(strip, left)
            assert strip.region.right <= left.content_region.right
            batch = session.pending
            tiles = [shaded(source.images[i], TILE) for i in batch]
            labels = [session.labels.get(i, "?") for i in batch]
            captions = ["?" if label == "?" else "unusable" if label is None else str(label) for label in labels]
            per_row = assert_whole_tiles(rendered_lines(strip), strip.size.width, tiles, captions)
            assert per_row == (strip.size.width + GAP) // (TILE + GAP)
        assert captions[:7] == ["1", "1", "1", "1", "2", "2", "unusable"] and captions[7:] == ["?"] * 3
        # the status line breaks between its items only ("round 0 · image 8 of 10 · 6 labelled · 1 unusable")
        state = app.query_one("#state")
        items = {"round 0", "image 8 of 10", "6 labelled", "1 unusable"}
        lines = [line.strip(" ·") for line in rendered_lines(state) if line.strip()]
        parts = {part for line in lines for part in line.split(" · ")}
        assert items <= parts and all(p in items or re.fullmatch(r"[\d.]+ s per label", p) for p in parts), lines
        # the class bars keep one line each: name, bar, count
        stats = app.query_one("#stats")
        assert_inside(stats, app.query_one("#right"))
        bar_lines = [line.strip() for line in rendered_lines(stats) if "█" in line]
        assert len(bar_lines) == 2 and all(re.fullmatch(r"\S+ █+ \d+", line) for line in bar_lines), bar_lines
        assert max(line.count("█") for line in bar_lines) == BAR
        shot = tmp_path / app.save_screenshot(filename=f"label-{size[0]}x{size[1]}.svg", path=str(tmp_path))
        assert shot.exists() and "<svg" in shot.read_text()[:200]
        await pilot.press("q")
