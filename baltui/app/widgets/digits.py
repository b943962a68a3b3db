"""The images the latest query chose, as shaded characters with their true label and score."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static

from baltui.render import shaded

TILE = 14  # columns per digit; rows are half that


class DigitPreviews(Static):
    """Wraps as many digits per line as the panel is wide."""

    def __init__(self, **kwargs) -> None:
        super().__init__("waiting for the first query...", **kwargs)
        self.images: np.ndarray | None = None
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
        tiles = [shaded(img, TILE) for img in self.images]
        captions = []
        for i, label in enumerate(self.labels):
            score = f" {self.scores[i]:.2f}" if self.scores else ""
            captions.append(f"y={label}{score}"[:TILE].ljust(TILE))
        text = Text()
        for start in range(0, len(tiles), per_row):
            group = range(start, min(start + per_row, len(tiles)))
            for row in range(TILE // 2):
                text.append(" ".join(tiles[i][row] for i in group) + "\n")
            text.append(" ".join(captions[i] for i in group) + "\n", style="bold")
        return text
