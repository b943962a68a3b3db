"""The images the latest query chose, with their true label and score: grayscale as shaded characters, RGB in colour.

A grayscale image ([H, W] or [H, W, 1]) is drawn with `render.shaded`'s block characters; an RGB image
([H, W, 3]) as upper half blocks whose foreground is the upper pixel's colour and background the lower one's,
so a cell shows two pixel rows in their own colours.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from baltui.render import resize, shaded

TILE = 14  # columns per digit; rows are half that
HALF_BLOCK = "▀"


def colour_tile(image: np.ndarray, width: int = TILE) -> list[Text]:
    """An [H, W, 3] image in [0, 1] as `width // 2` rows of `width` half blocks, two pixel rows per cell."""
    img = np.stack([resize(image[..., c], width) for c in range(3)], axis=-1)
    rgb = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)[: (width // 2) * 2]
    rows = []
    for top, bottom in zip(rgb[0::2], rgb[1::2], strict=True):
        row = Text()
        for (r1, g1, b1), (r2, g2, b2) in zip(top.tolist(), bottom.tolist(), strict=True):
            row.append(HALF_BLOCK, Style(color=Color.from_rgb(r1, g1, b1), bgcolor=Color.from_rgb(r2, g2, b2)))
        rows.append(row)
    return rows


def tile(image: np.ndarray, width: int = TILE) -> list[Text]:
    """One preview: colour for RGB ([H, W, 3]), shaded blocks for grayscale ([H, W] or [H, W, 1])."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        return colour_tile(image, width)
    return [Text(row) for row in shaded(image, width)]


class DigitPreviews(Static):
    """Wraps as many digits per line as the panel is wide."""

    def __init__(self, **kwargs) -> None:
        super().__init__("waiting for the first query...", **kwargs)
        self.images: np.ndarray | None = None  # [k, H, W] grayscale or [k, H, W, 3] RGB, in [0, 1]
        self.labels: list[int] = []
        self.scores: list[float] | None = None

    def show(self, images: np.ndarray | None, labels: list[int], scores: list[float] | None) -> None:
        self.images, self.labels, self.scores = images, labels, scores
        self.update(self.compose_text(max(self.size.width, TILE + 1)))

    def on_resize(self) -> None:
        if self.images is not None:
            self.update(self.compose_text(max(self.size.width, TILE + 1)))

    def compose_text(self, width: int) -> Text:
        if self.images is None or len(self.images) == 0:
            return Text("no query yet (query 0 trains on the initial labels)", style="dim")
        per_row = max(1, width // (TILE + 1))
        tiles = [tile(img, TILE) for img in self.images]
        captions = []
        for i, label in enumerate(self.labels):
            score = f" {self.scores[i]:.2f}" if self.scores else ""
            captions.append(f"y={label}{score}"[:TILE].ljust(TILE))
        text = Text()
        for start in range(0, len(tiles), per_row):
            group = range(start, min(start + per_row, len(tiles)))
            for row in range(TILE // 2):
                text.append(Text(" ").join(tiles[i][row] for i in group))
                text.append("\n")
            text.append(" ".join(captions[i] for i in group) + "\n", style="bold")
        return text
