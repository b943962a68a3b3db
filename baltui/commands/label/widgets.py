"""The label screen's widgets: the image being asked about, the rest of the batch, the session's numbers."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from baltui.ui.widgets.tile_grid import TileGrid
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


class BatchStrip(TileGrid):
    """The whole batch as small previews (a TileGrid); the current one marked, labelled ones with their label."""

    def show(self, images: list[np.ndarray], captions: list[str], current: int | None) -> None:
        self.show_tiles(images, [Text(caption, style="reverse bold" if i == current else "bold")
                                 for i, caption in enumerate(captions)])

    def too_narrow_text(self) -> Text:
        return Text(f"{self.tile_count} images in this batch: too narrow to show", style="dim")


def bars(names: list[str], counts: list[int], title: str) -> Text:
    """A horizontal bar chart in text: one line per class."""
    text = Text(title + "\n", style="bold")
    top = max(counts) if counts and max(counts) > 0 else 1
    for name, n in zip(names, counts, strict=True):
        text.append(f"{name[:6]:>6} ")
        text.append("█" * round(BAR * n / top), style="cyan")
        text.append(f" {n}\n")
    return text
