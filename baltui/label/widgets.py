"""The label screen's widgets: the image being asked about, the rest of the batch, the session's numbers."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from baltui.render import shaded

BAR = 24


class ImageView(Static):
    """The current image, large: 28 columns by 14 rows of shades (about square in a terminal)."""

    def show(self, image: np.ndarray | None, caption: str) -> None:
        if image is None:
            self.update(Text(caption, style="bold"))
            return
        text = Text("\n".join(shaded(image, 28)) + "\n")
        text.append(caption, style="bold")
        self.update(text)


class BatchStrip(Static):
    """The whole batch as small previews; the current one marked, labelled ones with their label."""

    def show(self, images: list[np.ndarray], captions: list[str], current: int | None) -> None:
        if not images:
            self.update("")
            return
        per_row = max(1, self.size.width // 15) if self.size.width else 8
        tiles = [shaded(img, 14) for img in images]
        text = Text()
        for start in range(0, len(tiles), per_row):
            group = range(start, min(start + per_row, len(tiles)))
            for row in range(7):
                text.append(" ".join(tiles[i][row] for i in group) + "\n")
            for i in group:
                style = "reverse bold" if i == current else "bold"
                text.append(captions[i][:14].ljust(14), style=style)
                text.append(" ")
            text.append("\n")
        self.update(text)


def bars(names: list[str], counts: list[int], title: str) -> Text:
    """A horizontal bar chart in text: one line per class."""
    text = Text(title + "\n", style="bold")
    top = max(counts) if counts and max(counts) > 0 else 1
    for name, n in zip(names, counts, strict=True):
        text.append(f"{name[:6]:>6} ")
        text.append("█" * round(BAR * n / top), style="cyan")
        text.append(f" {n}\n")
    return text
