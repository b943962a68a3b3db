"""Tail a run folder's results.jsonl into the engine's own event objects; no UI.

`LineFollower` reads only what was appended since the last poll and hands back complete lines: a last
line without its newline yet (the writer is mid-write) is kept and read once it is complete.
`FolderFollower` turns those records into QueryResult / RunFinished / RunFailed events, so the
dashboard's panels update the same way as for a run of their own, and tracks the folder's state.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baltui.core.events import Event, QueryResult, RunFailed, RunFinished, event_from_record
from baltui.runs.status import (
    FAILED,
    FINISHED,
    RUNNING,
    STALL_FLOOR_S,
    STALLED,
    FolderStatus,
    StallClock,
    WriterProbe,
)
from baltui.runs.watched import WatchedFolder

CHUNK = 4 << 20  # bytes read per poll at most, so a long backlog reaches the screen in steps


class LineFollower:
    """The complete JSON lines appended to a file since the last poll; never writes, never locks."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.partial = b""  # the last line so far, not newline-terminated yet
        self.bad_lines = 0
        self.restarted = 0  # times the file was replaced or truncated (then read again from the top)
        self._inode: int | None = None

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def poll(self) -> list[dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except OSError:  # not there (yet): nothing to read
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            self.offset, self.partial = 0, b""
            self.restarted += 1
        self._inode = st.st_ino
        if st.st_size <= self.offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(CHUNK)
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:  # includes UnicodeDecodeError
                self.bad_lines += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                self.bad_lines += 1
        return records

    @property
    def pending(self) -> bool:
        """More bytes on disk than read (a backlog longer than one chunk)."""
        return self.size() > self.offset


@dataclass
class RecordedQuery(QueryResult):
    """A QueryResult read back from results.jsonl: scores only as the record's histogram, no images."""

    score_histogram: dict[str, Any] | None = None
    has_histogram: bool = True  # False for records written before score_histogram existed
    at: float = 0.0  # wall time the row was read
    live: bool = False  # False for rows already on disk when the watch began


def record_to_event(record: dict[str, Any], screen_id: str, at: float = 0.0, live: bool = False) -> Event | None:
    """One results.jsonl record as the event the engine emitted for it (None for unknown record types).

    Raises KeyError / TypeError / ValueError on a malformed record.
    """
    if record.get("type", "query") != "query":
        return event_from_record(record, screen_id)
    return event_from_record(record, screen_id, RecordedQuery, score_histogram=record.get("score_histogram"),
                             has_histogram="score_histogram" in record, at=at, live=live)


class FolderFollower:
    """One folder: new events per step, and its status (running / finished / failed / stalled)."""

    def __init__(self, folder: WatchedFolder, stall_floor_s: float = STALL_FLOOR_S, probe: bool = True) -> None:
        self.folder = folder
        self.lines = LineFollower(folder.results)
        self.clock = StallClock(stall_floor_s)
        self.probe = WriterProbe(folder.results) if probe else None
        self.ended: dict[str, str] = {}  # run id (as in the file) -> FINISHED | FAILED
        self.seen: set[str] = set()
        self.last_query: dict[str, int] = {}  # run id (as in the file) -> its latest completed query
        self.rows = 0
        self.bad_records = 0
        self.status: FolderStatus | None = None
        self._backlog_end: int | None = None

    def step(self, now: float | None = None) -> tuple[list[Event], FolderStatus | None]:
        """Read what was appended; returns the new events and the status if it changed (else None)."""
        now = time.time() if now is None else now
        if self._backlog_end is None:  # rows already on disk count from the file's mtime, not as a pace
            self._backlog_end = self.lines.size()
            try:
                self.clock.start(os.stat(self.folder.results).st_mtime)
            except OSError:
                self.clock.start(now)
        records = self.lines.poll()
        live = self.lines.offset > self._backlog_end
        events: list[Event] = []
        for record in records:
            try:
                rid = str(record["run_id"])
                event = record_to_event(record, self.folder.screen_id(rid), at=now, live=live)
            except (KeyError, TypeError, ValueError):
                self.bad_records += 1
                continue
            if event is None:
                continue
            self.seen.add(rid)
            if isinstance(event, RecordedQuery):  # a resumed run goes on after its run_failed record
                self.ended.pop(rid, None)
                self.last_query[rid] = max(self.last_query.get(rid, -1), event.query)
            elif isinstance(event, RunFinished):
                self.ended[rid] = FINISHED
            elif isinstance(event, RunFailed):
                self.ended[rid] = FAILED
            events.append(event)
        self.rows += len(events)
        if live:
            self.clock.rows(len(events), now)
        status = self._status(now)
        changed = status != self.status
        self.status = status
        return events, status if changed else None

    def done(self) -> bool:
        expected = self.folder.run_ids or sorted(self.seen)
        return bool(expected) and all(rid in self.ended for rid in expected)

    def _status(self, now: float) -> FolderStatus:
        expected = self.folder.run_ids or sorted(self.seen)
        done = sum(rid in self.ended for rid in expected)
        gone = missing = False
        if self.done():
            state = FAILED if FAILED in self.ended.values() else FINISHED
        else:
            overdue = self.clock.overdue(now)
            gone = self.probe is not None and (self.probe.gone() or (overdue and self.probe.unlocked()))
            missing = not self.folder.path.is_dir()
            state = STALLED if gone or missing or overdue else RUNNING
        unfinished = [self.last_query.get(rid, -1) for rid in expected if rid not in self.ended]
        return FolderStatus(state, self.rows, self.clock.last, gone, self.lines.bad_lines + self.bad_records,
                            done, len(expected), folder_gone=missing, query=min(unfinished, default=-1),
                            queries=self.folder.queries)
