"""Is the writer of a run folder still at it? running, finished, failed or stalled, from the rows alone.

A folder is *stalled* when no new row has come for `factor` x the median interval of its last
`window` rows and at least `floor_s` seconds, or at once when its writer (the process its writer.lock
names) is known to be gone, or the folder itself is. A stalled folder whose writer is gone and which is not
finished was *interrupted*: that is what it says, with the query its runs got to (`--resume` continues it).
Times are wall-clock seconds (time.time()), like the file's mtime, and are shown with their date when it
is not today.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from baltui.runs.lock import LOCK_FILE, Holder, holder_alive, read_holder

RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
STALLED = "stalled"

STALL_FLOOR_S = 60.0
STALL_FACTOR = 3.0
STALL_WINDOW = 5


def moment(at: float, today: float | None = None) -> str:
    """A wall time as `21:46:53`, or `2026-12-01 21:46:53` when it is not on the day of `today` (now)."""
    when = time.localtime(at)
    same_day = time.localtime(time.time() if today is None else today)[:3] == when[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", when)


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
    folder_gone: bool = False  # the folder was deleted or moved: whatever its writer does, nothing can be read
    query: int = -1  # the last query every unfinished run has completed (-1: not even query 0)
    queries: int = 0  # N of "query k of N"

    @property
    def interrupted(self) -> bool:
        """Stopped for good short of its end: no writer holds the folder (it was stopped, or died), which is
        there and unfinished; `--resume` continues it."""
        return self.state == STALLED and self.writer_gone and not self.folder_gone

    def describe(self) -> str:
        """One phrase, e.g. 'interrupted at query 12 of 40' or 'stalled: no new row since 14:02:11'."""
        since = moment(self.last_row) if self.last_row else None
        if self.interrupted:
            return f"interrupted at query {max(self.query, 0)} of {self.queries}" if self.queries else "interrupted"
        if self.state == STALLED:
            why = " (the run folder was deleted or moved)" if self.folder_gone else ""
            return f"stalled: no new row since {since or 'the start'}{why}"
        if self.state in (FINISHED, FAILED):
            failed = " (some runs failed)" if self.state == FAILED else ""
            return f"finished{failed}" + (f", last row {since}" if since else "")
        if not self.rows:
            return "running: waiting for the first row"
        return f"running, last row {since}"

    def short(self) -> str:
        """The same for a run's status line: 'running', 'interrupted', or 'stalled: no new row since 14:02:11'."""
        if self.interrupted:
            return "interrupted"
        if self.state == STALLED:
            since = moment(self.last_row) if self.last_row else "the start"
            return f"stalled: no new row since {since}" + (", folder gone" if self.folder_gone else "")
        return self.state


class WriterProbe:
    """Is the process writing a run folder still there? Told by the folder's writer.lock: the pid and host of
    its writer. The lock itself is never taken (a writer starting at that moment would be refused).

    Known gone: the lock names a process of this machine that no longer runs (or, its pid reused, no longer
    holds the lock file), or the lock file is there and released (empty: its writer ended normally, before the
    watch began or while it ran). A writer on another machine is unknown: never gone. A folder without a lock
    file (copied, committed to git, or written by a baltui from before the locks) is `unlocked`: no writer of
    this baltui holds it, but an older one might, so it counts as gone only once its rows are overdue.
    """

    def __init__(self, path: Path) -> None:
        self.lock = Path(path).parent / LOCK_FILE  # `path`: the folder's results.jsonl
        self.target = os.path.realpath(self.lock)  # now, while the folder is there
        self.holder: Holder | None = None

    def unlocked(self) -> bool:
        """The folder is there and has no lock file at all (not even a released one)."""
        return self.lock.parent.is_dir() and not self.lock.exists()

    def gone(self) -> bool:
        holder = read_holder(self.lock)
        if holder is None:
            if not self.lock.parent.is_dir():  # the folder went away: ask after the writer we knew
                holder = self.holder
            elif self.lock.exists():  # released: nobody writes it
                return True
        if holder is None:
            return False
        self.holder = holder
        return holder_alive(holder, self.target) is False
