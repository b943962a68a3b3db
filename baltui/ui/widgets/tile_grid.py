"""TileGrid: images as rows of whole tiles, each with a caption line below it, never one cut across rows.

The dashboard's queried digits (baltui.ui.widgets.digits.DigitPreviews) and label mode's batch strip
(baltui.commands.label.widgets.BatchStrip) are both this widget. A row holds as many tiles as fit in the
width Textual gives at layout time (get_content_height and render), never in a size read before layout.
Grayscale images are drawn as shaded blocks, RGB images in colour (baltui.ui.widgets.tiles.tile).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual.geometry import Size
from textual.widgets import Static

from baltui.ui.widgets.tiles import TILE, tile

GAP = 1  # blank columns between two tiles


class TileGrid(Static):
    """Tiles with captions; `show_tiles` fills it, `update` shows a plain message instead.

    With ALIGN_ON_SCREEN, a row holds no more tiles than fit in the narrowest grid of the same class on the
    screen, so the run panels of an experiment lay their previews out alike even when the screen's grid gives
    one column a cell more than another; a resize of one re-lays out all of them.
    """

    ALIGN_ON_SCREEN: ClassVar[bool] = False

    def __init__(self, message: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self._tiles: list[list[Text]] = []
        self._captions: list[Text] = []
        self._showing = not message  # False while a plain message (update()) is shown

    # ---- content --------------------------------------------------------------------------------
    def show_tiles(self, images: Sequence[np.ndarray] | np.ndarray, captions: Sequence[Text]) -> None:
        """Tiles of `images`, drawn once here, and a caption for each (its plain text in its one style)."""
        self._tiles = [tile(image, TILE) for image in images]
        self._captions = list(captions)
        self._showing = True
        self.refresh(layout=True)

    def update(self, content="", *, layout: bool = True) -> None:
        """A message instead of tiles."""
        self._showing = False
        self._tiles, self._captions = [], []
        super().update(content, layout=layout)

    @property
    def tile_count(self) -> int:
        return len(self._tiles)

    def empty_text(self) -> Text:
        """What an empty grid says."""
        return Text("")

    def too_narrow_text(self) -> Text:
        return Text(f"{len(self._tiles)} images: too narrow to show", style="dim")

    def caption_line(self, group: range) -> Text:
        """The caption line under the tiles of `group`: each caption (its text in its one style) cut or padded
        to the tile's width, so a highlighted caption is as wide as its tile."""
        line = Text()
        for i in group:
            if i > group.start:
                line.append(" " * GAP)
            caption = self._captions[i]
            line.append(caption.plain[:TILE].ljust(TILE), style=caption.style)
        return line

    # ---- layout ---------------------------------------------------------------------------------
    @staticmethod
    def fit(width: int) -> int:
        """How many whole tiles fit side by side in `width` columns (GAP blank columns between two)."""
        return max(0, (width + GAP) // (TILE + GAP))

    def per_row(self, width: int) -> int:
        """Tiles a row at `width` (with ALIGN_ON_SCREEN, no more than fit in any other shown grid like it)."""
        n = self.fit(width)
        if self.ALIGN_ON_SCREEN and self.is_attached:
            for other in self.screen.query(type(self)):
                if other is not self and other.display and other.content_size.width > 0:
                    n = min(n, self.fit(other.content_size.width))
        return n

    def height_for(self, count: int) -> int:
        """The lines `count` tiles will take at the present width (a screen can be planned before they come)."""
        per_row = self.per_row(self.content_size.width)
        return -(-count // per_row) * (TILE // 2 + 1) if per_row else 1

    def on_resize(self) -> None:
        if self.ALIGN_ON_SCREEN and self.is_attached:
            for other in self.screen.query(type(self)):
                other.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self._showing:
            return super().get_content_height(container, viewport, width)
        return len(self.compose_text(width).wrap(self.app.console, max(width, 1)))

    def render(self):
        if not self._showing:
            return super().render()
        return self.compose_text(self.content_size.width)

    def compose_text(self, width: int) -> Text:
        """Rows of whole tiles in `width` columns; no line is longer than `width`."""
        if not self._tiles:
            return self.empty_text()
        per_row = self.per_row(width)
        if per_row == 0:
            return self.too_narrow_text()
        lines: list[Text] = []
        for start in range(0, len(self._tiles), per_row):
            group = range(start, min(start + per_row, len(self._tiles)))
            for row in range(TILE // 2):
                lines.append(Text(" " * GAP).join(self._tiles[i][row] for i in group))
            lines.append(self.caption_line(group))
        return Text("\n").join(lines)
