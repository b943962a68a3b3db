"""The lines every command prints on leaving a run folder: where it is, how to resume it, how to report it.

Real folders on disk, a real lock held by another process: a resume is offered only for an unfinished folder
nobody else writes, and headless mode prints the very same lines.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from fakes import FakeEngine
from rich.console import Console

from baltui.core.config import RunConfig
from baltui.runs.lock import LOCK_FILE, take
from baltui.runs.next_steps import next_steps
from baltui.runs.results import prepare_out_dir


def folder_with(tmp_path, *rows, name="run"):
    config = RunConfig(name="t", dataset="digits", strategies=["entropy"], seeds=[0], queries=1)
    path = tmp_path / name
    prepare_out_dir(path, config.to_dict())
    base = {"run_id": "entropy-s0", "strategy": "entropy", "seed": 0}
    with open(path / "results.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps({**base, **row}) + "\n")
    return path


def query(q):
    return {"type": "query", "query": q, "n_labelled": 20 + q, "pool_size": 100 - q, "accuracy": 0.5}


def test_an_unfinished_folder_says_how_to_resume_and_report(tmp_path):
    path = folder_with(tmp_path, query(0))
    assert next_steps(path) == [f"run folder: {path}", f"resume:     baltui --resume {path}",
                                f"report:     baltui report {path}"]
    assert next_steps(path, headless=True)[1] == f"resume:     baltui --resume {path} --no-ui"


def test_a_finished_folder_offers_no_resume(tmp_path):
    path = folder_with(tmp_path, query(0), query(1), {"type": "run_finished"})
    assert next_steps(path) == [f"run folder: {path}", f"report:     baltui report {path}"]


def test_a_path_with_a_space_is_quoted_as_a_shell_takes_it(tmp_path):
    path = folder_with(tmp_path, query(0), name="my run")
    assert next_steps(path)[1] == f"resume:     baltui --resume '{path}'"


def test_a_folder_gone_meanwhile_still_gets_its_name(tmp_path):
    path = folder_with(tmp_path, query(0))
    shutil.rmtree(path)
    assert next_steps(path) == [f"run folder: {path}"]


def test_our_own_lock_is_no_other_writer(tmp_path):
    path = folder_with(tmp_path, query(0))
    lock = take(path, "run")
    try:
        assert next_steps(path)[1].startswith("resume:     baltui --resume")
    finally:
        lock.release()
    assert (path / LOCK_FILE).read_text() == ""  # released: nobody holds it


@pytest.mark.slow  # a second Python process holds the lock
def test_no_resume_while_another_process_writes_the_folder(tmp_path):
    path = folder_with(tmp_path, query(0))
    code = ("import sys, time; from baltui.runs.lock import take; take(sys.argv[1], 'run'); print('held', flush=True); "
            "time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "held"
        lines = next_steps(path)
        assert lines[1].startswith(f"resume:     not now: pid {writer.pid} on ") and "still writing it" in lines[1]
    finally:
        writer.kill()
        writer.wait()
    assert next_steps(path)[1] == f"resume:     baltui --resume {path}"  # its writer is gone


def run_headless_on(tmp_path, digits, config, data=None, **engine):
    from baltui.commands.run.headless import run_headless

    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    text = io.StringIO()
    code = run_headless(config, digits, out, engine_factory=FakeEngine(epochs=1, **engine),
                        console=Console(file=text, width=400, highlight=False))
    return code, text.getvalue(), out


def test_headless_prints_the_same_lines(tmp_path, tiny, digits):
    code, text, out = run_headless_on(tmp_path, digits, tiny(queries=3), fail="uniform", fail_at=2,
                                      error=FloatingPointError("boom"))
    assert code == 1
    assert text.rstrip().endswith("\n".join(next_steps(out, headless=True)))  # the one function, last thing said
    assert f"baltui --resume {out} --no-ui" in text  # a failed run continues on --resume


def test_the_headless_banner_names_the_data_as_given(tmp_path, tiny, digits):
    """Not "mnist" for every 28x28 .npz: the file the user gave, and its recipe."""
    path = tmp_path / "fashion.npz"
    np.savez(path, x_train=np.zeros((30, 28, 28), np.uint8), y_train=np.arange(30) % 10,
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.arange(10))
    from baltui.core.data import load_npz

    assert load_npz(path).name == "fashion"
    _, text, _ = run_headless_on(tmp_path, digits, tiny(queries=1, data=str(path), recipe="repeated:3"))
    assert f"on {path} (recipe repeated:3) (" in text and "mnist" not in text
    _, text, _ = run_headless_on(tmp_path / "b", digits, tiny(queries=1))
    assert "running 'tiny' on digits (" in text
