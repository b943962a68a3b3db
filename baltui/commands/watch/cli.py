"""`baltui watch RUN_DIR [RUN_DIR...]`: the live dashboard on run folders another process writes.

The folders are checked before Textual is imported: a missing folder or one without config.json is one
line on stderr and exit code 2. The watcher only reads; quitting it leaves the writer running.
"""

from __future__ import annotations

import argparse
import sys

from baltui.commands.parsing import OneLineParser
from baltui.core.errors import BaltuiError
from baltui.runs.status import STALL_FLOOR_S


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got '{text}'")
    return value


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui watch",
                description="Follow run folders another baltui process writes (or view finished ones): "
                            "the same dashboard, read-only. q leaves the viewer; the writer carries on.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run folder (config.json, results.jsonl)")
    p.add_argument("--stall-after", type=_seconds, default=STALL_FLOOR_S, dest="stall_after", metavar="SECONDS",
                   help="a run is stalled after 3x its median row interval, and at least this long "
                        f"(default {STALL_FLOOR_S:.0f})")
    p.add_argument("--poll", type=_seconds, default=0.5, metavar="SECONDS", help="how often to look for new rows")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from baltui.runs.watched import open_folders

    try:
        folders = open_folders(args.run_dirs)
    except BaltuiError as exc:
        print(f"baltui watch: error: {exc}", file=sys.stderr)
        return 2
    from baltui.commands.watch.app import make_watch_app

    app = make_watch_app(folders, stall_after=args.stall_after, poll=args.poll)
    app.run()
    return app.return_code or 0
