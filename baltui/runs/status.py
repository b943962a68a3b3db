"""Is the writer of a run folder still at it? running, finished, failed or stalled, from the rows alone.

A folder is *stalled* when no new row has come for `factor` x the median interval of its last
`window` rows and at least `floor_s` seconds, or at once when the process that had results.jsonl open
for writing is known to be gone. Times are wall-clock seconds (time.time()), like the file's mtime.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
STALLED = "stalled"

STALL_FLOOR_S = 60.0
STALL_FACTOR = 3.0
STALL_WINDOW = 5


class StallClock:
    """Arrival times of the last rows; says when the next one is overdue."""

    def __init__(self, floor_s: float = STALL_FLOOR_S, factor: float = STALL_FACTOR,
                 window: int = STALL_WINDOW) -> None:
        self.floor_s = floor_s
        self.factor = factor
        self.times: deque[float] = deque(maxlen=window)
        self.last: float | None = None  # wall time of the last row (or of the file, before any row)

    def start(self, at: float) -> None:
        """Rows already on disk when the watch began: they count from the file's mtime, not as a pace."""
        self.last = at

    def rows(self, n: int, at: float) -> None:
        """`n` new rows arrived at wall time `at`."""
        for _ in range(n):
            self.times.append(at)
        if n:
            self.last = at

    def threshold(self) -> float:
        """Seconds without a row after which the writer counts as stalled."""
        intervals = [b - a for a, b in zip(self.times, list(self.times)[1:], strict=False)]
        pace = statistics.median(intervals) * self.factor if intervals else 0.0
        return max(pace, self.floor_s)

    def overdue(self, now: float) -> bool:
        return self.last is not None and now - self.last >= self.threshold()


@dataclass(frozen=True)
class FolderStatus:
    """What the UI shows for one folder; each run's own finished/failed comes with its events."""

    state: str  # RUNNING | FINISHED | FAILED (every run ended, some failed) | STALLED
    rows: int  # records read so far
    last_row: float | None  # wall time of the last row (the file's mtime for rows already there)
    writer_gone: bool = False
    bad_lines: int = 0  # complete lines that were not JSON records (skipped)
    runs_done: int = 0
    runs_total: int = 0

    def describe(self) -> str:
        """One phrase, e.g. 'stalled: no new row since 14:02:11 (the writer's process is gone)'."""
        since = time.strftime("%H:%M:%S", time.localtime(self.last_row)) if self.last_row else None
        if self.state == STALLED:
            why = " (the writer's process is gone)" if self.writer_gone else ""
            return f"stalled: no new row since {since or 'the start'}{why}"
        if self.state in (FINISHED, FAILED):
            failed = " (some runs failed)" if self.state == FAILED else ""
            return f"finished{failed}" + (f", last row {since}" if since else "")
        if not self.rows:
            return "running: waiting for the first row"
        return f"running, last row {since}"

    def short(self) -> str:
        """The same for a run's status line: 'running', or 'stalled since 14:02:11, writer gone'."""
        if self.state == STALLED:
            since = time.strftime("%H:%M:%S", time.localtime(self.last_row)) if self.last_row else "the start"
            return f"stalled: no new row since {since}" + (", writer gone" if self.writer_gone else "")
        return self.state


def _writes(pid: str, fd: str) -> bool:
    """Whether /proc/PID/fd/FD is open for writing (O_WRONLY or O_RDWR in fdinfo's octal flags)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & 0o3 != 0
    except (OSError, ValueError, IndexError):
        pass
    return False


def writer_pids(path: Path, pids: list[str] | None = None) -> set[int]:
    """Processes (other than this one) that hold `path` open for writing; empty where /proc is not there.

    `pids` limits the scan (to check known writers cheaply); processes of other users are not visible.
    """
    target = os.path.realpath(path)
    me = str(os.getpid())
    if pids is None:
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return set()
    found: set[int] = set()
    for pid in pids:
        if pid == me:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target and _writes(pid, fd):
                    found.add(int(pid))
                    break
            except OSError:
                continue
    return found


class WriterProbe:
    """Finds the process writing results.jsonl, and then notices when it is gone.

    Known gone means: a writer was seen and no process holds the file open for writing any more.
    A writer never seen (another machine, another user, no /proc) is unknown, never gone.
    """

    def __init__(self, path: Path, scan_every_s: float = 5.0) -> None:
        self.path = path
        self.scan_every_s = scan_every_s
        self.known: set[int] = set()
        self.seen = False
        self._next_scan = 0.0

    def gone(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.known:
            self.known = writer_pids(self.path, [str(p) for p in self.known])
        if not self.known and now >= self._next_scan:  # look for a (new) writer now and then
            self._next_scan = now + self.scan_every_s
            self.known = writer_pids(self.path)
        if self.known:
            self.seen = True
        return self.seen and not self.known
