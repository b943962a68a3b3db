"""Textual / rich widgets shared by the dashboard (baltui.commands.run) and label mode (baltui.commands.label).

A layer below both consumers: it imports nothing from baltui.commands.run, baltui.commands.label or baltui.commands.run.headless, so neither
consumer imports the other (tests/test_import_hygiene.py checks the direction).
"""
