"""The label screen's widgets: the image being asked about, the rest of the batch, the session's numbers."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.geometry import Size
from textual.widgets import Static

from baltui.ui.widgets.tiles import tile

BAR = 20  # blocks in the longest bar: a bar line is 6 + 1 + BAR + 1 + count cells


class ImageView(Static):
    """The current image, large: 28 columns by 14 rows of shades (about square in a terminal)."""

    def show(self, image: np.ndarray | None, caption: str) -> None:
        if image is None:
            self.update(Text(caption, style="bold"))
            return
        text = Text("\n").join(tile(image, 28))
        text.append("\n")
        text.append(caption, style="bold")
        self.update(text)


class BatchStrip(Static):
    """The whole batch as small previews; the current one marked, labelled ones with their label.

    Rows of whole thumbnails (image rows, then the caption): as many a row as fit in the width Textual gives at
    layout time (get_content_height and render), so a thumbnail is never cut across rows at any size.
    """

    THUMB = 14  # columns per thumbnail; rows are half that
    GAP = 1  # blank columns between two thumbnails

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tiles: list[list[Text]] = []
        self.captions: list[str] = []
        self.current: int | None = None

    def show(self, images: list[np.ndarray], captions: list[str], current: int | None) -> None:
        self.tiles = [tile(img, self.THUMB) for img in images]
        self.captions, self.current = list(captions), current
        self.refresh(layout=True)

    def per_row(self, width: int) -> int:
        """How many whole thumbnails fit side by side in `width` columns."""
        return max(0, (width + self.GAP) // (self.THUMB + self.GAP))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.compose_text(width).wrap(self.app.console, max(width, 1)))

    def render(self) -> Text:
        return self.compose_text(self.content_size.width)

    def compose_text(self, width: int) -> Text:
        """Rows of whole thumbnails in `width` columns; no line is longer than `width`."""
        if not self.tiles:
            return Text("")
        per_row = self.per_row(width)
        if per_row == 0:
            return Text(f"{len(self.tiles)} images in this batch: too narrow to show", style="dim")
        gap = " " * self.GAP
        lines: list[Text] = []
        for start in range(0, len(self.tiles), per_row):
            group = range(start, min(start + per_row, len(self.tiles)))
            for row in range(self.THUMB // 2):
                lines.append(Text(gap).join(self.tiles[i][row] for i in group))
            captions = Text()
            for i in group:
                if i > start:
                    captions.append(gap)
                captions.append(self.captions[i][: self.THUMB].ljust(self.THUMB),
                                style="reverse bold" if i == self.current else "bold")
            lines.append(captions)
        return Text("\n").join(lines)


def bars(names: list[str], counts: list[int], title: str) -> Text:
    """A horizontal bar chart in text: one line per class."""
    text = Text(title + "\n", style="bold")
    top = max(counts) if counts and max(counts) > 0 else 1
    for name, n in zip(names, counts, strict=True):
        text.append(f"{name[:6]:>6} ")
        text.append("█" * round(BAR * n / top), style="cyan")
        text.append(f" {n}\n")
    return text
