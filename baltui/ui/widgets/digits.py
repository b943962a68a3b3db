"""The images the latest query chose, with their true label (an image folder's class name) and score: a TileGrid
aligned across the run panels.

A grayscale image ([H, W] or [H, W, 1]) is drawn with `render.shaded`'s block characters; an RGB image
([H, W, 3]) as upper half blocks whose foreground is the upper pixel's colour and background the lower one's,
so a cell shows two pixel rows in their own colours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.text import Text

from baltui.ui.widgets.tile_grid import GAP, TileGrid
from baltui.ui.widgets.tiles import TILE, tile

__all__ = ["GAP", "TILE", "DigitPreviews", "caption", "tile"]


def caption(label: int, score: float | None, class_names: Sequence[str] | None = None) -> str:
    """`y=3 0.93`, or `y=cat 0.93` for a named class: a long name is cut (with …) so the score still fits."""
    score_text = "" if score is None else f" {score:.2f}"
    if class_names is None or not 0 <= label < len(class_names):
        return f"y={label}{score_text}"
    name, room = class_names[label], TILE - len("y=") - len(score_text)
    return f"y={name if len(name) <= room else name[: room - 1] + '…'}{score_text}"


class DigitPreviews(TileGrid):
    """The latest query's images in rows of whole previews, as many a row in every panel of the screen."""

    ALIGN_ON_SCREEN = True

    def __init__(self, **kwargs) -> None:
        super().__init__("waiting for the first query...", **kwargs)
        self.images: np.ndarray | None = None  # [k, H, W] grayscale or [k, H, W, 3] RGB, in [0, 1]
        self.labels: list[int] = []
        self.scores: list[float] | None = None

    def show(self, images: np.ndarray | None, labels: list[int], scores: list[float] | None,
             class_names: Sequence[str] | None = None) -> None:
        """The images with their true labels (by name where the data names its classes) and scores."""
        self.images, self.labels, self.scores = images, labels, scores
        captions = [Text(caption(label, scores[i] if scores else None, class_names)) for i, label in enumerate(labels)]
        self.show_tiles(images if images is not None else [], captions)

    def update(self, content="", *, layout: bool = True) -> None:
        """A message instead of previews (the watch app says why there are none)."""
        self.images = None
        super().update(content, layout=layout)

    def empty_text(self) -> Text:
        return Text("no query yet (query 0 trains on the initial labels)", style="dim")

    def too_narrow_text(self) -> Text:
        return Text(f"{self.tile_count} queried images: too narrow to show", style="dim")

    def caption_line(self, group: range) -> Text:
        """One bold line of `y=label score` captions, each as wide as its preview."""
        captions = (self._captions[i].plain[:TILE].ljust(TILE) for i in group)
        return Text((" " * GAP).join(captions).rstrip(), style="bold")
