"""`baltui report` and the aggregation arithmetic, on results files written by hand."""

from __future__ import annotations

import csv
import io
import json

import pytest

from baltui.commands.report import main
from baltui.runs.aggregate import normalised_auc, summarise
from baltui.runs.references import MNIST_SHA256
from baltui.runs.results import curves, read_records


def _write_run(path, runs, dataset="digits", torn=False, provenance=None, finished=True):
    """runs: {(strategy, seed): [acc at 20, 30, 40, ...]}; each run ends with run_finished as baltui writes it
    (finished=False: an interrupted experiment, no run_finished)."""
    path.mkdir(parents=True)
    config = {"dataset": dataset, "initial_per_class": 2}
    if provenance is not None:
        config["provenance"] = provenance
    (path / "config.json").write_text(json.dumps(config))
    lines = []
    for (strategy, seed), accs in runs.items():
        for q, acc in enumerate(accs):
            lines.append(json.dumps({"type": "query", "run_id": f"{strategy}-s{seed}", "strategy": strategy,
                                     "seed": seed, "query": q, "n_labelled": 20 + 10 * q, "accuracy": acc}))
        if finished:
            lines.append(json.dumps({"type": "run_finished", "run_id": f"{strategy}-s{seed}", "strategy": strategy,
                                     "seed": seed}))
    text = "\n".join(lines) + "\n"
    if torn:
        text += '{"type": "query", "run_id": "ent'
    (path / "results.jsonl").write_text(text)
    return path


RUNS = {
    ("entropy", 0): [0.5, 0.91, 0.96],  # 90% at 30, 95% at 40
    ("entropy", 1): [0.5, 0.85, 0.92],  # 90% at 40, 95% never
    ("uniform", 0): [0.5, 0.70, 0.80],
    ("uniform", 1): [0.5, 0.80, 0.90],  # 90% at 40
}


def test_summary_arithmetic(tmp_path):
    run = _write_run(tmp_path / "a", RUNS)
    summary = {s.strategy: s for s in summarise(list(curves(read_records(run)).values()))}
    e, u = summary["entropy"], summary["uniform"]
    # ± is the sample std (ddof=1): sqrt(2) * 0.02 for two runs 0.04 apart
    assert e.runs == 2 and e.final_mean == pytest.approx(0.94) and e.final_std == pytest.approx(0.02 * 2 ** 0.5)
    assert e.final_at == 40 and e.runs_text() == "2"
    assert e.reach[0].values == [30, 40] and e.reach[0].text() == "35 ± 7, median 35"
    assert e.reach[1].values == [40] and e.reach[1].text() == "40 (1/2 reached)"  # one value: no "± 0"
    assert u.reach[0].text() == "40 (1/2 reached)" and u.reach[1].text() == "not reached (0/2)"
    assert e.x == [20, 30, 40] and e.mean == pytest.approx([0.5, 0.88, 0.94]) and e.count == [2, 2, 2]
    # trapezoid area over [20, 40] divided by the span
    assert normalised_auc([20, 30, 40], [0.5, 0.91, 0.96]) == pytest.approx((0.705 * 10 + 0.935 * 10) / 20)


def test_formats_parse(tmp_path, capsys):
    run = _write_run(tmp_path / "a", RUNS)
    assert main([str(run), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["strategy"] for r in rows] == ["entropy", "uniform"]
    # numbers in columns of their own, counts as integers, no prose
    assert (rows[0]["labels_to_90_mean"], rows[0]["labels_to_90_median"], rows[0]["labels_to_90_reached"]) == \
        ("35.0", "35.0", "2") and float(rows[0]["labels_to_90_std"]) == pytest.approx(50 ** 0.5)
    assert rows[0]["runs"] == "2" and rows[0]["n_labelled"] == "40" and float(rows[0]["accuracy_mean"]) == 0.94
    assert rows[0]["labels_to_95_reached"] == "1" and rows[0]["labels_to_95_std"] == ""  # one run: no spread
    for row in rows:  # every cell but the strategy a number (or empty: no value)
        assert all(v == "" or float(v) == float(v) for k, v in row.items() if k != "strategy"), row
    assert main([str(run), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["labels_to_90"] == [30, 40] and data[0]["curve"]["n_labelled"] == [20, 30, 40]
    assert main([str(run), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| entropy | 2 | 0.9400 ± 0.0283 |" in md and "accuracy at 40 labels" in md and "Gal" not in md
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "entropy" in out and "mean test accuracy over runs" in out


def test_mnist_runs_show_the_paper_and_interrupted_runs_count(tmp_path, capsys):
    # an interrupted experiment on MNIST (known by content hash): the killed run's torn last line is skipped,
    # and each run counts with the queries it completed, marked unfinished
    runs = {("bald", 0): [0.6, 0.9, 0.93], ("bald", 1): [0.6, 0.85]}
    run = _write_run(tmp_path / "m", runs, dataset="mnist", torn=True,
                     provenance={"data_sha256": MNIST_SHA256}, finished=False)
    assert main([str(run), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out)[0]
    # named once, in one line (not a Python warning with a source path)
    assert err.count("\n") == 1 and "results.jsonl ends in an incomplete line" in err and "Warning" not in err
    assert row["runs"] == 2 and row["runs_in_statistics"] == 2 and row["runs_unfinished"] == 2
    assert row["reach"]["90%"] == {"values": [30], "runs": 2, "reached": 1, "mean": 30.0, "std": None, "median": 30.0}
    # seed 1 stopped at 30 labels, so both runs are compared there, not 0.93 against 0.85
    assert row["final_accuracy"]["n_labelled"] == 30 and row["final_accuracy"]["values"] == [0.9, 0.85]
    assert main([str(run), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| bald | 2 (2 unfinished) | 0.8750 ± 0.0354 | 30 (1/2 reached) |" in md
    assert "Gal 2017 90% / 95%" in md and "165 / 355" in md  # 145 / 335 acquired + 20 initial


def test_several_folders_merge(tmp_path, capsys):
    a = _write_run(tmp_path / "a", {("entropy", 0): [0.5, 0.95]})
    b = _write_run(tmp_path / "b", {("entropy", 0): [0.5, 0.85]})
    assert main([str(a), str(b), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["runs"] == 2


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "not a baltui run folder" in capsys.readouterr().err


def test_png_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = _write_run(tmp_path / "a", RUNS)
    assert main([str(run), "--format", "csv", "--plot", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    out, err = capsys.readouterr()
    # where it went is said on stderr, so the CSV on stdout stays CSV
    assert err == f"baltui report: wrote the chart of mean accuracy to {tmp_path / 'c.png'}\n" and "wrote" not in out
