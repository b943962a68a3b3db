"""Textual / rich widgets shared by the dashboard (baltui.app) and label mode (baltui.label).

A layer below both consumers: it imports nothing from baltui.app, baltui.label or baltui.headless, so neither
consumer imports the other (tests/test_import_hygiene.py checks the direction).
"""
