"""What the screen shows, as text: the compositor's lines, whole or cropped to a widget's region on screen.

Unlike a widget's own render, these are the cells the terminal gets, after layout, padding, clipping by the
widget's container and anything drawn over it (a modal screen), so a test that reads them fails when a
feature is cut off at a small size.
"""

from __future__ import annotations

from textual.widget import Widget


def screen_lines(app) -> list[str]:
    """Every line of the screen as the terminal would show it (the topmost screen's compositor)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def drawn(app, widget: Widget) -> str:
    """The widget's part of the screen, its lines stripped and joined by a space ("" when not on screen)."""
    region = widget.region.intersection(app.screen.region)
    lines = screen_lines(app)[region.y:region.bottom]
    return " ".join(line[region.x:region.right].strip() for line in lines).strip()
