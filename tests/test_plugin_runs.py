"""Plug-ins in real runs: the example package through --no-ui, the dashboard and report; bad plug-in models
refused before any folder; a plug-in returning garbage fails its own run while the others carry on.

Real TensorFlow at tiny settings on the digits; the example package installed as pip lays it out
(tests/plugin_site.py), for the subprocess through PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from baltui.cli import main
from baltui.commands.run import make_app
from baltui.core.control import Control
from baltui.executors.local import run_experiment
from baltui.runs import start
from baltui.runs.results import curves, read_records
from baltui.ui.widgets.plots import AccuracyPlot
from baltui.ui.widgets.run_panel import RunPanel

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--queries", "2", "--epochs", "2", "--instances", "5", "--initial-per-class", "2", "--batch-size", "16",
        "--mc-samples", "3", "--subset", "200"]


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_the_example_package_runs_headless_and_reports(example_site, tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example_site), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "baltui", "--no-ui", "--strategies", "margin_example,uniform",
                           "--model", "small_cnn", *TINY, "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "[margin_example-s0] finished" in proc.stdout
    saved = json.loads((out / "config.json").read_text())
    assert saved["strategies"] == ["margin_example", "uniform"] and saved["model"] == "small_cnn"
    assert [(p["kind"], p["name"], p["version"]) for p in saved["provenance"]["plugins"]] == [
        ("strategy", "margin_example", "0.1.0"), ("model", "small_cnn", "0.1.0")]
    runs = curves(read_records(out))
    assert runs["margin_example-s0"].finished and len(runs["margin_example-s0"].accuracy) == 3
    assert main(["report", str(out)]) == 0
    report = capsys.readouterr().out
    assert "│ margin_example │    1 │" in report and "model small_cnn" in report


async def test_the_dashboard_draws_plugin_strategies_on_a_built_in_model(example_site, tmp_path, tiny):
    """The example strategy on the seed model, beside a file plug-in whose name Textual refuses in an id."""
    mine = _write(tmp_path, "mine.py", """
        def spread(P):
            return P.std(axis=0).mean(axis=1)
        spread.name = "my.spread"
    """)
    prepared = start.start_config(tiny(strategies=["margin_example", f"{mine}:spread"], queries=1), tmp_path / "run")
    try:
        app = make_app(prepared.config, prepared.out, dataset=prepared.dataset)
        async with app.run_test(size=(180, 60)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            panels = {panel.run_id: panel for panel in app.query(RunPanel)}
            assert list(panels) == ["margin_example-s0", "my.spread-s0"]
            for rid, panel in panels.items():
                assert panel.finished and panel.border_title == f"{rid[:-3]} · seed 0"
                assert len(panel.query_one(".accuracy", AccuracyPlot).xs) == 2
                assert app.query_one(f"#{RunPanel.widget_id(rid)}") is panel
                assert "query 1" in str(panel.query_one(".status").render())
    finally:
        prepared.release()
    assert {r["strategy"] for r in read_records(prepared.out) if r["type"] == "run_finished"} == {
        "margin_example", "my.spread"}


BAD_MODELS = """
import keras

def no_dropout(input_shape, n_classes):
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(n_classes, activation="softmax")])

def functional(input_shape, n_classes):
    x = keras.Input(shape=input_shape)
    y = keras.layers.Dense(n_classes, activation="softmax")(keras.layers.Dropout(0.5)(keras.layers.Flatten()(x)))
    return keras.Model(x, y)

def no_input(input_shape, n_classes):
    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(n_classes)])

def ten_outputs(input_shape, n_classes):
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(), keras.layers.Dropout(0.5),
                             keras.layers.Dense(3, activation="softmax")])

def raising(input_shape, n_classes):
    raise ValueError("no GPU here")
"""


@pytest.mark.parametrize("attr, says", [
    ("no_dropout", "has no Dropout layer, so MC dropout would draw T identical predictions"),
    ("functional", "built a Functional, not a keras.Sequential"),
    ("no_input", "built a Sequential without its input; start it with keras.Input"),
    ("ten_outputs", "outputs shape (3,), but the data has 10 classes"),
    ("raising", "build((8, 8, 1), 10) failed: ValueError: no GPU here"),
])
def test_a_bad_plugin_model_is_one_line_before_any_folder(attr, says, tmp_path, capsys):
    models = _write(tmp_path, "models.py", BAD_MODELS)
    out = tmp_path / "run"
    assert main(["--no-ui", "--model", f"{models}:{attr}", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"model plug-in models.py:{attr}" in err[0] and says in err[0], err
    assert not out.exists()


BAD_STRATEGIES = """
import numpy as np
from baltui.core.acquisition import Acquisition

def short(P):
    return P.mean(axis=0).max(axis=1)[:-1]

def nan(P):
    s = 1.0 - P.mean(axis=0).max(axis=1)
    s[0] = np.nan
    return s

twice = Acquisition("twice", "the same point twice", lambda inputs: inputs.P.mean(axis=0).max(axis=1),
                    lambda inputs, scores, k, rng, beta: np.zeros(k, dtype=np.int64))
"""


def test_a_plugin_returning_garbage_fails_its_own_run_and_the_others_carry_on(tmp_path, tiny):
    bad = _write(tmp_path, "bad.py", BAD_STRATEGIES)
    out = tmp_path / "run"
    config = tiny(strategies=[f"{bad}:short", f"{bad}:nan", f"{bad}:twice", "uniform"], queries=1)
    prepared = start.start_config(config, out)
    try:
        states = run_experiment(prepared.config, prepared.dataset, out, lambda event: None, Control())
    finally:
        prepared.release()
    assert states == {"short-s0": "failed", "nan-s0": "failed", "twice-s0": "failed", "uniform-s0": "finished"}
    records = read_records(out)
    errors = {r["run_id"]: r["error"] for r in records if r["type"] == "run_failed"}
    assert errors["short-s0"].startswith("PluginError: strategy plug-in short (bad.py:short) returned scores of shape")
    assert errors["nan-s0"].startswith("PluginError: strategy plug-in nan (bad.py:nan) returned NaN or infinite")
    assert errors["twice-s0"].startswith("PluginError: strategy plug-in twice (bad.py:twice) picked the same point")
    runs = curves(records)
    assert all(len(runs[rid].accuracy) == 1 for rid in errors)  # query 0 of each failed run is kept
    assert runs["uniform-s0"].finished and len(runs["uniform-s0"].accuracy) == 2
