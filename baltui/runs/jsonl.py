"""Append-only JSON-lines files (results.jsonl, labels.jsonl) that heal instead of breaking.

A writer stopped mid-line (a hard kill, a full disk) leaves a last line without its newline. Appending
after it would glue the next record onto that line and turn two records into one corrupt line, losing
both. So every writer first makes the file end on a complete line (`heal`): a tail that is a whole JSON
record and only lacks its newline keeps its place; anything else is set aside byte for byte in a side
file beside it (results.jsonl.torn-1, ...) and named once on stderr: never merged, never silently dropped.

Readers (`read_jsonl`) accept such a tail (a writer may be in the middle of it) and refuse only a complete
line that is not a JSON object, naming its line. Each record is one `os.write` followed by fsync; a write
that fails (ENOSPC, EIO) is cut back off, so the file still ends on a complete line and the folder can be
continued once the disk has room again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.core.errors import BaltuiError

TORN = ".torn-"  # side files: <name>.torn-1, <name>.torn-2, ...
_CHUNK = 1 << 16


def say_on_stderr(text: str) -> None:
    """The default way a writer names what it did to a file: one line on stderr."""
    try:
        print(f"baltui: warning: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # no terminal any more: the side file itself still says it
        pass


def parse_record(line: bytes) -> dict[str, Any] | None:
    """The JSON object on one line, or None when it is not one (not JSON, not UTF-8, or not an object)."""
    try:
        value = json.loads(line)
    except ValueError:  # includes UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Contents:
    """What a JSON-lines file holds: its records with their line numbers, and a torn tail if any."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line number of each record
    torn: bytes = b""  # an unterminated last line that is not a record (a write cut short)


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


def parse_jsonl(data: bytes, where: str) -> Contents:
    """Records of a JSON-lines file's bytes. Blank lines are skipped; a last line without its newline is a
    record if it parses as one, else the torn tail; any other line that is not a JSON object is an error."""
    *complete, tail = data.split(b"\n")
    out = Contents()
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        record = parse_record(line)
        if record is None:
            raise BaltuiError(f"{where} line {number} is not a JSON record ({_shown(line)}); the file is corrupt "
                              "there: remove or mend that line to read the rest")
        out.records.append(record)
        out.lines.append(number)
    if tail.strip():
        record = parse_record(tail)
        if record is None:
            out.torn = tail
        else:
            out.records.append(record)
            out.lines.append(len(complete) + 1)
    return out


def read_jsonl(path: Path) -> Contents:
    """`parse_jsonl` of a file; an unreadable file is one BaltuiError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BaltuiError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_jsonl(data, str(path))


def _tail_start(f: Any, size: int) -> int:
    """Offset just after the last newline of an open binary file of `size` bytes (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        f.seek(start)
        at = f.read(end - start).rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0


def _side_file(path: Path, tail: bytes) -> Path:
    """Write `tail` to the first free <name>.torn-<n> (or reuse one already holding exactly it)."""
    n = 1
    while True:
        side = path.with_name(f"{path.name}{TORN}{n}")
        try:
            with open(side, "xb") as f:
                f.write(tail)
                f.flush()
                os.fsync(f.fileno())
            return side
        except FileExistsError:
            try:
                if side.read_bytes() == tail:  # set aside before, then the cut did not reach the disk
                    return side
            except OSError:
                pass
            n += 1


def heal(path: Path, say: Callable[[str], None] = say_on_stderr) -> Path | None:
    """Make `path` end on a complete line before anything is appended; returns the side file, if one.

    Only a writer holding the folder's lock may call this (a live writer's half-written line is a tail too).
    """
    path = Path(path)
    try:
        f = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaltuiError(f"cannot write to {path}: {exc.strerror or exc}") from None
    try:
        with f:
            size = f.seek(0, os.SEEK_END)
            start = _tail_start(f, size)
            if start == size:
                return None
            f.seek(start)
            tail = f.read(size - start)
            if parse_record(tail) is not None:  # a whole record that lacks only its newline: keep it
                f.seek(size)
                f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
                return None
            side = _side_file(path, tail)
            f.truncate(start)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise BaltuiError(f"cannot mend the incomplete last line of {path}: {exc.strerror or exc}") from None
    say(f"{path} ended in an incomplete line ({len(tail)} bytes, a write cut short); set aside in {side}; every "
        "complete record is kept")
    return side


class Appender:
    """Appends records to a JSON-lines file: one os.write of a whole line, then fsync.

    `after_failure` is what the user reads after a failed write ("continue with ..."): the file is cut back to
    its last complete line, and one BaltuiError says what happened and how to go on.
    """

    def __init__(self, path: Path, after_failure: str, separators: tuple[str, str] | None = None,
                 say: Callable[[str], None] = say_on_stderr) -> None:
        self.path = Path(path)
        self.after_failure = after_failure
        self.separators = separators
        heal(self.path, say)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BaltuiError(f"cannot write to {self.path}: {exc.strerror or exc}") from None

    def append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise BaltuiError(f"{self.path} is closed")
        data = (json.dumps(record, separators=self.separators) + "\n").encode("utf-8")
        before = os.fstat(self._fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as exc:
            self._cut_back(before)
            name = os.strerror(exc.errno) if exc.errno else str(exc)
            code = f" ({_errno_name(exc.errno)})" if exc.errno else ""
            raise BaltuiError(f"cannot write to {self.path}: {name}{code}; {self.after_failure}") from None

    def _cut_back(self, size: int) -> None:
        """After a failed write: the file ends on its last complete line again (else the next writer heals it)."""
        try:
            os.ftruncate(self._fd, size)  # type: ignore[arg-type]
            os.fsync(self._fd)  # type: ignore[arg-type]
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:  # every record was fsynced already
                pass


def _errno_name(number: int) -> str:
    import errno

    return errno.errorcode.get(number, str(number))
