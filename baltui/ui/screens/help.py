"""The `?` screen: the app's own introduction, then its keys as the key table (baltui.ui.keys) lists them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from baltui.ui.keys import help_table


class HelpScreen(ModalScreen[None]):
    """A modal over the app; the work keeps going underneath."""

    AUTO_FOCUS = "#help"

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="close-help")]

    def __init__(self, app_name: str, intro: str = "") -> None:
        super().__init__()
        self.text = (intro.rstrip() + "\n\n" if intro else "") + help_table(app_name)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):  # focused: the arrows, Page Down and End scroll a help taller than the screen
            yield Markdown(self.text)
