"""Images as terminal text: shaded blocks for grayscale, half blocks in true colour for RGB.

Shared by the dashboard's digit previews and label mode's image view and batch strip (a layer below both).
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

from baltui.ui.render import resize, shaded

TILE = 14  # default columns per image; rows are half that
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


