"""ChartPlot: the base of every baltui chart. Focusable (Tab moves between charts, `f` shows the focused one full
screen), and its axes get round, evenly spaced ticks for the size it is drawn at (baltui.ui.axes)."""

from __future__ import annotations

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from baltui.ui.axes import set_axes

Range = tuple[float, float]
# Cells of a widget that are not the plot area: the y tick labels and the frame (columns), the title, the x
# ticks and the axis title (rows). Ticks are counted for the area that is left.
FRAME_COLUMNS = 8
FRAME_ROWS = 5


class ChartPlot(PlotextPlot, can_focus=True):
    """A plotext chart whose data lives on the widget; subclasses say the ranges their data spans, and whether
    an axis counts (labelled images, queries, pool images: whole-number ticks)."""

    def __init__(self, x_integer: bool = True, y_integer: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.x_integer = x_integer
        self.y_integer = y_integer

    def ranges(self) -> tuple[Range | None, Range | None]:
        """The x and y ranges to show (None: plotext's own)."""
        return None, None

    def apply_axes(self, width: int, height: int) -> None:
        """Limits and ticks for a plot area of about `width` x `height` cells."""
        x, y = self.ranges()
        set_axes(self.plt, width, height, x, y, x_integer=self.x_integer, y_integer=self.y_integer)

    def render(self) -> RenderResult:
        self.apply_axes(self.size.width - FRAME_COLUMNS, self.size.height - FRAME_ROWS)
        return super().render()
