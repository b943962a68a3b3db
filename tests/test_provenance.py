"""Runs carry their provenance; --resume finds and checks its data; presets and flags say what they do."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from baltui.cli import main
from baltui.core.config import build_config, load_preset, warn_unused
from baltui.core.errors import BaltuiError
from baltui.runs.references import MNIST_SHA256
from baltui.runs.results import read_records

TINY = ["--queries", "2", "--instances", "5", "--epochs", "2", "--mc-samples", "3", "--subset", "200"]


def _npz(path, seed=0, n=120):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 255, size=(n, 8, 8), dtype=np.uint8)
    y = np.tile(np.arange(10), n // 10).astype(np.uint8)
    np.savez(path, x_train=x, y_train=y, x_test=x[:30], y_test=y[:30])
    return path


def _queries(out):
    return [(r["run_id"], r["query"], r["queried_indices"], r["accuracy"]) for r in read_records(out)
            if r["type"] == "query"]


def test_config_records_data_hash_versions_and_a_relative_data_path(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    data = _npz(tmp_path / "data" / "mine.npz")
    out = tmp_path / "runs" / "a"
    assert main(["--no-ui", "--data", str(data), "--strategies", "uniform", "--out", str(out), *TINY]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["data"] == os.path.join("..", "..", "data", "mine.npz")
    assert "out" not in saved and str(tmp_path) not in json.dumps(saved)
    prov = saved["provenance"]
    assert len(prov["data_sha256"]) == 64 and prov["data_sha256"] != MNIST_SHA256
    assert prov["data_file"]["bytes"] == data.stat().st_size
    assert prov["versions"]["tensorflow"] and prov["versions"]["modAL-python"] == "0.4.2.1"
    assert prov["evaluation"] in ("float32", "bfloat16 with float32 rechecks") and prov["cpu"]


def test_resume_from_another_folder_finds_the_data_and_refuses_a_swapped_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    data = _npz(tmp_path / "data" / "mine.npz")
    out = tmp_path / "runs" / "a"
    assert main(["--no-ui", "--data", str(data), "--strategies", "uniform", "--out", str(out), *TINY]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # finished, but it can be extended; from another folder the relative data path still resolves
    assert main(["--no-ui", "--resume", str(out), "--queries", "3"]) == 0
    assert max(q for _, q, _, _ in _queries(out)) == 3
    _npz(tmp_path / "data" / "mine.npz", seed=1)  # same name, other content
    capsys.readouterr()
    assert main(["--no-ui", "--resume", str(out), "--queries", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differs from the data it was started on" in err[0]


def test_extending_a_run_equals_asking_for_more_from_the_start(tmp_path):
    short, full = tmp_path / "short", tmp_path / "full"
    args = ["--no-ui", "--strategies", "entropy,uniform", "--seeds", "0", "--instances", "5", "--epochs", "2",
            "--mc-samples", "3", "--subset", "200"]
    assert main([*args, "--queries", "2", "--out", str(short)]) == 0
    assert main(["--no-ui", "--resume", str(short), "--queries", "3", "--seeds", "0,1"]) == 0
    assert main([*args, "--queries", "3", "--seeds", "0,1", "--out", str(full)]) == 0
    assert sorted(_queries(short)) == sorted(_queries(full))
    assert json.loads((short / "config.json").read_text())["queries"] == 3
    assert main(["--no-ui", "--resume", str(short)]) == 2  # nothing left to do


def test_resume_refuses_fewer_queries_or_dropped_seeds(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["--no-ui", "--strategies", "uniform", "--seeds", "0,1", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["--no-ui", "--resume", str(out), "--seeds", "1"]) == 2
    assert "may only add seeds" in capsys.readouterr().err
    assert main(["--no-ui", "--resume", str(out), "--queries", "1"]) == 2
    assert "may only extend" in capsys.readouterr().err
    assert main(["--no-ui", "--resume", str(out), "--epochs", "5"]) == 2
    assert "--epochs would change it" in capsys.readouterr().err


def test_a_preset_name_is_a_preset_even_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paper").mkdir()
    assert load_preset("paper")["dataset"] == "mnist"
    with pytest.raises(BaltuiError, match=r"preset file paper.toml does not exist \(a .toml path was given\)"):
        load_preset("paper.toml")
    (tmp_path / "mine.toml").write_text('dataset = "digits"\nstrategies = ["bald"]\n')
    assert load_preset("mine.toml")["strategies"] == ["bald"]
    assert load_preset("./mine.toml")["name"] == "mine"


def test_a_partial_digits_preset_takes_the_quick_presets_settings(tmp_path):
    quick = load_preset("quick")
    config = build_config({"name": "mine", "dataset": "digits", "strategies": ["bald"]})
    assert (config.batch_size, config.epochs, config.mc_samples) == (quick["batch_size"], quick["epochs"],
                                                                     quick["mc_samples"])
    assert build_config({"name": "m", "dataset": "mnist"}).batch_size == 128


def test_a_preset_may_set_its_data_file(tmp_path):
    data = _npz(tmp_path / "d.npz")
    config = build_config({"name": "mine", "data": str(data), "strategies": ["uniform"]})
    assert config.dataset == "npz" and config.data == str(data)


def test_a_flag_no_strategy_reads_gets_one_warning(capsys):
    config = build_config(load_preset("quick"), {"beta": 2.0})
    assert len(warn_unused(config, {"beta"})) == 1
    assert "--beta is read only by powerbald, powerentropy" in capsys.readouterr().err
    config = build_config(load_preset("quick"), {"beta": 2.0, "strategies": ["powerbald", "uniform"]})
    assert warn_unused(config, {"beta"}) == []
    config = build_config(load_preset("quick"), {"strategies": ["uniform"]})
    assert [line.split()[2] for line in warn_unused(config, {"mc_samples", "subset"})] == ["--mc-samples",
                                                                                            "--subset"]


def test_the_latest_outcome_of_a_run_counts():
    from baltui.runs.results import curves

    base = {"run_id": "bald-s0", "strategy": "bald", "seed": 0}
    q = [{**base, "type": "query", "query": i, "n_labelled": 20 + 10 * i, "accuracy": 0.5} for i in range(3)]
    failed_then_resumed = [q[0], {**base, "type": "run_failed", "error": "x"}, q[1], q[2],
                           {**base, "type": "run_finished"}]
    run = curves(failed_then_resumed)["bald-s0"]
    assert run.failed is None and run.finished and run.n_labelled == [20, 30, 40]
    extended = [q[0], q[1], {**base, "type": "run_finished"}, q[2]]
    assert not curves(extended)["bald-s0"].finished
    assert curves([q[0], {**base, "type": "run_failed", "error": "boom"}])["bald-s0"].failed == "boom"


def test_threads_per_run_are_recorded_and_a_resume_with_another_count_warns(tmp_path, capsys, monkeypatch):
    from baltui.core.threads import THREAD_VARIABLES

    for name in THREAD_VARIABLES:  # --threads-per-run sets them in this process: restore them afterwards
        monkeypatch.setenv(name, os.environ.get(name, "0"))
        if name not in os.environ or os.environ[name] == "0":
            monkeypatch.delenv(name)
    cores = len(os.sched_getaffinity(0))
    out = tmp_path / "t"
    assert main(["--no-ui", "--strategies", "uniform", "--out", str(out), *TINY]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["provenance"]["threads_per_run"] == cores
    capsys.readouterr()
    assert main(["--no-ui", "--resume", str(out), "--queries", "3", "--threads-per-run", "1"]) == 0
    err = capsys.readouterr().err
    assert "will no longer match an uninterrupted run's" in err and f"--threads-per-run {cores}" in err
