"""What a user can do next with a run folder: the lines every command prints as it leaves one.

The dashboard, `baltui watch` and headless mode all print these on the way out (q, Ctrl+C, a signal, the
end), so the folder and the exact commands to continue and to report are in the terminal's scrollback
whichever way the screen closed. A resume is offered only when it can run: the folder is unfinished and no
other process holds its lock (a watcher must not suggest a second writer beside a live one).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from baltui.core.errors import BaltuiError
from baltui.runs.folder import RunFolder
from baltui.runs.lock import other_writer
from baltui.runs.recorder import run_complete


def folder_finished(folder: RunFolder) -> bool:
    """Every run config.json lists has its last query and its finish on disk (or was stopped by one of its rules)."""
    by_run = folder.records_by_run()
    stop_when = folder.config.get("stop_when")
    rules = [str(r) for r in stop_when] if isinstance(stop_when, list) else []
    return bool(folder.run_ids) and all(run_complete(by_run.get(rid, []), folder.queries, rules)
                                        for rid in folder.run_ids)


def next_steps(path: str | Path, headless: bool = False) -> list[str]:
    """The lines to print on leaving the folder at `path`: where it is, how to resume it (when that can be
    done now; with --no-ui after a headless run) and how to report it. Never raises: a folder that cannot be
    read (deleted meanwhile) gets the lines that need no reading."""
    shown = shlex.quote(str(path))
    lines = [f"run folder: {path}"]
    try:
        folder = RunFolder.open(path)
        finished = folder_finished(folder)
    except (BaltuiError, OSError, ValueError, KeyError, TypeError):
        return lines
    if not finished:
        writer = other_writer(folder.path)
        if writer is None:
            lines.append(f"resume:     baltui --resume {shown}" + (" --no-ui" if headless else ""))
        else:
            lines.append(f"resume:     not now: {writer.describe()} is still writing it")
    lines.append(f"report:     baltui report {shown}")
    return lines
