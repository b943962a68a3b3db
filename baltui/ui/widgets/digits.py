"""The images the latest query chose, with their true label and score: grayscale as shaded characters, RGB in colour.

A grayscale image ([H, W] or [H, W, 1]) is drawn with `render.shaded`'s block characters; an RGB image
([H, W, 3]) as upper half blocks whose foreground is the upper pixel's colour and background the lower one's,
so a cell shows two pixel rows in their own colours.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.geometry import Size
from textual.widgets import Static

from baltui.ui.widgets.tiles import TILE, tile

GAP = 1  # blank columns between two previews


class DigitPreviews(Static):
    """The latest query's images in rows of whole previews (image rows, then a caption line), never one cut across rows.

    A row holds as many previews as fit in the narrowest DigitPreviews on the screen, so every panel of an
    experiment lays them out alike even when the grid gives one column a cell more than the other. The layout is
    computed at render time from the width Textual gives (get_content_height and render), never from a size read
    before layout; a resize of any preview re-lays out all of them.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("waiting for the first query...", **kwargs)
        self.images: np.ndarray | None = None  # [k, H, W] grayscale or [k, H, W, 3] RGB, in [0, 1]
        self.labels: list[int] = []
        self.scores: list[float] | None = None
        self._tiles: list[list[Text]] = []
        self._showing = False  # True after show(), False while a plain message (update()) is shown

    def show(self, images: np.ndarray | None, labels: list[int], scores: list[float] | None) -> None:
        self.images, self.labels, self.scores = images, labels, scores
        self._tiles = [tile(img, TILE) for img in images] if images is not None else []
        self._showing = True
        self.refresh(layout=True)

    def update(self, content="", *, layout: bool = True) -> None:
        """A message instead of previews (the watch app says why there are none)."""
        self._showing = False
        self.images, self._tiles = None, []
        super().update(content, layout=layout)

    def on_resize(self) -> None:
        if self.is_attached:
            for previews in self.screen.query(DigitPreviews):
                previews.refresh(layout=True)

    # ---- layout ---------------------------------------------------------------------------------
    @staticmethod
    def fit(width: int) -> int:
        """How many whole previews fit side by side in `width` columns (one blank column between two)."""
        return max(0, (width + GAP) // (TILE + GAP))

    def per_row(self, width: int) -> int:
        """Previews a row at `width`: no more than fit here, nor in any other shown DigitPreviews of the screen."""
        n = self.fit(width)
        if self.is_attached:
            for other in self.screen.query(DigitPreviews):
                if other is not self and other.display and other.content_size.width > 0:
                    n = min(n, self.fit(other.content_size.width))
        return n

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self._showing:
            return super().get_content_height(container, viewport, width)
        return len(self.compose_text(width).wrap(self.app.console, max(width, 1)))

    def render(self):
        if not self._showing:
            return super().render()
        return self.compose_text(self.content_size.width)

    def compose_text(self, width: int) -> Text:
        """Rows of whole previews in `width` columns; no line is longer than `width`."""
        if self.images is None or len(self.images) == 0:
            return Text("no query yet (query 0 trains on the initial labels)", style="dim")
        tiles = self._tiles if len(self._tiles) == len(self.images) else [tile(img, TILE) for img in self.images]
        per_row = self.per_row(width)
        if per_row == 0:
            return Text(f"{len(tiles)} queried images: too narrow to show", style="dim")
        captions = []
        for i, label in enumerate(self.labels):
            score = f" {self.scores[i]:.2f}" if self.scores else ""
            captions.append(f"y={label}{score}"[:TILE].ljust(TILE))
        lines: list[Text] = []
        for start in range(0, len(tiles), per_row):
            group = range(start, min(start + per_row, len(tiles)))
            for row in range(TILE // 2):
                lines.append(Text(" " * GAP).join(tiles[i][row] for i in group))
            lines.append(Text((" " * GAP).join(captions[i] for i in group).rstrip(), style="bold"))
        return Text("\n").join(lines)
