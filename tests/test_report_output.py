"""What `baltui report` prints and draws: the data as a user gives it, numbers alike whichever version wrote them,
strategy names never cut, and a PNG whose legend, title, paper points and 90% / 95% guides say what it shows."""

from __future__ import annotations

import json
import re
import sys

import pytest
from test_report import RUNS, _write_run

from baltui.commands.report import build_report, load_folders, main, png_figure
from baltui.runs.references import MNIST_SHA256


def _with_config(path, **values):
    config = json.loads((path / "config.json").read_text())
    config.update(values)
    (path / "config.json").write_text(json.dumps(config))
    return path


def _shared_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Same for every row: "))


def test_the_data_is_named_from_here_and_numbers_alike(tmp_path, capsys, monkeypatch):
    """config.json keeps the data relative to the run folder (../../data/d.npz); the report names it as one
    gives it from the current folder. weight_decay 0 (an old folder) and 0.0 (a new one) read the same."""
    run = _with_config(_write_run(tmp_path / "runs" / "r1", RUNS), data="../../data/d.npz", weight_decay=0.0)
    monkeypatch.chdir(tmp_path)
    assert main([str(run), "--format", "markdown"]) == 0
    line = _shared_line(capsys.readouterr().out)
    assert "data data/d.npz, " in line and "weight_decay 0, " in line, line
    old = _with_config(_write_run(tmp_path / "runs" / "r0", RUNS), data="../../data/d.npz", weight_decay=0)
    assert main([str(old), "--format", "markdown"]) == 0
    assert _shared_line(capsys.readouterr().out) == line
    monkeypatch.chdir(tmp_path / "runs")
    assert main(["r1", "--format", "markdown"]) == 0
    assert "data ../data/d.npz, " in _shared_line(capsys.readouterr().out)


def test_a_long_strategy_name_is_never_cut_in_the_terminal_table(tmp_path, capsys, monkeypatch):
    """On a terminal 60 columns wide the table squeezes its columns; the strategy's name stays whole."""
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # a terminal: the table fits its width
    runs = {("powerentropy", 0): [0.5, 0.91, 0.96], ("var_ratios", 0): [0.5, 0.8, 0.9]}
    run = _write_run(tmp_path / "a", runs)
    assert main([str(run), "--no-chart"]) == 0
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert max(len(line) for line in out.splitlines()) <= 60
    assert "powerentropy" in out and "var_ratios" in out, out


def test_the_png_says_what_it_shows(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    runs = {("bald", 0): [0.5, 0.91, 0.96], ("bald", 1): [0.5, 0.85, 0.92], ("bald", 2): [0.5, 0.9, 0.93],
            ("uniform", 0): [0.5, 0.7, 0.8]}
    run = _write_run(tmp_path / "gal", runs, finished=False,
                     provenance={"data_sha256": MNIST_SHA256, "n_classes": 10})
    report = build_report(load_folders([str(run)]))
    fig = png_figure(report, [str(run)])
    try:
        ax = fig.axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "bald (3 runs, 3 unfinished)" in legend and "uniform (1 run, 1 unfinished)" in legend, legend
        assert "Gal 2017: bald (mean)" in legend  # the paper's points, on the paper's data only
        points = [c.get_offsets().tolist() for c in ax.collections if c.get_label() == "Gal 2017: bald (mean)"]
        assert points == [[[165.0, 0.9], [355.0, 0.95]]]  # Table 1: 145 / 335 acquired + the 20 initial
        guides = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
        assert guides == [0.9, 0.95]
        assert ax.get_title() == "Test accuracy, mean over runs: gal"
    finally:
        plt.close(fig)
    other = _write_run(tmp_path / "digits", runs)  # not the paper's data: no paper points
    fig = png_figure(build_report(load_folders([str(other)])), [str(other)])
    try:
        assert not any("Gal" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    finally:
        plt.close(fig)
