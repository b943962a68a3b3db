"""Every way out stops the experiment and keeps every completed query.

`q`, Ctrl+Q, Ctrl+C and the command palette's Quit all go through the apps' action_quit (Pilot tests with a
fake engine); SIGTERM, SIGHUP and SIGINT are sent to real `baltui` processes, headless and under a
pseudo-terminal the test makes itself (CI has no terminal), and the process must be gone within 5 s
even when the phase in progress cannot be interrupted. A dashboard left before its experiment ended exits
130, as `--no-ui` does.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEngine
from textual.worker import WorkerState

from baltui.commands.run import make_app
from baltui.runs.results import prepare_out_dir
from baltui.ui.leaving import STOP_GRACE_S

EXIT_LIMIT_S = 5.0  # the process is gone this long after the quit...
MARGIN_S = 2.0  # ...give or take a loaded CI machine
QUICK = ["--preset", "quick", "--queries", "40", "--epochs", "5", "--mc-samples", "5"]


# ---- helpers ----------------------------------------------------------------------------------------
def fake_engine(delay: float = 0.01, stuck_at: int | None = None, gate: threading.Event | None = None):
    """The shared fake engine; at query `stuck_at` it blocks on `gate` without checking anything, like a numba
    kernel or a long BatchBALD step."""
    return FakeEngine(delay=delay, gate=gate, gate_at=-1 if stuck_at is None else stuck_at, check_while_gated=False,
                      result=dict(accuracy=0.5, scores=None))


def check_results(out: Path) -> list[dict]:
    """Every line whole and parsable; per run, queries 0..n-1 in order, none twice."""
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n"), "a torn last line"
    records = [json.loads(line) for line in text.splitlines()]
    queries: dict[str, list[int]] = {}
    for r in records:
        if r.get("type", "query") == "query":
            queries.setdefault(r["run_id"], []).append(r["query"])
    for rid, numbers in queries.items():
        assert numbers == list(range(len(numbers))), (rid, numbers)
    return records


def assert_stops_growing(out: Path) -> None:
    size = (out / "results.jsonl").stat().st_size
    time.sleep(1.0)
    assert (out / "results.jsonl").stat().st_size == size, "results.jsonl still grows after the exit"


def wait_for_lines(path: Path, n: int, proc, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").count("\n") >= n:
            return
        assert proc.poll() is None, f"the process ended early ({proc.returncode})"
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines in {timeout} s")


def wait_for_exit(proc, limit: float) -> float:
    started = time.monotonic()
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {limit} s after the quit") from None
    return time.monotonic() - started


def signal_after_lines(proc, results: Path, lines: int, sig: int, timeout: float = 180,
                       settle: float = 0.0) -> tuple[float, str, str]:
    """Once `results` has `lines` lines, send `sig`; (seconds to exit, stdout, stderr). Never leaves it running."""
    try:
        wait_for_lines(results, lines, proc, timeout=timeout)
        time.sleep(settle)
        proc.send_signal(sig)
        took = wait_for_exit(proc, EXIT_LIMIT_S + MARGIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        stdout, stderr = proc.communicate()
    return took, stdout, stderr


class Terminal:
    """A pseudo-terminal of 120x40 with `argv` running in it as the session leader (so closing it hangs up)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(os.environ if env is None else env, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                     start_new_session=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.output = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the child is gone, EBADF once we hung up
                return
            if not data:
                return
            self.output.extend(data)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def hang_up(self) -> None:
        """What closing a terminal window does: the master goes away, the session gets SIGHUP."""
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


@pytest.fixture
def run_dir(tmp_path):
    def _make(config):
        prepare_out_dir(tmp_path / "run", config.to_dict())
        return tmp_path / "run"

    return _make


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def open_palette_and_quit(pilot) -> None:
    """The command palette's Quit, the way a person runs it: Ctrl+P, type, Enter."""
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    assert await wait_until(lambda: isinstance(pilot.app.screen, CommandPalette), 5)
    await pilot.press(*"quit")
    await pilot.pause(0.5)  # the palette searches asynchronously
    await pilot.press("enter")


QUITS = {
    "q": lambda pilot: pilot.press("q"),
    "ctrl+q": lambda pilot: pilot.press("ctrl+q"),
    "ctrl+c": lambda pilot: pilot.press("ctrl+c"),
    "palette": open_palette_and_quit,
}


# ---- the dashboard, in-process ----------------------------------------------------------------------
@pytest.mark.parametrize("how", list(QUITS))
async def test_every_quit_key_stops_the_experiment(how, run_dir, tiny, digits):
    config = tiny(queries=500)
    out = run_dir(config)
    app = make_app(config, out, engine_factory=fake_engine(delay=0.05), dataset=digits)
    async with app.run_test(size=(160, 50)) as pilot:
        assert await wait_until(lambda: (out / "results.jsonl").read_text().count("\n") >= 2, 10)
        assert app.worker_busy.is_set()
        worker = next(w for w in app.workers if w.name == "experiment")
        await QUITS[how](pilot)
        assert await wait_until(lambda: not app.worker_busy.is_set(), 5), "the experiment thread goes on"
        await pilot.pause(0.1)
    assert app.control.stopped and app.quitting
    assert worker.state == WorkerState.SUCCESS  # run_experiment returned: the screen waited for it
    assert app.return_value == 130  # stopped before the end, as --no-ui
    records = check_results(out)
    assert 2 <= sum(r["type"] == "query" for r in records) < 2 * 501
    assert_stops_growing(out)


async def test_quit_does_not_wait_for_a_phase_that_cannot_be_interrupted(run_dir, tiny, digits):
    """The screen closes STOP_GRACE_S after the quit even while the worker is stuck in a long phase."""
    config = tiny(queries=50)
    out = run_dir(config)
    gate = threading.Event()
    app = make_app(config, out, engine_factory=fake_engine(stuck_at=2, gate=gate), dataset=digits)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            assert await wait_until(lambda: (out / "results.jsonl").read_text().count("\n") >= 4, 10)
            await pilot.pause(0.2)  # now inside query 2, stuck
            started = time.monotonic()
            await pilot.press("ctrl+q")
            assert app.control.stopped
            assert await wait_until(lambda: not app.is_running, STOP_GRACE_S + 2)
        assert time.monotonic() - started < STOP_GRACE_S + 2
        assert app.worker_busy.is_set()  # left behind, as a real run's process would leave it
    finally:
        gate.set()
    deadline = time.monotonic() + 5
    while app.worker_busy.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not app.worker_busy.is_set()  # once the phase ends the stop is seen
    check_results(out)


# ---- label mode, in-process -------------------------------------------------------------------------
@pytest.mark.parametrize("how", list(QUITS))
async def test_label_quits_stop_the_retrain(how, tmp_path, digits):
    from baltui.commands.label.app import LabelApp
    from baltui.commands.label.session import LabelSession
    from baltui.core.errors import RunCancelled
    from baltui.core.images import load_source

    np.savez(tmp_path / "imgs.npz", x_train=(digits.x_pool[:30, ..., 0] * 255).astype(np.uint8))
    session = LabelSession(load_source(str(tmp_path / "imgs.npz")), tmp_path / "labels",
                           [str(c) for c in range(10)], initial=2, epochs=2, batch_size=16, mc_samples=3)
    epochs: list[int] = []
    ended: list[BaseException] = []

    def slow_retrain():  # a retrain that checks the Control every epoch, as the real model does
        try:
            for epoch in range(10_000):
                session.control.checkpoint()
                epochs.append(epoch)
                time.sleep(0.01)
        except BaseException as exc:
            ended.append(exc)
            raise
        raise AssertionError("never stopped")

    session.train_and_acquire = slow_retrain
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("3", "4")  # the initial batch is labelled: retraining starts
        assert await wait_until(lambda: len(epochs) > 5, 5)
        assert app.training and app.worker_busy.is_set()
        await QUITS[how](pilot)
        assert await wait_until(lambda: not app.worker_busy.is_set(), 5), "the retrain goes on"
    assert session.control.stopped
    assert len(ended) == 1 and isinstance(ended[0], RunCancelled)  # stopped at its next epoch
    done = len(epochs)
    time.sleep(0.2)
    assert len(epochs) == done
    records = [json.loads(line) for line in (tmp_path / "labels" / "labels.jsonl").read_text().splitlines()]
    assert [r["label"] for r in records] == ["3", "4"]


# ---- real processes: headless -----------------------------------------------------------------------
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_headless_signal_stops_and_keeps_every_query(sig, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "baltui", "--no-ui", *QUICK, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    took, stdout, stderr = signal_after_lines(proc, out / "results.jsonl", 2, getattr(signal, sig))
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"{sig}: stopping" in stdout and "--resume" in stdout
    records = check_results(out)
    assert sum(r["type"] == "query" for r in records) >= 2
    assert not any(r["type"] == "run_finished" for r in records)  # stopped, not finished
    assert_stops_growing(out)
    assert took < EXIT_LIMIT_S + MARGIN_S


STUCK_SCRIPT = """
import sys, time
from pathlib import Path
import numpy as np
from baltui.core.config import RunConfig
from baltui.core.data import load_digits
from baltui.core.events import QueryResult
from baltui.runs.results import prepare_out_dir

def stuck(config, dataset, strategy, seed, control, on_phase, resume):
    rid = f"{strategy}-s{seed}"
    for q in range(config.queries + 1):
        control.checkpoint()
        if q == 2:
            time.sleep(120)  # a phase that never checks the Control (a numba kernel, say)
        yield QueryResult(rid, strategy, seed, q, 20 + 5 * q, 1000 - 5 * q, 0.5, 0.0, 0.0, 0.0, [], [], None,
                          np.zeros((0, 8, 8)), None, [])

config = RunConfig(name="stuck", dataset="digits", strategies=["entropy", "uniform"], seeds=[0], queries=9,
                   instances=5, initial_per_class=2, epochs=2, batch_size=16, mc_samples=3, subset=200)
out = Path(sys.argv[2])
prepare_out_dir(out, config.to_dict())
if sys.argv[1] == "headless":
    from baltui.commands.run.headless import run_headless
    sys.exit(run_headless(config, load_digits(), out, engine_factory=stuck))
from baltui.commands.run import make_app
app = make_app(config, out, engine_factory=stuck, dataset=load_digits())
sys.exit(app.run())
"""


def test_headless_leaves_a_phase_that_cannot_be_interrupted(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", STUCK_SCRIPT, "headless", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took, stdout, stderr = signal_after_lines(proc, out / "results.jsonl", 4, signal.SIGTERM, timeout=60, settle=0.3)
    assert proc.returncode == 130, stderr
    assert "stopped: every completed query is saved" in stdout and "Traceback" not in stderr
    assert STOP_GRACE_S - 0.5 < took < EXIT_LIMIT_S + MARGIN_S  # waited for the phase, then left without it
    assert sum(r["type"] == "query" for r in check_results(out)) == 4  # queries 0 and 1 of both runs
    assert_stops_growing(out)


# ---- real processes: the dashboard in a pseudo-terminal ---------------------------------------------
LEAVE_ALT_SCREEN = "\x1b[?1049l"


@pytest.mark.parametrize("how", ["ctrl+q", "ctrl+c", "SIGTERM", "SIGHUP"])
def test_dashboard_exits_within_5s_and_keeps_every_query(how, tmp_path):
    out = tmp_path / "run"
    term = Terminal([sys.executable, "-m", "baltui", *QUICK, "--out", str(out)])
    try:
        wait_for_lines(out / "results.jsonl", 2, term.proc)
        if how == "ctrl+q":
            term.type(b"\x11")
        elif how == "ctrl+c":  # a key in Textual's raw mode, not SIGINT
            term.type(b"\x03")
        elif how == "SIGTERM":
            term.proc.send_signal(signal.SIGTERM)
        else:
            term.hang_up()  # the kernel sends SIGHUP to the session; send it too, as `kill -HUP` would
            term.proc.send_signal(signal.SIGHUP)
        took = wait_for_exit(term.proc, EXIT_LIMIT_S + MARGIN_S)
        term.reader.join(2)
    finally:
        term.close()
    assert term.proc.returncode == 130, term.text()[-2000:]  # left mid-run, as --no-ui
    assert "Traceback" not in term.text()
    if how != "SIGHUP":  # the terminal was handed back in its normal state
        assert LEAVE_ALT_SCREEN in term.text()
    records = check_results(out)
    assert sum(r["type"] == "query" for r in records) >= 2
    assert not any(r["type"] == "run_finished" for r in records)
    assert_stops_growing(out)
    assert took < EXIT_LIMIT_S + MARGIN_S


def test_dashboard_leaves_a_phase_that_cannot_be_interrupted(tmp_path):
    out = tmp_path / "run"
    term = Terminal([sys.executable, "-c", STUCK_SCRIPT, "dashboard", str(out)])
    try:
        wait_for_lines(out / "results.jsonl", 4, term.proc, timeout=60)
        time.sleep(0.3)
        term.proc.send_signal(signal.SIGTERM)
        took = wait_for_exit(term.proc, EXIT_LIMIT_S + MARGIN_S)
        term.reader.join(2)
    finally:
        term.close()
    assert term.proc.returncode == 130, term.text()[-2000:]
    assert LEAVE_ALT_SCREEN in term.text() and "Traceback" not in term.text()
    assert STOP_GRACE_S - 0.5 < took < EXIT_LIMIT_S + MARGIN_S
    assert sum(r["type"] == "query" for r in check_results(out)) == 4
    assert_stops_growing(out)
    # on the terminal the screen handed back: where the folder is and how to go on (as --no-ui says it)
    after = term.text().split(LEAVE_ALT_SCREEN)[-1]
    for line in (f"run folder: {out}", f"resume:     baltui --resume {out}", f"report:     baltui report {out}"):
        assert line in after, after[-2000:]


# ---- real processes: baltui watch -------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl+c", "SIGTERM"])
def test_watch_leaves_on_ctrl_c_and_sigterm_with_0(how, tmp_path):
    """The viewer takes the apps' one way out too: the terminal is handed back, exit code 0."""
    from baltui.core.config import RunConfig

    folder = tmp_path / "watched"
    folder.mkdir()
    config = RunConfig(name="w", dataset="digits", strategies=["entropy"], seeds=[0], queries=2, out=str(folder))
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    (folder / "results.jsonl").touch()
    term = Terminal([sys.executable, "-m", "baltui", "watch", str(folder)])
    try:
        deadline = time.monotonic() + 60
        while "baltui watch" not in term.text() and time.monotonic() < deadline:  # the screen is up
            assert term.proc.poll() is None, term.text()[-2000:]
            time.sleep(0.1)
        time.sleep(0.5)
        if how == "ctrl+c":
            term.type(b"\x03")
        else:
            term.proc.send_signal(signal.SIGTERM)
        took = wait_for_exit(term.proc, EXIT_LIMIT_S + MARGIN_S)
        term.reader.join(2)
    finally:
        term.close()
    assert term.proc.returncode == 0, term.text()[-2000:]
    assert LEAVE_ALT_SCREEN in term.text() and "Traceback" not in term.text()
    assert took < EXIT_LIMIT_S + MARGIN_S
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "results.jsonl"]
    after = term.text().split(LEAVE_ALT_SCREEN)[-1]
    assert f"run folder: {folder}" in after and f"report:     baltui report {folder}" in after, after[-2000:]


# ---- real processes: baltui label -------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["--no-ui", "screen"])
def test_label_stops_within_5s_and_keeps_every_label(mode, tmp_path, digits):
    """During a retrain: the oracle loop gets SIGTERM, the screen Ctrl+Q; out in 5 s, every label kept.

    The oracle loop is stopped in its first retrain, which may still be importing TensorFlow (a phase that
    cannot be interrupted). The screen is stopped in its second: while TensorFlow is being imported fd 2,
    where Textual draws, points at /dev/null (baltui.core.tf_setup), so the screen could not be handed back.
    """
    source = tmp_path / "digits.npz"
    np.savez(source, x_train=(digits.x_pool[:60, ..., 0] * 255).astype(np.uint8), y_train=digits.y_pool[:60])
    out = tmp_path / "session"
    epochs, asked = ("100000", 20) if mode == "--no-ui" else ("1000", 30)
    argv = [sys.executable, "-m", "baltui", "label", str(source), "--out", str(out), "--oracle", str(source),
            "--initial", "20", "--instances", "10", "--epochs", epochs, "--batch-size", "16", "--mc-samples", "3"]
    labels = out / "labels.jsonl"
    if mode == "--no-ui":
        proc = subprocess.Popen([*argv, "--no-ui"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        term = None
    else:
        term = Terminal(argv)
        proc = term.proc
    try:
        wait_for_lines(labels, asked, proc)  # every image asked so far is labelled; the next retrain runs
        time.sleep(0.5)
        if term is None:
            proc.send_signal(signal.SIGTERM)
        else:
            term.type(b"\x11")
        took = wait_for_exit(proc, EXIT_LIMIT_S + MARGIN_S)
    finally:
        if term is not None:
            term.close()
        elif proc.poll() is None:
            proc.kill()
    output = "".join(proc.communicate()) if term is None else term.text()
    assert proc.returncode == (130 if term is None else 0), output[-2000:]
    assert "Traceback" not in output
    assert ("SIGTERM: stopping" in output) if term is None else (LEAVE_ALT_SCREEN in output), output[-3000:]
    records = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= asked and len({r["item"] for r in records}) == len(records)  # none asked twice
    size = labels.stat().st_size
    time.sleep(1.0)
    assert labels.stat().st_size == size
    assert took < EXIT_LIMIT_S + MARGIN_S
