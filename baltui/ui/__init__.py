"""Textual and rich pieces shared by the commands' apps: widgets, screens, messages, the stylesheet.

Nothing here imports a command (baltui.commands) or anything else above it.
"""

from pathlib import Path

# The one stylesheet of the dashboard and the watcher (Textual resolves CSS_PATH from a Path as given).
APP_CSS = Path(__file__).with_name("app.tcss")
