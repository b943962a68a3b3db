"""Nothing lost, nothing doubled (issue 25): each reproduction of the issue is a test here.

- A torn last line (a hard kill, a full disk) is set aside by the next writer and named once, and a resume
  gives exactly the uninterrupted run (through the real engine, cut at several byte offsets).
- A full disk is one line and exit code 2, and the folder continues once there is room (a real tmpfs where
  root can mount one; otherwise a write made to fail with ENOSPC).
- One writer per folder, for runs and label sessions; a stale lock is taken over; `watch` reads the lock.
- Rows and runs recorded twice count once when they agree, and are an error or a warning when they do not.
- Every traceback case the issue lists is one line and exit code 2, and its misleading messages say what is
  really wrong.

Only public entry points are imported at the top, so this file also runs against the code before the issue
(the new modules are imported inside the tests that need them).
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from baltui.cli import main
from baltui.commands.label.cli import main as label_main
from baltui.commands.label.session import LabelSession
from baltui.commands.report import main as report_main
from baltui.core.control import Control
from baltui.core.errors import BaltuiError
from baltui.core.events import QueryResult
from baltui.core.images import load_source
from baltui.executors.local import run_experiment
from baltui.runs.follower import FolderFollower
from baltui.runs.results import ResultsWriter, prepare_out_dir, read_records
from baltui.runs.status import STALLED
from baltui.runs.watched import open_folders

FIXTURE = Path(__file__).parent / "fixtures" / "before_layers"
SOURCE = FIXTURE / "digits_source.npz"
CLASSES = [str(c) for c in range(10)]
QUICK = ["--no-ui", "--queries", "3", "--epochs", "3"]  # 2 runs x 4 queries on the digits


# ---- helpers ----------------------------------------------------------------------------------------
def one_line(err: str, *needles: str, absent: tuple[str, ...] = ()) -> None:
    """stderr is exactly one line holding every needle (and none of `absent`), with no traceback."""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    for word in absent:
        assert word not in err, (word, err)


def copy_fixture_run(to: Path) -> Path:
    """The recorded run folder, its thread count left unsaid (a resume here warns of no other count)."""
    shutil.copytree(FIXTURE / "runs", to)
    config = json.loads((to / "config.json").read_text())
    config["provenance"]["threads_per_run"] = None
    (to / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return to


def line_ends(data: bytes) -> list[int]:
    return [i for i, b in enumerate(data) if b == ord("\n")]


def queries(out: Path) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {(r["run_id"], r["query"]): r for r in rows if r.get("type", "query") == "query"}


def assert_same_runs(a: Path, b: Path) -> None:
    """The same queries with the same picks and accuracies, each recorded once, every run finished once."""
    qa, qb = queries(a), queries(b)
    assert qa.keys() == qb.keys()
    for key in qa:
        assert qa[key]["queried_indices"] == qb[key]["queried_indices"], key
        assert qa[key]["accuracy"] == pytest.approx(qb[key]["accuracy"], abs=1e-9), key
    rows = [json.loads(line) for line in (b / "results.jsonl").read_text().splitlines()]
    assert sum(r.get("type", "query") == "query" for r in rows) == len(qb)  # none twice
    finished = sorted(r["run_id"] for r in rows if r.get("type") == "run_finished")
    assert finished == sorted({rid for rid, _ in qb})


def stub_engine(config, dataset, strategy, seed, control, on_phase, resume):
    """Made-up results at once: no training, for what is about the file rather than the numbers."""
    rid = f"{strategy}-s{seed}"
    start = resume[-1]["query"] + 1 if resume else 0
    for q in range(start, config.queries + 1):
        control.checkpoint()
        k = 0 if q == 0 else config.instances
        yield QueryResult(rid, strategy, seed, q, 20 + k * q, 1000 - k * q, 0.5, 0.0, 0.0, 0.0, list(range(k)),
                          [0] * k, None, np.zeros((k, 8, 8)), None, list(range(20 + k * q)))


HOLDER = """
import sys, time
from baltui.runs.lock import take
take(sys.argv[1], "run")
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding the folder's writer lock, as a run does (no TensorFlow: it starts at once)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def digits_arrays() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 16).astype(np.uint8)
    return {"x_train": x[:300], "y_train": d.target[:300].astype(np.int64), "x_test": x[300:400],
            "y_test": d.target[300:400].astype(np.int64)}


