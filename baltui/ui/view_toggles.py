"""The view keys the live dashboard and the watcher share (`d` digits, `c` comparison): one definition."""

from __future__ import annotations

from typing import Any


class ViewToggles:
    """Mixin for an App whose screen hides the digit previews and the comparison chart by CSS class."""

    screen: Any

    def action_toggle_digits(self) -> None:
        self.screen.toggle_class("-hide-digits")

    def action_toggle_comparison(self) -> None:
        self.screen.toggle_class("-hide-comparison")
