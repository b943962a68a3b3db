"""`baltui --no-ui` end to end on digits: lines, summary, files on disk, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from baltui.cli import main
from baltui.runs.results import read_records

TINY = ["--queries", "2", "--instances", "5", "--epochs", "2", "--mc-samples", "3", "--subset", "200"]


def test_headless_run_writes_config_and_one_line_per_query(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--no-ui", "--out", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert "[entropy seed 0] Accuracy after query 2:" in text
    assert "[uniform seed 0] Initial accuracy:" in text and "Summary" in text
    config = json.loads((out / "config.json").read_text())
    assert config["queries"] == 2 and config["strategies"] == ["entropy", "uniform"]
    records = read_records(out)
    queries = [r for r in records if r["type"] == "query"]
    assert len(queries) == 6
    for key in ("strategy", "seed", "query", "n_labelled", "pool_size", "accuracy", "acquisition_s",
                "training_s", "evaluation_s", "queried_indices", "score_summary"):
        assert key in queries[0]
    # interleaved: the two runs advance together
    assert [(r["strategy"], r["query"]) for r in queries[:4]] == [
        ("entropy", 0), ("uniform", 0), ("entropy", 1), ("uniform", 1)]
    assert sum(r["type"] == "run_finished" for r in records) == 2


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "baltui", *args], capture_output=True, text=True, timeout=timeout)


def test_bad_input_is_one_line_exit_2_and_fast(tmp_path):
    cases = [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--queries", "0"], "'queries' must be a whole number from 1 to 100000, got 0"),
        (["--strategies", "entropy,foo"], "unknown strategy 'foo'"),
        (["--seeds", "a,b"], "comma list of whole numbers"),
        (["--epochs", "x"], "'epochs' must be a whole number from 1 to 10000, got 'x'"),
        (["--data", str(tmp_path / "missing.npz")], "does not exist"),
        (["--queries", "200"], "pool holds 1300"),
        (["--bogus"], "unrecognized arguments"),
    ]
    for args, message in cases:
        started = time.perf_counter()
        proc = _cli("--no-ui", "--out", str(tmp_path / "o"), *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert time.perf_counter() - started < 20
    assert not (tmp_path / "o").exists()  # nothing created for a refused run


def test_out_folder_that_is_not_a_run_is_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    proc = _cli("--no-ui", "--out", str(other), *TINY)
    assert proc.returncode == 2 and "not a baltui run" in proc.stderr
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1


def test_help_does_not_import_tensorflow():
    code = "import sys; from baltui.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "assert 'tensorflow' not in sys.modules and 'textual' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--no-ui" in proc.stdout


def test_sigint_stops_mid_run_and_keeps_completed_queries(tmp_path):
    """A real Ctrl+C to a running `baltui --no-ui`: stops within an epoch, nothing torn or lost."""
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "baltui", "--no-ui", "--out", str(out), "--queries", "100",
         "--instances", "10", "--epochs", "200", "--mc-samples", "3", "--subset", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    results = Path(out) / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if results.exists() and results.read_text().count("\n") >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stopped_in = time.perf_counter() - sent
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stopped_in < 15, stopped_in  # one epoch on <=40 images, plus the summary
    text = results.read_text()
    assert text.endswith("\n")
    records = read_records(out)
    assert len([r for r in records if r["type"] == "query"]) >= 3
    assert "--resume" in stdout
