"""One TileGrid draws the dashboard's queried digits and label mode's batch strip, exactly as the two widgets did.

tests/fixtures/tile_grids_before_the_shared_widget.json holds what DigitPreviews and BatchStrip drew before
they shared TileGrid (text and styles, grayscale and colour, at widths from too narrow to one row), recorded
from the code of 3dab4d1 with the calls below.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text

from baltui.commands.label.widgets import BatchStrip
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.tile_grid import TileGrid

BEFORE = json.loads((Path(__file__).parent / "fixtures" / "tile_grids_before_the_shared_widget.json").read_text())


def drawn(text: Text) -> dict:
    spans = [[span.start, span.end, str(span.style)] for span in text.spans]
    return {"plain": text.plain, "spans": spans, "style": str(text.style)}


def draw_all(digits) -> dict[str, dict]:
    images = digits.x_pool[:5, ..., 0]
    colour = np.random.default_rng(0).random((2, 12, 12, 3))
    out = {}
    previews = DigitPreviews()
    previews.show(images, [0, 1, 2, 3, 4], [0.5, 0.25, 0.125, 1.0, 0.0])
    for width in (0, 14, 29, 44, 80):
        out[f"digits-{width}"] = drawn(previews.compose_text(width))
    previews.show(images[:3], [7, 8, 9], None)
    out["digits-noscores-60"] = drawn(previews.compose_text(60))
    previews.show(np.zeros((0, 8, 8)), [], None)
    out["digits-empty-60"] = drawn(previews.compose_text(60))
    strip = BatchStrip()
    strip.show(list(images), ["3", "?", "unusable", "a-very-long-class-name", "?"], 1)
    for width in (0, 14, 29, 44, 80):
        out[f"strip-{width}"] = drawn(strip.compose_text(width))
    strip.show(list(images[:2]), ["?", "?"], None)
    out["strip-nocurrent-60"] = drawn(strip.compose_text(60))
    strip.show([], [], None)
    out["strip-empty-60"] = drawn(strip.compose_text(60))
    strip.show(list(colour), ["red", "blue"], 0)
    out["strip-colour-40"] = drawn(strip.compose_text(40))
    previews.show(colour, [0, 1], [0.1, 0.2])
    out["digits-colour-40"] = drawn(previews.compose_text(40))
    return out


def test_both_grids_are_one_widget():
    assert issubclass(DigitPreviews, TileGrid) and issubclass(BatchStrip, TileGrid)
    assert DigitPreviews.ALIGN_ON_SCREEN and not BatchStrip.ALIGN_ON_SCREEN


@pytest.mark.parametrize("case", sorted(BEFORE))
def test_draws_what_the_two_widgets_drew(case, digits):
    assert draw_all(digits)[case] == BEFORE[case]


async def test_a_mounted_grid_draws_the_same_lines_at_its_width(digits):
    """In an app: the lines on screen are the recorded ones (rows of whole tiles at the width it is given)."""
    from textual.app import App
    from textual.geometry import Region

    class One(App):
        def compose(self):
            yield BatchStrip()

    app = One()
    async with app.run_test(size=(44, 20)) as pilot:
        strip = app.query_one(BatchStrip)
        strip.show(list(digits.x_pool[:5, ..., 0]), ["3", "?", "unusable", "a-very-long-class-name", "?"], 1)
        await pilot.pause()
        lines = [s.text.rstrip() for s in strip.render_lines(Region(0, 0, strip.size.width, strip.size.height))]
    assert lines == [line.rstrip() for line in BEFORE["strip-44"]["plain"].split("\n")]
