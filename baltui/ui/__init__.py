"""Textual and rich pieces shared by the commands' apps: the app base, widgets, screens, messages, stylesheets.

Nothing here imports a command (baltui.commands) or anything else above it.
"""

from pathlib import Path

# Textual resolves CSS_PATH from a Path as given. Every app lists BASE_CSS first (what AppBase's screens need).
BASE_CSS = Path(__file__).with_name("base.tcss")
# The one stylesheet of the dashboard and the watcher.
APP_CSS = Path(__file__).with_name("app.tcss")
