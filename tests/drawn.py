"""What the screen shows, as text: the compositor's lines, whole or cropped to a widget's region on screen.

Unlike a widget's own render, these are the cells the terminal gets, after layout, padding, clipping by the
widget's container and anything drawn over it (a modal screen), so a test that reads them fails when a
feature is cut off at a small size.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.widget import Widget


def screen_lines(app) -> list[str]:
    """Every line of the screen as the terminal would show it (the topmost screen's compositor)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def drawn(app, widget: Widget) -> str:
    """The widget's part of the screen, its lines stripped and joined by a space ("" when not on screen)."""
    region = widget.region.intersection(app.screen.region)
    lines = screen_lines(app)[region.y:region.bottom]
    return " ".join(line[region.x:region.right].strip() for line in lines).strip()


async def show_panels(app, pilot) -> None:
    """Press `v` until the run panels are in view, as a user would: two runs open on the run table where their
    panels do not fit the screen, and a test that reads a panel must bring them up first."""
    await pilot.pause()  # the view that fits is chosen once laid out
    for _ in range(3):
        if app.view == "panels":
            break
        await pilot.press("v")
        await pilot.pause()
    assert app.view == "panels"


async def wait_until(pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until condition() holds: on a loaded machine one pause can come before the first frame."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)
