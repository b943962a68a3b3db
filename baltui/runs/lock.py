"""One writer per folder: a run, a resume or a label session holds DIR/writer.lock while it writes.

Two processes appending to one results.jsonl record the same queries twice (a resume started while the
first run still writes); two label sessions interleave their key presses. The lock is an flock on the lock
file, which the kernel releases whenever the holder ends, however it ends; the file itself holds the
holder's pid and host, so a refused writer can name it and `baltui watch` can tell whether the writer still
runs by reading it (a watcher never takes the lock: that could make a writer starting at the same moment
fail). The file stays in the folder: a lock file that still names a pid when it is taken was left by a
writer that ended without releasing it (killed), which is said once, and the folder is taken over.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from baltui.core.errors import BaltuiError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the pid in the file is the only guard
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "writer.lock"
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a folder's lock, as its lock file says."""

    pid: int
    host: str
    since: float  # wall time the lock was taken
    what: str  # "run", "resume", "label session"

    def describe(self) -> str:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host}, a {self.what} since {at}"

    @property
    def here(self) -> bool:
        return self.host == this_host()


def parse_holder(text: str) -> Holder | None:
    """The holder a lock file's text names, or None (empty: released; unreadable: not ours to judge)."""
    try:
        value = json.loads(text)
        return Holder(int(value["pid"]), str(value["host"]), float(value.get("since", 0.0)),
                      str(value.get("what", "writer")))
    except (ValueError, KeyError, TypeError):
        return None


def read_holder(path: Path) -> Holder | None:
    """The holder a lock file names; None when there is no file, it is empty (released) or unreadable."""
    try:
        return parse_holder(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def holder_alive(holder: Holder, lock_path: str) -> bool | None:
    """Whether the named process still runs: True, False, or None when it cannot be told (another host).

    A pid can be reused by an unrelated process; where /proc shows it, the holder must also have the lock
    file open (its path, or the path with " (deleted)" when the folder was removed under it)."""
    if not holder.here:
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    except OSError:
        return None
    try:
        fds = os.listdir(f"/proc/{holder.pid}/fd")
    except OSError:  # no /proc, or not ours to look at: the pid exists, that is all we know
        return True
    targets = (lock_path, lock_path + " (deleted)")
    for fd in fds:
        try:
            if os.readlink(f"/proc/{holder.pid}/fd/{fd}") in targets:
                return True
        except OSError:
            continue
    return False


class FolderLock:
    """A held lock; `release` when the writing is over (the process ending releases it too)."""

    def __init__(self, key: str, path: Path, fd: int) -> None:
        self.key, self.path, self.fd = key, path, fd
        self.count = 1  # takes of the same folder within this process

    def release(self) -> None:
        with _GUARD:
            self.count -= 1
            if self.count > 0 or _HELD.get(self.key) is not self:
                return
            del _HELD[self.key]
            try:
                os.ftruncate(self.fd, 0)  # released: nobody to name
                if fcntl is not None:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
            except OSError:
                pass
            finally:
                os.close(self.fd)


_HELD: dict[str, FolderLock] = {}
_GUARD = threading.Lock()


def _notice(text: str) -> None:
    try:
        print(f"baltui: note: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def take(folder: Path, what: str, say: Callable[[str], None] = _notice) -> FolderLock:
    """Become the folder's one writer, or one BaltuiError naming the process that is.

    Taking a folder this process already holds counts up (each take is released once)."""
    folder = Path(folder)
    path = folder / LOCK_FILE
    key = os.path.realpath(path)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held.count += 1
            return held
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BaltuiError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        try:
            previous = _take_fd(fd, folder, key)
            record = {"pid": os.getpid(), "host": this_host(), "since": round(time.time(), 3), "what": what}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise BaltuiError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        except BaseException:
            os.close(fd)
            raise
        lock = FolderLock(key, path, fd)
        _HELD[key] = lock
    if previous is not None:
        say(f"{folder} was last written by {previous.describe()}, which ended without releasing it; "
            "taking it over")
    return lock


def _take_fd(fd: int, folder: Path, key: str) -> Holder | None:
    """flock the open lock file; returns the stale holder it names (None if it was released cleanly)."""
    content = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise BaltuiError(_refusal(folder, parse_holder(os.pread(fd, 4096, 0).decode(
                    "utf-8", errors="replace")))) from None
            if exc.errno not in _NO_LOCKING:
                raise
            # a file system without locks: the pid in the file is the only guard left
        else:
            content = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
            return parse_holder(content)
    holder = parse_holder(content)
    if holder is not None and holder.pid != os.getpid() and holder_alive(holder, key) is not False:
        raise BaltuiError(_refusal(folder, holder))
    return holder


def _refusal(folder: Path, holder: Holder | None) -> str:
    who = holder.describe() if holder is not None else "it is just starting"
    return (f"{folder} is being written by another baltui process ({who}); a second writer would record "
            f"everything twice: wait for it to end (baltui watch {folder} follows a run) or stop it first")


def release_all() -> None:
    """Release every lock this process holds: called just before os._exit, which skips the `finally` blocks that
    release them one by one (the kernel drops the flock, but the file would still name this process)."""
    with _GUARD:
        held = list(_HELD.values())
    for lock in held:
        lock.count = 1
        lock.release()


def release(lock: FolderLock | None) -> None:
    """Release a lock taken with `take` (None: nothing was taken)."""
    if lock is not None:
        lock.release()


def other_writer(folder: Path) -> Holder | None:
    """The process other than this one that holds the folder's lock now (or may: one on another host), else None.

    Read from the lock file, never by taking the lock (a writer starting at that moment would be refused)."""
    path = Path(folder) / LOCK_FILE
    holder = read_holder(path)
    if holder is None or (holder.here and holder.pid == os.getpid()):
        return None
    return None if holder_alive(holder, os.path.realpath(path)) is False else holder
