"""Status lines that wrap between their " · "-separated items, never inside one (dashboard and label mode)."""

from __future__ import annotations

import re

from rich.cells import cell_len
from textual.content import Content

SEPARATOR = " · "


def pack_parts(content: Content, width: int, separator: str = SEPARATOR) -> Content:
    """`content`'s `separator`-separated parts in lines of at most `width` cells, broken between parts only.

    A status line wrapped by the terminal splits an item ("acc" at the end of one line, "0.5400" on the next);
    this keeps every item whole. A single part longer than `width` still wraps on its own.
    """
    plain = content.plain
    if width <= 0 or cell_len(plain) <= width:
        return content
    parts, start = [], 0
    for match in re.finditer(re.escape(separator), plain):
        parts.append((start, match.start()))
        start = match.end()
    parts.append((start, len(plain)))
    lines = []
    line_start, line_end = parts[0]
    for part_start, part_end in parts[1:]:
        if cell_len(plain[line_start:part_end]) <= width:
            line_end = part_end
        else:
            lines.append(content[line_start:line_end])
            line_start, line_end = part_start, part_end
    lines.append(content[line_start:line_end])
    return Content("\n").join(lines)


def line_count(content: Content, width: int) -> int:
    """Lines `content` takes at `width` cells once packed (a part wider than `width` wraps on its own)."""
    if width <= 0:
        return 1
    return sum(max(1, -(-cell_len(line) // width)) for line in pack_parts(content, width).plain.split("\n"))


def fit_parts(parts: list[tuple[Content, int]], width: int, lines: int) -> Content:
    """The parts, packed as `pack_parts` does, in at most `lines` lines: where they do not fit, the parts of
    the highest `rank` are left out first (the latest of equals first); rank 0 is always kept.

    A status line whose height is fixed (the run panels keep one layout) would otherwise lose its last items
    to the edge: at 80 columns the ETA. Ranking them keeps what matters on narrow screens."""
    kept = list(parts)

    def joined() -> Content:
        return Content(SEPARATOR).join([content for content, _ in kept])

    while kept and width > 0 and line_count(joined(), width) > lines:
        droppable = [i for i, (_, rank) in enumerate(kept) if rank > 0]
        if not droppable:
            break
        worst = max(droppable, key=lambda i: (kept[i][1], i))
        del kept[worst]
    return pack_parts(joined(), width)
