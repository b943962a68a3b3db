"""`baltui watch RUN_DIR...`: the dashboard on run folders another process writes.

UI-free core (never imports Textual, rich or plotext): `folders` checks the folders and loads their data,
`follower` tails results.jsonl into the engine's event objects, `state` says running / finished / failed /
stalled. The Textual side is baltui/app/watch_app.py; `cli` imports it only once the folders are good.
"""
