"""The comparison chart, drawn alike by the dashboard, the watcher and `baltui report`: mean accuracy per
strategy, its band, the paper's points and the 90% / 95% guides, with a legend outside the plot.

One slot per series gives it a colour (its mean line, its band, its paper points and its legend entry) and a
marker: in colour the lines are braille, and where there is no colour (a report piped into a file) each series
is drawn with its own marker character, so the series stay apart on paper. plotext's own legend is never used:
it sits inside the plot, over the curves; the legend here is a line of entries under the chart.

The palette is Okabe & Ito's, chosen for telling colours apart with colour-blindness, instead of the theme's
variables (STYLE.md): a theme has four or five accents, several of them alike, and the series need up to
eight colours that differ. No Textual import: the report draws with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from baltui.runs.aggregate import THRESHOLDS
from baltui.ui.axes import span

# Okabe & Ito (2008) without black, then a grey: RGB, so plotext and rich draw the very same colour.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167),
    (160, 160, 160),
)
MARKERS = ("+", "x", "o", "*", "#", "%", "=", "@")  # one a series where there is no colour
LINE = "━"  # a series' legend swatch in colour
BAND_MARKER = "·"  # the band's edges, in the series' colour
PAPER_MARKER = "◆"
GUIDE_COLOUR = (128, 128, 128)
# How far beyond our largest labelled count the paper's points are drawn: a point at 855 labels on a chart whose
# runs are at 60 would squash every curve into its left edge; each point appears as the runs approach it instead.
REFERENCE_REACH = 1.25
LEGEND_GAP = "   "  # between legend entries
BANDS = ("std", "minmax")  # what the band shows: mean ± sample std over runs, or min / max
BAND_TEXT = {"std": "band: mean ± std", "minmax": "band: min / max"}


def colour(slot: int) -> tuple[int, int, int]:
    return PALETTE[slot % len(PALETTE)]


def hex_colour(slot: int) -> str:
    r, g, b = colour(slot)
    return f"#{r:02x}{g:02x}{b:02x}"


def marker(slot: int) -> str:
    return MARKERS[slot % len(MARKERS)]


@dataclass
class Curve:
    """One series: a strategy's mean over runs (or one run), its band where runs spread, its paper points."""

    name: str
    slot: int  # colour and marker
    x: list[int]
    mean: list[float]
    lo: list[float | None] = field(default_factory=list)  # the band's lower edge, None where there is no spread
    hi: list[float | None] = field(default_factory=list)
    paper: tuple[list[int], list[float]] = ((), ())  # type: ignore[assignment]  # the paper's (labels, accuracy)


@dataclass(frozen=True)
class Look:
    """How to draw: in colour or by markers, with or without bands, paper points and guides."""

    colour: bool = True
    band: bool = True
    paper: bool = True
    guides: bool = True
    accuracy: bool = True  # an accuracy axis (zoomed below 1.0, guides at THRESHOLDS); False: any other metric


def within_reach(points: Iterable[int], largest: float) -> list[tuple[int, float]]:
    """The paper's (labels, accuracy) points at THRESHOLDS that lie within REFERENCE_REACH x our largest count."""
    reach = REFERENCE_REACH * largest
    return [(x, y) for x, y in zip(points, THRESHOLDS, strict=True) if x <= reach]


def _segments(xs: list[int], ys: list[float | None]) -> list[tuple[list[int], list[float]]]:
    """Runs of consecutive points that have a value (a band has none where a single run contributes; a curve
    without a band has no values at all)."""
    if not ys:
        return []
    out: list[tuple[list[int], list[float]]] = []
    cur_x: list[int] = []
    cur_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            if cur_x:
                out.append((cur_x, cur_y))
            cur_x, cur_y = [], []
        else:
            cur_x.append(x)
            cur_y.append(y)
    if cur_x:
        out.append((cur_x, cur_y))
    return out


Range = tuple[float, float]


def draw(plt: Any, curves: list[Curve], look: Look) -> tuple[Range | None, Range | None]:
    """Put the curves on a plotext figure (its data cleared first); returns the x and y ranges to show, for
    baltui.ui.axes.set_axes once the figure's size is known."""
    plt.clear_data()
    xs: list[float] = []
    ys: list[float] = []
    for c in curves:
        xs.extend(c.x)
        ys.extend(c.mean)
        if look.band:
            ys.extend(v for v in c.lo if v is not None)
        if look.paper:
            xs.extend(c.paper[0])
    if not look.accuracy:
        y_range = span(ys)
    else:
        y_range = (max(0.0, min(ys) - 0.05), 1.0) if ys else None
    x_range = span(xs, integer=True, floor=0)
    if look.guides and look.accuracy and x_range is not None:
        for t in THRESHOLDS:  # plotext draws the curves over them
            plt.hline(t, GUIDE_COLOUR if look.colour else None)
    for c in curves:
        paint = colour(c.slot) if look.colour else None
        if look.band:
            for edge in (c.lo, c.hi):
                for seg_x, seg_y in _segments(c.x, edge):
                    plt.plot(seg_x, seg_y, marker=BAND_MARKER, color=paint)
        if c.x:
            plt.plot(c.x, c.mean, marker="braille" if look.colour else marker(c.slot), color=paint)
    if look.paper:
        for c in curves:
            if c.paper[0]:
                plt.scatter(list(c.paper[0]), list(c.paper[1]), marker=PAPER_MARKER,
                            color=colour(c.slot) if look.colour else None)
    return x_range, y_range


def legend(curves: list[Curve], look: Look, band: str = "std", paper_name: str | None = None,
           ) -> list[tuple[str, str | None]]:
    """The legend's entries as (text, colour as #rrggbb or None): one per series, then what the band, the
    paper's points and the guides are."""
    entries: list[tuple[str, str | None]] = []
    for c in curves:
        swatch = LINE if look.colour else marker(c.slot)
        entries.append((f"{swatch} {c.name}", hex_colour(c.slot) if look.colour else None))
    if look.band and any(v is not None for c in curves for v in c.lo):
        entries.append((f"{BAND_MARKER} {BAND_TEXT[band]}", None))
    if look.paper and paper_name and any(c.paper[0] for c in curves):
        entries.append((f"{PAPER_MARKER} {paper_name} at {' / '.join(f'{t:.0%}' for t in THRESHOLDS)}", None))
    if look.guides and look.accuracy:
        entries.append(("─ " + " / ".join(f"{t:.0%}" for t in THRESHOLDS) + " accuracy", None))
    return entries


def pack_entries(entries: list[tuple[str, str | None]], width: int) -> list[list[tuple[str, str | None]]]:
    """Legend entries in lines of at most `width` cells, LEGEND_GAP apart; an entry never breaks."""
    from rich.cells import cell_len

    lines: list[list[tuple[str, str | None]]] = [[]]
    used = 0
    for entry in entries:
        size = cell_len(entry[0])
        if lines[-1] and used + len(LEGEND_GAP) + size > width:
            lines.append([])
            used = 0
        used += (len(LEGEND_GAP) if lines[-1] else 0) + size
        lines[-1].append(entry)
    return lines
