"""Textual / rich widgets shared by the commands' apps: the dashboard, the watcher and label mode.

A layer below every command: it imports nothing from baltui.commands (the import-linter contracts in
pyproject.toml check the direction).
"""
