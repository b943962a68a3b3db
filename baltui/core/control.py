"""Stop and pause, shared between the thread that runs an experiment and the one that steers it."""

from __future__ import annotations

import threading
import time

from baltui.core.errors import RunCancelled


class Control:
    """Checked by the engine at every phase boundary and training epoch.

    A plain object with two events, so the dashboard's `q`/`p`, a SIGINT handler in headless mode
    and tests can all steer a run without knowing anything about the thread it runs in.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        # Seconds the run's thread has waited at checkpoints: a query's recorded durations leave them out.
        self._waited = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can see the stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def waited(self) -> float:
        """Seconds spent blocked at checkpoints so far (only the run's own thread adds to it)."""
        return self._waited

    def checkpoint(self) -> None:
        """Block while paused; raise RunCancelled once a stop was asked for."""
        if not self._running.is_set():
            start = time.monotonic()
            while not self._running.wait(0.1):
                pass
            self._waited += time.monotonic() - start
        if self._stop.is_set():
            raise RunCancelled()