# ---- a torn last line --------------------------------------------------------------------------------
def test_a_torn_line_is_set_aside_named_once_and_never_glued(tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    data = (FIXTURE / "runs" / "results.jsonl").read_bytes()
    cut = (line_ends(data)[4] + line_ends(data)[5]) // 2  # in the middle of line 6
    (out / "results.jsonl").write_bytes(data[:cut])
    writer = ResultsWriter(out)
    new = {**json.loads(data.splitlines()[5]), "run_id": "uniform-s7", "seed": 7}
    writer.append(new)
    writer.close()
    ResultsWriter(out).close()  # nothing left to say
    one_line(capsys.readouterr().err, "results.jsonl ended in an incomplete line", "results.jsonl.torn-1",
             absent=("Warning",))
    assert (out / "results.jsonl.torn-1").read_bytes() == data[line_ends(data)[4] + 1:cut]
    assert read_records(out) == [json.loads(line) for line in data.splitlines()[:5]] + [new]


def test_a_last_line_that_is_a_whole_record_keeps_its_place(tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    data = (FIXTURE / "runs" / "results.jsonl").read_bytes()
    (out / "results.jsonl").write_bytes(data[:line_ends(data)[5]])  # head -n 6 | head -c -1
    ResultsWriter(out).close()
    assert capsys.readouterr().err == "" and not list(out.glob("*.torn-*"))
    assert (out / "results.jsonl").read_bytes() == data[:line_ends(data)[5] + 1]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert main([*QUICK, "--out", str(out)]) == 0
    return out


def _cuts(data: bytes) -> dict[str, int]:
    ends = line_ends(data)  # 10 lines: queries 0-3 of entropy and uniform, then their run_finished
    return {"torn in the first line": ends[0] // 2,
            "torn in line 4": (ends[2] + ends[3]) // 2,
            "line 6 whole without its newline": ends[5],  # the head -n 6 | head -c -1
            "torn in the last line": (ends[8] + ends[9]) // 2}


@pytest.mark.slow
@pytest.mark.parametrize("where", ["torn in the first line", "torn in line 4", "line 6 whole without its newline",
                                   "torn in the last line"])
def test_resume_after_a_cut_equals_the_uninterrupted_run(where, uninterrupted, tmp_path, capsys):
    data = (uninterrupted / "results.jsonl").read_bytes()
    assert len(line_ends(data)) == 10
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(uninterrupted / "config.json", out)
    cut = _cuts(data)[where]
    (out / "results.jsonl").write_bytes(data[:cut])
    assert main(["--no-ui", "--resume", str(out)]) == 0
    assert_same_runs(uninterrupted, out)
    err = capsys.readouterr().err
    torn = data[data.rfind(b"\n", 0, cut) + 1:cut]
    if where.startswith("torn"):
        assert err.count("incomplete line") == 1 and (out / "results.jsonl.torn-1").read_bytes() == torn
    else:
        assert "incomplete" not in err and not list(out.glob("*.torn-*"))


# ---- a full disk ------------------------------------------------------------------------------------
def test_a_failed_write_is_one_error_and_the_file_ends_on_a_whole_line(tmp_path, tiny, monkeypatch):
    config = tiny(queries=4)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    real_fsync, calls = os.fsync, []

    def full_disk(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(BaltuiError) as caught:
        run_experiment(config, None, out, lambda e: None, Control(), engine_factory=stub_engine)
    monkeypatch.undo()
    text = str(caught.value)
    assert "No space left on device (ENOSPC)" in text and f"baltui --resume {out}" in text and "\n" not in text
    data = (out / "results.jsonl").read_bytes()
    assert data.endswith(b"\n") and len(data.splitlines()) == 2  # the third record cut back off, not torn
    # and the folder continues where it stopped
    run_experiment(config, None, out, lambda e: None, Control(), engine_factory=stub_engine,
                   resume={rid: [r for r in read_records(out) if r["run_id"] == rid]
                           for rid in ("entropy-s0", "uniform-s0")})
    rows = read_records(out)
    assert sorted((r["run_id"], r["query"]) for r in rows if r["type"] == "query") == sorted(
        (f"{s}-s0", q) for s in ("entropy", "uniform") for q in range(5))


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def _fill_once_it_writes(results: Path, filler: Path) -> threading.Thread:
    """Once the run has written its first record, fill the disk to the last byte: later records fail mid-run."""

    def fill() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (results.exists() and results.stat().st_size):
            time.sleep(0.005)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_exit_2_and_the_folder_resumes(uninterrupted, tmp_path, capsys):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("needs root and a mountable tmpfs (the patched-write test above covers the rest)")
    try:
        out = disk / "run"
        filling = _fill_once_it_writes(out / "results.jsonl", disk / "filler")
        assert main([*QUICK, "--out", str(out)]) == 2
        filling.join(10)
        err = capsys.readouterr().err
        one_line(err, "baltui: error: cannot write to", "No space left on device", f"baltui --resume {out}")
        data = (out / "results.jsonl").read_bytes()
        assert data.endswith(b"\n") and 0 < len(data.splitlines()) < 10  # whole lines only, stopped mid-run
        (disk / "filler").unlink()  # room again
        assert main(["--no-ui", "--resume", str(out)]) == 0
        assert_same_runs(uninterrupted, out)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_label_full_disk_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "label"

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    assert label_main([str(SOURCE), "--oracle", str(SOURCE), "--no-ui", "--rounds", "1", "--out", str(out)]) == 2
    monkeypatch.undo()
    one_line(capsys.readouterr().err, "No space left on device (ENOSPC)", "the same command resumes")
    assert (out / "labels.jsonl").read_bytes() == b""


async def test_the_label_screen_leaves_with_exit_2_when_a_label_cannot_be_written(tmp_path, monkeypatch):
    from baltui.commands.label.app import LabelApp

    session = LabelSession(load_source(str(SOURCE)), tmp_path / "label", CLASSES, initial=4, instances=3, epochs=1)
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()

        def full_disk(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", full_disk)
        await pilot.press("3")
        await pilot.pause()
    monkeypatch.undo()
    session.close()
    assert app.return_code == 2 and "No space left on device (ENOSPC)" in app.error
    assert "the same command resumes" in app.error and session.labels == {}
    assert (tmp_path / "label" / "labels.jsonl").read_bytes() == b""


# ---- one writer per folder --------------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_writer_is_refused_and_watch_reads_the_first_from_the_lock(tmp_path, capsys):
    """The issue: `--resume DIR` while another process still wrote DIR appended the same queries twice."""
    from baltui.runs.status import WriterProbe

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "baltui", "--no-ui", "--queries", "40", "--epochs", "3",
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        results = out / "results.jsonl"
        while time.monotonic() < deadline and (results.read_bytes().count(b"\n") if results.exists() else 0) < 2:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        probe = WriterProbe(out / "results.jsonl")
        assert not probe.gone() and probe.holder.pid == proc.pid
        assert main(["--no-ui", "--resume", str(out)]) == 2
        one_line(capsys.readouterr().err, f"{out} is being written by another baltui process",
                 f"pid {proc.pid} on ", "a run since")
        assert report_main([str(out), "--format", "json"]) == 0  # reading while it writes is fine
    finally:
        kill(proc)
    assert probe.gone()  # its pid is gone: the watcher can say so at once
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.endswith("}")]
    keys = [(r["run_id"], r["query"]) for r in rows if r["type"] == "query"]
    assert len(keys) == len(set(keys))  # nobody appended the same queries again


def test_a_stale_lock_is_taken_over_with_a_notice(tmp_path, capsys):
    from baltui.runs.lock import LOCK_FILE, take

    folder = tmp_path / "run"
    folder.mkdir()
    holder = hold_lock(folder)
    try:
        with pytest.raises(BaltuiError, match=f"pid {holder.pid} on "):
            take(folder, "resume")
    finally:
        kill(holder)
    lock = take(folder, "resume")
    try:
        one_line(capsys.readouterr().err, f"pid {holder.pid}", "ended without releasing it; taking it over")
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    assert (folder / LOCK_FILE).read_text() == ""  # released cleanly: the next writer has nothing to say
    take(folder, "run").release()
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_a_second_label_session_on_one_folder_is_refused(tmp_path):
    out = tmp_path / "label"
    session = LabelSession(load_source(str(SOURCE)), out, CLASSES)
    try:
        session.start()
        done = subprocess.run([sys.executable, "-m", "baltui", "label", str(SOURCE), "--oracle", str(SOURCE),
                               "--no-ui", "--rounds", "1", "--out", str(out)], capture_output=True, text=True,
                              timeout=300)
    finally:
        session.close()
    assert done.returncode == 2
    one_line(done.stderr, "is being written by another baltui process", f"pid {os.getpid()} on ",
             "a label session since")
    assert (out / "labels.jsonl").read_text() == ""


def test_watch_tells_a_deleted_folder_from_a_dead_writer(tmp_path):
    """The issue: a watched folder deleted mid-run read "the writer's process is gone" while the writer lived."""
    out = copy_fixture_run(tmp_path / "run")
    data = (out / "results.jsonl").read_bytes()
    (out / "results.jsonl").write_bytes(data[:line_ends(data)[3] + 1])  # four rows: an unfinished experiment
    follower = FolderFollower(open_folders([str(out)])[0], stall_floor_s=600.0)
    follower.step()  # the watcher polls before the writer starts: it never takes the lock itself
    writer = hold_lock(out)
    try:
        follower.step()
        status = follower.status  # step() hands back a status only when it changed
        assert status.state != STALLED and not status.writer_gone
        shutil.rmtree(out)
        follower.step()
        status = follower.status
        assert status.state == STALLED and not status.writer_gone
        assert "deleted or moved" in status.describe() and "process is gone" not in status.describe()
    finally:
        kill(writer)
    assert follower.probe.gone()


# ---- rows and runs recorded twice -------------------------------------------------------------------
def _with_rows(out: Path, rows: list[bytes]) -> None:
    with open(out / "results.jsonl", "ab") as f:
        f.write(b"".join(r + b"\n" for r in rows))


def _retimed(line: bytes, **changes) -> bytes:
    return json.dumps({**json.loads(line), "training_s": 9.99, **changes}, separators=(",", ":")).encode()


def test_rows_recorded_twice_count_once_in_report_and_resume(tmp_path, capsys):
    clean = copy_fixture_run(tmp_path / "clean")
    assert report_main([str(clean), "--format", "json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    out = copy_fixture_run(tmp_path / "twice")
    lines = (out / "results.jsonl").read_bytes().splitlines()
    _with_rows(out, [_retimed(line) for line in lines[2:8]])  # a second writer's rows: other timings only
    assert report_main([str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == expected
    one_line(captured.err, "holds 6 queries twice with the same results (lines 65, 66, 67, 68, 69 and 1 more",
             "each is counted once")
    again = shutil.copytree(out, tmp_path / "again")  # (each finding is named once per process, and per path)
    assert main(["--no-ui", "--resume", str(again)]) == 2  # read the same way, then: nothing left to do
    err = capsys.readouterr().err
    assert "holds 6 queries twice" in err and "already finished" in err


def test_rows_recorded_twice_with_different_results_are_an_error_naming_the_lines(tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    lines = (out / "results.jsonl").read_bytes().splitlines()
    _with_rows(out, [_retimed(lines[2], accuracy=0.5)])
    row = json.loads(lines[2])
    says = f"lines 3 and 65 both hold query {row['query']} of {row['run_id']}, with different results"
    assert report_main([str(out)]) == 2
    one_line(capsys.readouterr().err, says)
    assert main(["--no-ui", "--resume", str(out)]) == 2
    one_line(capsys.readouterr().err, says)


def test_report_refuses_a_folder_given_twice_and_counts_a_repeated_run_once(tmp_path, capsys, monkeypatch):
    a = copy_fixture_run(tmp_path / "a")
    monkeypatch.chdir(tmp_path)
    for twice in (["a", "a"], ["a", "./a/../a"]):
        assert report_main(twice + ["--format", "json"]) == 2
        one_line(capsys.readouterr().err, "is given twice", "give each run folder once")
    assert report_main(["a", "--format", "json"]) == 0
    single = json.loads(capsys.readouterr().out)
    shutil.copytree(a, tmp_path / "copy")
    assert report_main(["a", "copy", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert [r["runs_total"] for r in json.loads(out)] == [r["runs_total"] for r in single] == [2] * 8
    one_line(err, "copy repeats 16 runs (uniform-s0, entropy-s0, bald-s0, var_ratios-s0 and 12 more) of a "
                  "record for record; each counted once")
    # the same strategy, seed and settings with other results (another thread count, say): kept, flagged
    rows = [json.loads(line) for line in (tmp_path / "copy" / "results.jsonl").read_text().splitlines()]
    for r in rows:
        if r.get("run_id") == "bald-s1" and r["type"] == "query":
            r["accuracy"] += 0.01
    (tmp_path / "copy" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert report_main(["a", "copy", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert {r["strategy"]: r["runs_total"] for r in json.loads(out)}["bald"] == 3
    assert "a/bald-s1 and copy/bald-s1: the same strategy, seed and settings recorded different results" in err


# ---- one line and exit code 2 where there were tracebacks -------------------------------------------
def _npz(path: Path, **changes) -> Path:
    arrays = {**digits_arrays(), **changes}
    np.savez(path, **arrays)
    return path


def _y_with(label, dtype=np.int64) -> np.ndarray:
    y = digits_arrays()["y_train"].astype(dtype)
    y[0] = label
    return y


DATA_CASES = {
    # name: (arrays changed, what the one line says, what it must not say)
    "label 2**63+5": ({"y_train": _y_with(2**63 + 5, np.uint64)}, "has label 9223372036854775813", "Overflow"),
    "label 10**13": ({"y_train": _y_with(10**13)}, "has label 10000000000000, more classes than its 300", "TiB"),
    "label 10**9": ({"y_train": _y_with(10**9)}, "has label 1000000000, more classes than its 300", "Memory"),
    "boolean images": ({"x_train": digits_arrays()["x_train"] > 5}, "x_train holds bool values", "finite"),
    "complex pixels": ({"x_train": digits_arrays()["x_train"].astype(np.complex64)}, "holds complex64 values",
                       "finite"),
    "infinite labels": ({"y_train": _y_with(np.inf, np.float64)}, "with NaN or infinite values", "RuntimeWarning"),
    "1x1 images": ({"x_train": np.zeros((300, 1, 1), np.uint8), "x_test": np.zeros((100, 1, 1), np.uint8)},
                   "no model takes images this small", "use --model seed"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_is_one_line_and_exit_2_before_anything_slow(case, tmp_path, capsys):
    changes, says, never = DATA_CASES[case]
    data = _npz(tmp_path / "data.npz", **changes)
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning or ComplexWarning on the way
        assert main(["--no-ui", "--queries", "1", "--epochs", "1", "--data", str(data), "--out",
                     str(tmp_path / "out")]) == 2
    assert time.monotonic() - started < 10  # 10**9 took 36 s and 8.8 GB before its error
    one_line(capsys.readouterr().err, says, absent=(never,))
    assert not (tmp_path / "out").exists()


def test_a_text_file_as_npz_says_so(tmp_path, capsys):
    text = tmp_path / "data.npz"
    text.write_text("hello\n")
    assert main(["--no-ui", "--data", str(text), "--out", str(tmp_path / "out")]) == 2
    one_line(capsys.readouterr().err, "is not an .npz file (not a zip archive of arrays)", absent=("pickle",))
    assert label_main([str(SOURCE), "--oracle", str(text), "--no-ui", "--out", str(tmp_path / "l")]) == 2
    one_line(capsys.readouterr().err, "--oracle", "is not an .npz file", absent=("pickle",))


def test_label_on_images_too_small_for_the_model_is_one_line(tmp_path, capsys):
    tiny_images = _npz(tmp_path / "small.npz", x_train=np.zeros((300, 1, 1), np.uint8))
    assert label_main([str(tiny_images), "--oracle", str(tiny_images), "--no-ui", "--rounds", "1", "--epochs", "1",
                       "--out", str(tmp_path / "l")]) == 2
    one_line(capsys.readouterr().err, "x_train images are 1x1; the model needs at least 8x8")


def test_label_test_labels_beyond_the_classes_are_refused(tmp_path, capsys):
    test = _npz(tmp_path / "test.npz", y_test=np.full(100, 10**13, np.int64))
    assert label_main([str(SOURCE), "--oracle", str(SOURCE), "--test", str(test), "--no-ui", "--rounds", "1",
                       "--epochs", "1", "--mc-samples", "3", "--out", str(tmp_path / "l")]) == 2
    one_line(capsys.readouterr().err, "--test", "y_test has label 10000000000000, beyond the 10 classes")


@pytest.mark.parametrize("bad", ["42", '{"type": "query"}', "query as a string"])
def test_records_of_the_wrong_shape_are_one_line_naming_the_line(bad, tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    lines = (out / "results.jsonl").read_bytes().splitlines()
    if bad == "query as a string":
        lines[2] = json.dumps({**json.loads(lines[2]), "query": "2"}).encode()
        says = 'line 3 is not a usable record (query "2", not a whole number >= 0)'
    else:
        lines[2] = bad.encode()
        says = "line 3 is not a JSON record" if bad == "42" else "line 3 is not a usable record (a record without"
    (out / "results.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert report_main([str(out)]) == 2
    one_line(capsys.readouterr().err, says)
    assert main(["--no-ui", "--resume", str(out)]) == 2
    one_line(capsys.readouterr().err, says)


def test_a_config_of_the_wrong_shape_or_with_unknown_keys_is_one_line(tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    (out / "config.json").write_text("[]")
    assert report_main([str(out)]) == 2
    one_line(capsys.readouterr().err, "config.json is not a baltui config (expected a JSON object")
    assert main(["--no-ui", "--resume", str(out)]) == 2
    one_line(capsys.readouterr().err, "config.json is not a baltui config (expected a JSON object")
    config = json.loads((FIXTURE / "runs" / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "foo": 1}))
    assert main(["--no-ui", "--resume", str(out), "--queries", "3"]) == 2
    one_line(capsys.readouterr().err, "holds setting(s) baltui does not know: foo", absent=("preset",))


def test_report_plot_to_a_format_matplotlib_cannot_write_is_one_line_before_the_table(tmp_path, capsys):
    out = copy_fixture_run(tmp_path / "run")
    for target, says in ((tmp_path / "curves.xyz", "matplotlib cannot write a .xyz file; use .png"),
                         ("", "--plot needs a file name")):
        assert report_main([str(out), "--plot", str(target)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        one_line(captured.err, says)


def test_report_on_an_ascii_only_stdout_prints_ascii(tmp_path, capsys, monkeypatch):
    out = copy_fixture_run(tmp_path / "run")
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))  # PYTHONIOENCODING=ascii
    code = report_main([str(out)])
    sys.stdout.flush()
    text = raw.getvalue().decode("ascii")
    monkeypatch.undo()
    assert code == 0
    assert "| powerbald " in text and "0.1771 +/- 0.0114" in text and "+/- is the sample standard deviation" in text
    one_line(capsys.readouterr().err, "the chart needs a terminal that shows Unicode")


@pytest.mark.slow
def test_label_resume_after_a_torn_line_loses_no_label(tmp_path, capsys):
    """The issue: after a torn last line the resumed session's first label was dropped (29 said, 28 exported)."""
    out = tmp_path / "label"
    shutil.copytree(FIXTURE / "label", out)
    data = (out / "labels.jsonl").read_bytes()
    (out / "labels.jsonl").write_bytes(data[:-20])  # the last key press cut short
    assert label_main([str(SOURCE), "--oracle", str(SOURCE), "--no-ui", "--rounds", "1", "--epochs", "1",
                       "--mc-samples", "3", "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert "round 4: 49 labels" in said.out  # 39 whole lines kept and the 10 of the pending batch
    one_line(said.err, "labels.jsonl ended in an incomplete line", "labels.jsonl.torn-1")
    assert label_main(["--export", str(out)]) == 0
    assert "wrote 49 labels" in capsys.readouterr().out


def test_leaving_through_exit_process_releases_the_folder_lock(tmp_path, capsys):
    """The apps and a stopped headless run leave by os._exit, past every `finally`: the lock must not name the
    process that left (the next writer would call it a writer that ended without releasing it)."""
    from baltui.runs.lock import LOCK_FILE, take

    folder = tmp_path / "run"
    folder.mkdir()
    code = ("import sys; from baltui.runs.lock import take; from baltui.ui.leaving import exit_process; "
            "take(sys.argv[1], 'run'); take(sys.argv[1], 'run'); exit_process(130)")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert (folder / LOCK_FILE).read_text() == ""  # released, though taken twice and never released by hand
    take(folder, "resume").release()
    assert "without releasing" not in capsys.readouterr().err
