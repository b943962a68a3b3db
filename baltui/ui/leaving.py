"""Leaving the process: every way out of a command stops its Control, waits a grace period, then exits.

The headless commands use `run_stoppable` and `exit_process`; the Textual apps leave through
baltui.ui.app_base.AppBase, which uses `exit_process` and these constants.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from baltui.core.control import Control
from baltui.runs.lock import release_all

# ---- leaving the process ---------------------------------------------------------------------------
# Every way out (q, Ctrl+Q, the command palette's Quit, Ctrl+C, SIGTERM, SIGHUP) calls Control.stop()
# and then gives the thread doing the work STOP_GRACE_S to reach its next checkpoint. A phase that
# cannot be interrupted (a numba kernel, a long BatchBALD step) may take longer; the process then
# leaves without it. That is safe because results are written only by that thread, between queries,
# one whole line at a time, flushed and fsynced: leaving loses only the query in progress.

STOP_GRACE_S = 2.5  # how long a stop waits for the working thread before leaving without it
SCREEN_CLOSE_S = 1.5  # after that, how long a real app's screen gets to close before the process leaves anyway
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
T = TypeVar("T")


def exit_process(code: int) -> NoReturn:
    """Leave now without waiting for any thread: release the folder locks, flush our own streams, then os._exit."""
    release_all()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed terminal or pipe
            pass
    os._exit(code)


def run_stoppable(work: Callable[[], T], control: Control, on_signal: Callable[[int], None] | None = None,
                  grace: float = STOP_GRACE_S) -> tuple[bool, T | None]:
    """Headless: run `work` in a daemon thread while this (main) thread handles signals and waits.

    SIGINT, SIGTERM and SIGHUP call `on_signal(signum)` (if given) and `control.stop()`; a second one
    stops waiting at once. Returns (True, work's result) when the thread ended (its exception is
    re-raised here), or (False, None) when it was still running `grace` s after the stop: the caller
    says so and calls exit_process. The main thread never runs the work itself, so a signal is
    handled at once even while the work is inside a long C call.
    """
    outcome: dict[str, Any] = {}
    forced = threading.Event()

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    def handler(signum: int, frame: object) -> None:
        if control.stopped:
            forced.set()  # a second Ctrl+C: stop waiting for the phase to end
            return
        control.stop()
        if on_signal is not None:
            try:
                on_signal(signum)
            except OSError:  # the terminal is gone (SIGHUP): nothing to tell
                pass

    thread = threading.Thread(target=target, name="baltui-work", daemon=True)
    main = threading.current_thread() is threading.main_thread()  # only the main thread may handle signals
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS} if main else {}
    stopped_at: float | None = None
    try:
        thread.start()
        while thread.is_alive() and not forced.is_set():
            thread.join(0.05)
            if control.stopped:
                stopped_at = stopped_at if stopped_at is not None else time.monotonic()
                if time.monotonic() - stopped_at >= grace:
                    break
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if thread.is_alive():
        return False, None
    if "error" in outcome:
        raise outcome["error"]
    return True, outcome["result"]
