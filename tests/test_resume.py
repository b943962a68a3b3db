"""Interrupt a run, resume it, and get exactly what an uninterrupted run gives."""

from __future__ import annotations

import json

import pytest

from baltui.cli import main
from baltui.core.config import run_id
from baltui.core.control import Control
from baltui.core.events import QueryResult
from baltui.executors.local import run_experiment
from baltui.runs.results import prepare_out_dir, read_records


def _queries(out):
    return {(r["run_id"], r["query"]): r for r in read_records(out) if r["type"] == "query"}


def test_resume_matches_an_uninterrupted_run(tmp_path, digits, tiny):
    config = tiny(queries=4)
    full = tmp_path / "full"
    prepare_out_dir(full, config.to_dict())
    run_experiment(config, digits, full, lambda e: None, Control())

    cut = tmp_path / "cut"
    prepare_out_dir(cut, config.to_dict())
    control = Control()

    def stop_after_query_2(event):
        if isinstance(event, QueryResult) and event.run_id == run_id("uniform", 0) and event.query == 2:
            control.stop()

    states = run_experiment(config, digits, cut, stop_after_query_2, control)
    assert set(states.values()) == {"cancelled"}
    assert max(q for (_, q) in _queries(cut)) == 2

    # resume through the CLI, as a user would
    assert main(["--no-ui", "--resume", str(cut)]) == 0
    a, b = _queries(full), _queries(cut)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["queried_indices"] == b[key]["queried_indices"], key
        # TensorFlow's CPU kernels are deterministic for a fixed thread count; allow float noise only.
        assert a[key]["accuracy"] == pytest.approx(b[key]["accuracy"], abs=1e-9), key
    assert sum(r["type"] == "run_finished" for r in read_records(cut)) == 2


def test_resume_refuses_flags_that_change_the_experiment(tmp_path, capsys, tiny):
    out = tmp_path / "run"
    prepare_out_dir(out, tiny().to_dict())
    assert main(["--no-ui", "--resume", str(out), "--epochs", "9"]) == 2
    assert "--epochs would change it" in capsys.readouterr().err
    assert main(["--no-ui", "--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing does not exist; give the run folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--no-ui", "--resume", str(tmp_path / "empty")]) == 2
    assert "not a baltui run folder (no config.json)" in capsys.readouterr().err


def test_torn_last_line_is_ignored_with_a_warning(tmp_path, tiny, capsys):
    out = tmp_path / "run"
    prepare_out_dir(out, tiny().to_dict())
    good = {"type": "query", "run_id": "entropy-s0", "strategy": "entropy", "seed": 0, "query": 0,
            "n_labelled": 20, "accuracy": 0.5}
    (out / "results.jsonl").write_text(json.dumps(good) + "\n" + '{"type": "query", "run_id": "entr')
    assert read_records(out) == [good]
    assert read_records(out) == [good]
    err = capsys.readouterr().err  # one line, once (not a Python UserWarning with a source path, twice)
    assert err.count("\n") == 1 and "ends in an incomplete line (33 bytes" in err
