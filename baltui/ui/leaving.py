"""Leaving the process: every way out of a command stops its Control, waits a grace period, then exits.

The headless commands use `run_stoppable` and `exit_process`; the Textual apps mix in `LeavesCleanly`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from baltui.core.control import Control

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
    """Leave now without waiting for any thread: flush our own streams, then os._exit."""
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


class LeavesCleanly:
    """Mixin for the Textual apps (`class MyApp(LeavesCleanly, App[int])`): every way out stops the work.

    The app routes every quit (its `q`, Ctrl+Q, the command palette's Quit) through its own
    `action_quit`, which calls `begin_quit()` first; `stop_control` is the Control its thread worker
    checks, and the worker holds `worker_busy` set while it works. In a real run (run_async, not
    run_test) SIGINT, SIGTERM and SIGHUP call action_quit too, and once the screen has closed (the
    terminal restored) the worker gets what is left of STOP_GRACE_S before the process leaves with
    exit_process. Textual runs thread workers in the event loop's executor, which asyncio.run joins on
    the way out, and TensorFlow's interpreter teardown takes seconds: neither may keep the process.
    A watchdog thread makes sure of it even when the screen cannot close (see _watch).
    """

    worker_busy: threading.Event
    _quit_at: float | None = None
    _leave_now = False
    _real_run = False
    _screen_closed = False
    _keep_process = False  # an exception is on its way up: let it be printed
    _terminal_gone = False  # SIGHUP: the terminal was closed
    _watchdog: threading.Thread | None = None

    @property
    def stop_control(self) -> Control:
        raise NotImplementedError

    def begin_quit(self) -> None:
        """Stop the work; in a real run, make sure the process is gone STOP_GRACE_S + SCREEN_CLOSE_S from now."""
        if self._quit_at is None:
            self._quit_at = time.monotonic()
        self.stop_control.stop()
        if self._real_run and self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="baltui-exit-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Wait for the worker (at most STOP_GRACE_S after the quit), give the screen SCREEN_CLOSE_S, leave.

        After SIGHUP Textual's writer thread dies on the dead terminal and its shutdown blocks for good, so
        there is no screen to wait for."""
        deadline = (self._quit_at or time.monotonic()) + STOP_GRACE_S
        while self.worker_busy.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._terminal_gone:
            time.sleep(SCREEN_CLOSE_S)
        if not self._keep_process:
            exit_process(self._exit_code())

    async def run_async(self, **kwargs: Any) -> Any:
        self._real_run = True
        loop = asyncio.get_running_loop()
        main = threading.current_thread() is threading.main_thread()  # only the main thread may handle signals
        previous = {s: signal.getsignal(s) for s in STOP_SIGNALS} if main else {}
        for s in previous:
            loop.add_signal_handler(s, self._on_stop_signal, s)
        try:
            try:
                await super().run_async(**kwargs)  # type: ignore[misc]
            except BaseException:
                self._screen_closed = True
                if not await self._worker_ended():
                    traceback.print_exc()
                    exit_process(1)
                self._keep_process = True
                raise
            self._screen_closed = True
            await self._worker_ended()
            exit_process(self._exit_code())
        finally:  # only reached when an exception propagates
            for s, handler in previous.items():
                loop.remove_signal_handler(s)
                signal.signal(s, handler)

    def _on_stop_signal(self, signum: int) -> None:
        """On the event loop: stop now and quit like Ctrl+Q; once the screen is gone, stop waiting."""
        if signum == getattr(signal, "SIGHUP", None):
            self._terminal_gone = True  # no screen to hand back: the watchdog need not wait for it
        if self._screen_closed:
            self._leave_now = True
            return
        self.begin_quit()  # even if the app is not up yet (or stuck), the watchdog ends the process
        self.call_later(self.action_quit)  # type: ignore[attr-defined]

    async def _worker_ended(self) -> bool:
        """After the screen closed: stop the worker and give it the rest of the grace; did it end?"""
        self.begin_quit()
        deadline = (self._quit_at or time.monotonic()) + STOP_GRACE_S
        while self.worker_busy.is_set() and time.monotonic() < deadline and not self._leave_now:
            await asyncio.sleep(0.05)
        return not self.worker_busy.is_set()

    def _exit_code(self) -> int:
        """What the command returns for this app: the code it exited with, else 1 after an error."""
        value = self.return_value  # type: ignore[attr-defined]
        return value if isinstance(value, int) else (self.return_code or 0)  # type: ignore[attr-defined]
