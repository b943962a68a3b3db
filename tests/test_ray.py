"""The (strategy, seed) grid as Ray tasks (--workers): same results as in process, live records, cancel, a
killed worker. A real local Ray instance (num_cpus=2), digits, tiny settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from recorded_runs import queries

from baltui.cli import main
from baltui.core.config import build_config, load_preset
from baltui.core.control import Control
from baltui.core.events import PhaseChanged, QueryResult, RunFinished
from baltui.executors.local import run_experiment
from baltui.runs.recorder import runs_to_do
from baltui.runs.results import ResultsWriter, prepare_out_dir, read_records

ray = pytest.importorskip("ray")

# One experiment for the in-process / Ray comparison and the killed-worker test: 2 runs x 4 queries.
SETTINGS = ["--preset", "quick", "--queries", "3", "--epochs", "3", "--mc-samples", "5", "--seeds", "0",
            "--strategies", "entropy,uniform", "--threads-per-run", "1"]
RUN_IDS = ("entropy-s0", "uniform-s0")
# In process, and proving that the default path never imports Ray.
IN_PROCESS = ("import sys\nfrom baltui.cli import main\ncode = main(sys.argv[1:])\n"
              "sys.exit(99 if 'ray' in sys.modules else code)")


def _config(**overrides):
    values = dict(strategies=["entropy", "uniform"], seeds=[0], queries=3, epochs=3, mc_samples=5)
    values.update(overrides)
    return build_config(load_preset("quick"), values)


def _check_rows(out):
    """Every line parses, no (run, query) twice, and each run's queries are 0, 1, 2, ... without a gap."""
    lines = (out / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every row parses
    counts = Counter((r["run_id"], r["query"]) for r in records if r["type"] == "query")
    assert max(counts.values(), default=1) == 1, counts
    for rid in RUN_IDS:
        seen = [r["query"] for r in records if r["type"] == "query" and r["run_id"] == rid]
        assert seen == list(range(len(seen))), (rid, seen)
    return records


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same experiment in process and with --workers 2, each in its own Python (run side by side)."""
    base = tmp_path_factory.mktemp("ray-reference")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    commands = {
        "in_process": [sys.executable, "-c", IN_PROCESS, "--no-ui", *SETTINGS, "--out", str(base / "in_process")],
        "ray": [sys.executable, "-m", "baltui", "--no-ui", *SETTINGS, "--workers", "2", "--out", str(base / "ray")],
    }
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for name, cmd in commands.items()}
    outputs = {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{outputs[name][-3000:]}"
    assert "one task per run, 2 at a time, 1 thread(s) per run" in outputs["ray"]  # the Ray side says how it runs
    return {name: base / name for name in commands}


@pytest.fixture(scope="module")
def local_ray(reference):
    """One local Ray instance for the module (started after the reference subprocesses are done)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def executor(local_ray):
    from baltui.executors.ray_executor import RayExecutor

    return RayExecutor(workers=2, threads_per_run=1)


def test_ray_gives_the_same_indices_and_accuracies_as_in_process(reference):
    a, b = queries(reference["in_process"]), queries(reference["ray"])
    assert a.keys() == b.keys() and len(a) == 2 * 4
    for key in a:
        assert a[key]["queried_indices"] == b[key]["queried_indices"], key
        assert a[key]["accuracy"] == b[key]["accuracy"], key
        assert a[key]["labelled_indices"] == b[key]["labelled_indices"], key
    finished = [r["run_id"] for r in read_records(reference["ray"]) if r["type"] == "run_finished"]
    assert sorted(finished) == sorted(RUN_IDS)


def test_records_stream_live_while_the_tasks_run(tmp_path, digits, executor):
    config = _config(epochs=2, mc_samples=3)
    out = tmp_path / "live"
    prepare_out_dir(out, config.to_dict())
    events = []
    states = executor(config, digits, out, lambda e: events.append((time.time(), e)), Control())
    assert {rid: states[rid] for rid in RUN_IDS} == {rid: "finished" for rid in RUN_IDS}
    assert os.path.isdir(states["ray_session_dir"])
    for rid in RUN_IDS:
        first = next(t for t, e in events if isinstance(e, QueryResult) and e.run_id == rid)
        # query 0 reached emit before the worker had even produced its last query
        assert first < executor.produced_at[(rid, 3)], rid
        assert executor.started[rid]["threads"]["TF_NUM_INTRAOP_THREADS"] == "1"
        assert f"{rid} (pid {executor.started[rid]['pid']})" in executor.placement()
    assert executor.placement().startswith("Ray node ") and all(len(executor.started[r]["node_id"]) > 8
                                                                 for r in RUN_IDS)
    assert any(isinstance(e, PhaseChanged) and e.phase == "training" for _, e in events)
    records = _check_rows(out)
    assert len([r for r in records if r["type"] == "query"]) == 8
    # the same record the in-process executor writes, field for field
    assert set(records[0]) == set(QueryResult("r", "s", 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, [], [], None).to_record()) | {
        "type"}


def test_stop_cancels_the_tasks_and_keeps_completed_queries(tmp_path, digits, executor):
    # 60 queries: long enough that no run can finish between its first record and the cancel (at 20, one
    # CI run in several saw both tiny runs end first and report "finished")
    config = _config(queries=60, epochs=2, mc_samples=3)
    out = tmp_path / "cancel"
    prepare_out_dir(out, config.to_dict())
    control = Control()
    stopped_at = []

    def emit(event):
        if isinstance(event, QueryResult) and not control.stopped:
            control.stop()
            stopped_at.append(time.monotonic())

    executor.emitted_at.clear()
    states = executor(config, digits, out, emit, control)
    took = time.monotonic() - stopped_at[0]
    assert {states[rid] for rid in RUN_IDS} == {"cancelled"}
    assert took < 6.0, f"the tasks took {took:.1f} s to stop"
    records = _check_rows(out)
    kinds = Counter(r["type"] for r in records)
    assert kinds["query"] >= 1 and kinds["run_failed"] == 0 and kinds["run_finished"] == 0
    # every query that reached emit is on disk, and nothing else is
    assert set(executor.emitted_at) == {(r["run_id"], r["query"]) for r in records if r["type"] == "query"}
    # the runs really stopped: their workers go idle once each reaches its next epoch or phase boundary (a
    # swallowed cancel would keep them training for 60 queries); up to 20 s, as on a loaded machine a worker
    # can take several seconds to reach that boundary (a clean-clone check with an MNIST job beside it saw 0.35)
    pids = [executor.started[rid]["pid"] for rid in RUN_IDS if rid in executor.started]
    used = []
    while len(used) < 20:
        before = _cpu_seconds(pids)
        time.sleep(1.0)
        used.append(round(_cpu_seconds(pids) - before, 2))
        if used[-1] < 0.3:
            break
    assert used[-1] < 0.3, f"CPU seconds per second in the workers after the cancel: {used}"


def test_a_stop_rule_ends_its_run_on_ray_as_in_process(tmp_path, digits, executor):
    """The engine in the worker names the rule on the query it met; the driver's Recorder finishes the run."""
    config = _config(queries=4, instances=5, epochs=1, mc_samples=3, stop_when=["labels>=30"])  # 20 + 5 per query
    out = tmp_path / "stopped"
    prepare_out_dir(out, config.to_dict())
    events = []
    states = executor(config, digits, out, events.append, Control())
    assert {states[rid] for rid in RUN_IDS} == {"finished"}
    records = _check_rows(out)
    assert {(r["run_id"], r["query"]) for r in records if r["type"] == "query"} == {
        (rid, q) for rid in RUN_IDS for q in range(3)}
    ends = sorted((r["run_id"], r["stopped"], r["queries"]) for r in records if r["type"] == "run_finished")
    assert ends == [(rid, "labels>=30", 2) for rid in RUN_IDS]
    assert sorted(e.text() for e in events if isinstance(e, RunFinished)) == ["stopped: labels>=30 at query 2"] * 2


def _cpu_seconds(pids):
    """CPU time used so far by the live processes among `pids` (Linux /proc; 0 for ones that have gone)."""
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_a_killed_worker_fails_its_run_and_resume_continues_it(tmp_path, digits, executor, reference, capsys):
    config = _config()
    out = tmp_path / "killed"
    prepare_out_dir(out, config.to_dict())
    killed = []

    def emit(event):
        if isinstance(event, QueryResult) and event.run_id == "entropy-s0" and event.query == 1 and not killed:
            killed.append(executor.started["entropy-s0"]["pid"])
            os.kill(killed[0], signal.SIGKILL)

    states = executor(config, digits, out, emit, Control())
    assert killed and states["entropy-s0"] == "failed" and states["uniform-s0"] == "finished"
    records = _check_rows(out)
    failed = [r for r in records if r["type"] == "run_failed"]
    assert len(failed) == 1 and failed[0]["run_id"] == "entropy-s0" and "Ray worker lost" in failed[0]["error"]
    done = [r["query"] for r in records if r["type"] == "query" and r["run_id"] == "entropy-s0"]
    assert 1 <= done[-1] < 3

    # --resume continues the failed run from its last completed query, on Ray again
    assert main(["--no-ui", "--resume", str(out), "--workers", "2", "--threads-per-run", "1"]) == 0
    assert "Ray: one task per run" in capsys.readouterr().out
    records = _check_rows(out)
    assert [r["type"] for r in records if r["run_id"] == "entropy-s0"][-1] == "run_finished"
    # and ends exactly where an uninterrupted run ends
    a, b = queries(reference["in_process"]), queries(out)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["queried_indices"] == b[key]["queried_indices"], key
        assert a[key]["accuracy"] == b[key]["accuracy"], key


def test_workers_without_ray_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    assert main(["--no-ui", "--workers", "2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "need Ray" in err and "pip install 'baltui[ray]'" in err
    assert not (tmp_path / "x").exists()  # nothing slow started

    from baltui.core.errors import BaltuiError
    from baltui.executors import ray_executor

    monkeypatch.setattr(ray_executor, "ray", None)
    with pytest.raises(BaltuiError, match="need Ray"):
        ray_executor.RayExecutor(workers=2)


def test_in_process_resume_continues_a_failed_run_from_its_last_query(tmp_path, tiny):
    config = tiny(queries=3)
    out = tmp_path / "failed"
    prepare_out_dir(out, config.to_dict())
    def query(strategy, q):
        return {"type": "query", **QueryResult(f"{strategy}-s0", strategy, 0, q, 20 + q, 1280 - q, 0.5, 0.0, 0.0,
                                               0.0, [], [], None, labelled_indices=list(range(20))).to_record()}

    writer = ResultsWriter(out)
    for record in (query("entropy", 0), *(query("uniform", q) for q in range(4)),
                   {"type": "run_failed", "run_id": "entropy-s0", "strategy": "entropy", "seed": 0, "error": "x"},
                   {"type": "run_finished", "run_id": "uniform-s0", "strategy": "uniform", "seed": 0}):
        writer.append(record)
    writer.close()
    resume = {}
    for r in read_records(out):
        resume.setdefault(r["run_id"], []).append(r)
    todo, done = runs_to_do(config, resume)
    assert [(rid, [q["query"] for q in queries]) for rid, _, _, queries in todo] == [("entropy-s0", [0])]
    assert done == {"uniform-s0": "finished"}

    calls = []

    def engine(config, dataset, strategy, seed, control, on_phase, resume):
        calls.append((strategy, [r["query"] for r in resume]))
        for q in range(resume[-1]["query"] + 1, config.queries + 1):
            yield QueryResult(f"{strategy}-s{seed}", strategy, seed, q, 20 + q, 1280 - q, 0.5, 0.0, 0.0, 0.0,
                              [], [], None)

    states = run_experiment(config, None, out, lambda e: None, Control(), engine, resume)
    assert calls == [("entropy", [0])] and states == {"entropy-s0": "finished", "uniform-s0": "finished"}
    records = _check_rows(out)
    assert [r["type"] for r in records if r["run_id"] == "entropy-s0"][-1] == "run_finished"
