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
