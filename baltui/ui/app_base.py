"""AppBase: what the dashboard, `baltui watch` and `baltui label` share (harlequin's AppBase idea).

- **One way out.** `q`, Ctrl+Q, Ctrl+C, the command palette's Quit and, in a real run, SIGINT, SIGTERM and
  SIGHUP all call `action_quit`: stop the work (`stop_work`), then close the screen (`leave`) at once, or,
  for an app that waits for its work (WAITS_FOR_WORK), when the work has ended or STOP_GRACE_S later. A
  second quit leaves at once. Once the screen has closed, the process leaves with `exit_process` after
  what is left of the grace: Textual runs thread workers in the event loop's executor, which asyncio.run
  joins on the way out, and TensorFlow's interpreter teardown takes seconds; neither may keep the process.
  A watchdog thread makes sure of it even when the screen cannot close (see `_watch`).
- **Keys from one table** (baltui.ui.keys): BINDINGS and the help screen (`?`) are made from the rows of
  the app named by APP.
- **Screenshot** into the app's own folder (`screenshot_folder`), by key and by the palette's Screenshot.
- **Theme**: every app starts in THEME; the palette's Theme changes it and the plots follow.
- **Worker errors**: one handler turns a worker that raised into a notification and the app's own message
  (`worker_failed`); the RunCancelled a quit causes is not an error.
- **Last words**: once the screen has closed and the work has stopped, whichever way out was taken, the lines
  of `farewell` (the run folder, how to resume and report it) are printed to the terminal's scrollback.
- **Palette**: the command palette offers the app's own keys (the key table's rows) beside Textual's commands.
- **Header**: baltui's icon, not Textual's default.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import traceback
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, WorkerState

from baltui.core.errors import RunCancelled
from baltui.ui.keys import bindings_for, keys_of
from baltui.ui.leaving import SCREEN_CLOSE_S, STOP_GRACE_S, STOP_SIGNALS, exit_process
from baltui.ui.screens.help import HelpScreen

ENDED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
HEADER_ICON = "β"  # Bayesian active learning; Textual's default is a circle every Textual app shows
# Palette commands Textual offers already (by their action), so the key table's rows do not repeat them.
_TEXTUAL_COMMANDS = {"quit", "screenshot", "command_palette", "help_quit"}


class AppBase(App[int]):
    """The base of baltui's apps. A subclass names its APP (a column of the key table) and implements
    `stop_work` and `screenshot_folder`; it sets `worker_busy` while a thread does work that a quit must
    wait for (at most STOP_GRACE_S), and `exit_code`, the code the command returns."""

    APP: ClassVar[str]  # baltui.ui.keys.RUN, WATCH or LABEL
    HELP_INTRO: ClassVar[str] = ""  # Markdown above the help screen's key table
    SCREENSHOT_NAME: ClassVar[str] = "baltui"  # screenshots are <name>-<time>.svg
    THEME: ClassVar[str] = "textual-dark"
    WAITS_FOR_WORK: ClassVar[bool] = False  # on quit, keep the screen until the work has stopped

    _quit_at: float | None = None
    _left = False
    _leave_now = False
    _real_run = False
    _screen_closed = False
    _keep_process = False  # an exception is on its way up: let it be printed
    _terminal_gone = False  # SIGHUP: the terminal was closed
    _watchdog: threading.Thread | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "APP" in cls.__dict__:  # before Textual merges the class's bindings
            cls.BINDINGS = bindings_for(cls.APP)
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__()
        self.theme = self.THEME
        self.exit_code = 0
        self.quitting = False
        self.worker_busy = threading.Event()  # set while a thread does work a quit waits for

    # ---- for the subclass -----------------------------------------------------------------------
    def stop_work(self) -> None:
        """Ask the app's work to stop (called on every quit, maybe more than once, maybe off the UI)."""
        raise NotImplementedError

    def screenshot_folder(self) -> Path:
        raise NotImplementedError

    def quit_started(self) -> None:
        """Called once, on the first quit, just before stop_work: say so on screen, settle the exit code."""

    def worker_failed(self, worker: Worker, text: str) -> None:
        """A worker raised (shown as a notification already): show it where the app shows its state."""

    def farewell(self) -> list[str]:
        """Lines printed once the screen has closed and the work has stopped (e.g. how to resume)."""
        return []

    @property
    def closing(self) -> bool:
        """The screen is closing (`leave` ran, or Textual is shutting the app down however it ended): messages a
        worker still has queued have no widgets left to draw on, and what they report is on disk already."""
        return self._left or not self.is_running

    def leave(self) -> None:
        """Close the screen with exit_code: the last step of every way out (once)."""
        if self._left:
            return
        self._left = True
        self.exit(self.exit_code)

    # ---- quitting -------------------------------------------------------------------------------
    def on_unmount(self) -> None:
        """However the app closes (a quit, an exception, a test leaving run_test), the work is told to stop:
        a paused run would otherwise keep its thread, and the process, waiting for good."""
        self.stop_work()

    async def action_quit(self) -> None:
        """Every way out comes here: it overrides App.action_quit, which Ctrl+Q and the palette's Quit call."""
        if self.quitting:  # a second quit: leave now
            self.leave()
            return
        self.quitting = True
        self.quit_started()
        self.begin_quit()
        if self.WAITS_FOR_WORK and self.worker_busy.is_set():
            self.set_timer(STOP_GRACE_S, self.leave)  # never hang on a thread stuck in a long phase
        else:
            self.leave()

    @on(Worker.StateChanged)
    def _base_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR and not isinstance(worker.error, RunCancelled):
            text = f"{type(worker.error).__name__}: {worker.error}"
            self.notify(text, title=f"{worker.name} stopped", severity="error", timeout=30)
            self.worker_failed(worker, text)
        if event.state in ENDED and self.quitting and not self.worker_busy.is_set():
            self.leave()

    def begin_quit(self) -> None:
        """Stop the work; in a real run, make sure the process is gone STOP_GRACE_S + SCREEN_CLOSE_S from now."""
        if self._quit_at is None:
            self._quit_at = time.monotonic()
        self.stop_work()
        if self._real_run and self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="baltui-exit-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Wait for the work (at most STOP_GRACE_S after the quit), give the screen SCREEN_CLOSE_S, leave.

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
                await super().run_async(**kwargs)
            except BaseException:
                self._screen_closed = True
                if not await self._work_ended():
                    traceback.print_exc()
                    exit_process(1)
                self._keep_process = True
                raise
            self._screen_closed = True
            await self._work_ended()
            self._say_farewell()
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
        self.call_later(self.action_quit)

    async def _work_ended(self) -> bool:
        """After the screen closed: stop the work and give it the rest of the grace; did it end?"""
        self.begin_quit()
        deadline = (self._quit_at or time.monotonic()) + STOP_GRACE_S
        while self.worker_busy.is_set() and time.monotonic() < deadline and not self._leave_now:
            await asyncio.sleep(0.05)
        return not self.worker_busy.is_set()

    def _say_farewell(self) -> None:
        """Print `farewell` on the terminal the screen has handed back (nothing after a hang-up)."""
        if self._terminal_gone:
            return
        try:
            for line in self.farewell():
                print(line, flush=True)
        except (OSError, ValueError):  # the terminal or pipe is gone: the folder is on disk all the same
            pass

    def _exit_code(self) -> int:
        """What the command returns: the code the app exited with; 1 after an error; else exit_code."""
        value = self.return_value
        return value if isinstance(value, int) else (self.return_code or self.exit_code)

    # ---- help, screenshot, palette --------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.APP, self.help_intro()))

    def help_intro(self) -> str:
        return self.HELP_INTRO

    def action_screenshot(self) -> None:  # type: ignore[override]  # App's takes a filename and a path
        """An SVG of the screen into the app's folder (the palette's Screenshot comes here too)."""
        name = f"{self.SCREENSHOT_NAME}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        path = self.save_screenshot(filename=name, path=str(self.screenshot_folder()))
        self.notify(f"saved {path}", title="screenshot")

    def on_mount(self) -> None:
        for header in self.query(Header):
            header.icon = HEADER_ICON

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette commands, with its Screenshot (to the Downloads folder) made ours, then the app's own
        keys from the key table (those its state allows now, as the footer shows them)."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":
                yield SystemCommand("Screenshot", f"Save an SVG screenshot into {self.screenshot_folder()}",
                                    self.action_screenshot)
            else:
                yield command
        seen: set[str] = set()
        for key in keys_of(self.APP):
            if not key.bound or not key.description or key.action in _TEXTUAL_COMMANDS or key.action in seen:
                continue
            seen.add(key.action)
            if self.check_action(key.action, ()) is False:
                continue
            yield SystemCommand(key.description, f"{key.help or key.description} (key {key.shown_as})",
                                partial(self.run_action, key.action))
