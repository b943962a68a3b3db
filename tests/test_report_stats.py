"""`baltui report`'s statistics and labelling, on run folders written by hand the way baltui writes them.

No TensorFlow: config.json holds RunConfig.to_dict()'s keys (written out here, so a test states exactly
which keys a folder has: older folders lack model, mc_masks, provenance) and every results line comes from
QueryResult.to_record() or is a run_finished / run_failed record as baltui.executors.local writes them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from baltui.commands.report import main
from baltui.commands.run.headless import strategy_table
from baltui.core.events import QueryResult
from baltui.core.settings import RESULTS_KEYS, SETTING
from baltui.runs.references import MNIST_SHA256

NOTE = "± is the sample standard deviation over runs (ddof=1)"
ROOT = Path(__file__).resolve().parent.parent
FIXTURE_RUNS = ROOT / "tests" / "fixtures" / "before_layers" / "runs"
NOT_MNIST = "5" * 64  # some other 28x28 set's content hash


def write_folder(path, runs, failed=(), unfinished=(), provenance=None, metrics=None, **config):
    """A run folder. runs: {(strategy, seed): [accuracy at query 0, 1, ...]} with n_labelled = 20 + 10 q.

    Runs end with run_finished unless listed in `failed` (run_failed after their last query) or
    `unfinished` (no final record: the experiment was interrupted). `metrics`: {(strategy, seed): [{field:
    value} per query]}, the test metrics of each query's record (none: a folder from before they existed).
    """
    path.mkdir(parents=True)
    cfg = {"name": "custom", "description": "", "dataset": "digits", "data": None, "strategies": [], "seeds": [],
           "queries": 20, "instances": 10, "initial_per_class": 2, "epochs": 50, "batch_size": 128,
           "mc_samples": 100, "subset": 2000, "beta": 1.0, "out": str(path), **config}
    cfg["strategies"] = sorted({s for s, _ in runs})
    cfg["seeds"] = sorted({seed for _, seed in runs})
    if provenance is not None:
        cfg["provenance"] = provenance
    (path / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    lines = []
    for (strategy, seed), accuracies in runs.items():
        rid = f"{strategy}-s{seed}"
        for q, accuracy in enumerate(accuracies):
            queried = list(range(10 * q + 10, 10 * q + 20)) if q else []
            result = QueryResult(run_id=rid, strategy=strategy, seed=seed, query=q, n_labelled=20 + 10 * q,
                                 pool_size=1000 - 10 * q, accuracy=accuracy, acquisition_s=0.1, training_s=1.0,
                                 evaluation_s=0.2, queried_indices=queried, queried_labels=[i % 10 for i in queried],
                                 queried_scores=None, labelled_indices=list(range(20 + 10 * q)),
                                 **(metrics or {}).get((strategy, seed), [{}] * len(accuracies))[q])
            lines.append({"type": "query", **result.to_record()})
        if (strategy, seed) in failed:
            lines.append({"type": "run_failed", "run_id": rid, "error": "FloatingPointError: NaN loss",
                          "strategy": strategy, "seed": seed})
        elif (strategy, seed) not in unfinished:
            lines.append({"type": "run_finished", "run_id": rid, "strategy": strategy, "seed": seed})
    (path / "results.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines))
    return path


def report(capsys, *args):
    assert main([str(a) for a in args]) == 0
    return capsys.readouterr().out


def as_json(capsys, *folders):
    return json.loads(report(capsys, *folders, "--format", "json"))


def markdown_rows(md):
    """The table's rows as {header: cell}."""
    lines = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


# three seeds: 90% at 40, 50, 40 labels; 95% at 60 only for seed 2
THREE = {("entropy", 0): [0.5, 0.8, 0.91, 0.93, 0.94],
         ("entropy", 1): [0.5, 0.7, 0.85, 0.92, 0.93],
         ("entropy", 2): [0.5, 0.8, 0.90, 0.94, 0.96]}


def test_plus_minus_is_the_sample_std(tmp_path, capsys):
    run = write_folder(tmp_path / "a", THREE)
    row = as_json(capsys, run)[0]
    finals = [0.94, 0.93, 0.96]
    assert row["final_accuracy"]["std"] == pytest.approx(np.std(finals, ddof=1))
    assert row["reach"]["90%"]["std"] == pytest.approx(np.std([40, 50, 40], ddof=1))
    assert row["curve"]["std"][2] == pytest.approx(np.std([0.91, 0.85, 0.90], ddof=1))
    md = report(capsys, run, "--format", "markdown")
    cells = markdown_rows(md)[0]
    assert cells["accuracy at 60 labels"] == f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f}"
    assert cells["labels to 90%"].startswith(f"43 ± {np.std([40, 50, 40], ddof=1):.0f},")  # 6, where ddof=0 gives 5
    assert NOTE in md.splitlines()
    assert NOTE in report(capsys, run, "--no-chart").splitlines()
    rows = list(csv.DictReader(io.StringIO(report(capsys, run, "--format", "csv"))))
    assert float(rows[0]["accuracy_std"]) == pytest.approx(np.std(finals, ddof=1))
    assert float(rows[0]["labels_to_90_std"]) == pytest.approx(np.std([40, 50, 40], ddof=1))


def test_labels_to_reach_has_the_median_and_no_plus_minus_for_one_run(tmp_path, capsys):
    runs = {("bald", s): [0.5] * k + [0.91] for s, k in enumerate((2, 3, 3, 7))}  # 90% at 40, 50, 50, 90
    runs[("bald", 4)] = [0.5, 0.6, 0.7]  # never
    run = write_folder(tmp_path / "a", runs)
    row = as_json(capsys, run)[0]
    values = [40, 50, 50, 90]
    assert row["reach"]["90%"]["median"] == np.median(values) == 50
    assert row["reach"]["90%"]["reached"] == 4 and row["reach"]["90%"]["runs"] == 5
    expected = f"{np.mean(values):.0f} ± {np.std(values, ddof=1):.0f}, median 50 (4/5 reached)"
    cells = markdown_rows(report(capsys, run, "--format", "markdown"))[0]
    assert cells["labels to 90%"] == expected == "58 ± 22, median 50 (4/5 reached)"
    assert cells["labels to 95%"] == "not reached (0/5)" and row["reach"]["95%"]["reached"] == 0
    single = write_folder(tmp_path / "b", {("bald", 0): [0.5, 0.96], ("bald", 1): [0.5, 0.8]})
    row = as_json(capsys, single)[0]
    assert row["reach"]["90%"]["values"] == [30] and row["reach"]["90%"]["std"] is None
    assert markdown_rows(report(capsys, single, "--format", "markdown"))[0]["labels to 90%"] == "30 (1/2 reached)"
    assert not re.search(r"± 0(?![.\d])", report(capsys, single, "--format", "markdown"))


def test_final_accuracy_is_at_a_count_every_run_reached(tmp_path, capsys):
    runs = {("entropy", 0): [0.5, 0.8, 0.9, 0.95], ("entropy", 1): [0.5, 0.7, 0.85]}
    run = write_folder(tmp_path / "a", runs, unfinished=[("entropy", 1)])
    row = as_json(capsys, run)[0]
    assert row["final_accuracy"] == {"n_labelled": 40, "values": [0.9, 0.85], "mean": pytest.approx(0.875),
                                     "std": pytest.approx(np.std([0.9, 0.85], ddof=1)), "median": pytest.approx(0.875)}
    assert row["runs"] == 2 and row["runs_unfinished"] == 1
    cells = markdown_rows(report(capsys, run, "--format", "markdown"))[0]
    assert cells["runs"] == "2 (1 unfinished)" and cells["accuracy at 40 labels"].startswith("0.8750 ± ")
    # rows stopped at different counts: the count goes into each cell
    both = write_folder(tmp_path / "b", {**runs, ("uniform", 0): [0.5, 0.6]}, unfinished=[("entropy", 1)])
    cells = markdown_rows(report(capsys, both, "--format", "markdown"))
    assert cells[0]["final accuracy"].endswith(" at 40") and cells[1]["final accuracy"] == "0.6000 at 30"


def test_failed_runs_are_marked_and_left_out(tmp_path, capsys):
    runs = {**THREE, ("entropy", 3): [0.5, 0.2]}
    run = write_folder(tmp_path / "a", runs, failed=[("entropy", 3)])
    row = as_json(capsys, run)[0]
    assert row["runs"] == 4 and row["runs_failed"] == 1 and row["runs_in_statistics"] == 3
    # the failed run neither drags the comparison count back to 30 nor counts as "not reached"
    assert row["final_accuracy"]["n_labelled"] == 60 and row["reach"]["90%"]["runs"] == 3
    md = report(capsys, run, "--format", "markdown")
    assert markdown_rows(md)[0]["runs"] == "4 (1 failed)" and "left out of every statistic" in md
    # a strategy whose only run failed before its first result still gets a row that says so
    broken = write_folder(tmp_path / "b", {**THREE, ("bald", 0): []}, failed=[("bald", 0)])
    rows = markdown_rows(report(capsys, broken, "--format", "markdown"))
    assert list(rows[1].values()) == ["bald", "1 (1 failed)", "-", "-", "-", "-"]


def test_a_non_mnist_hash_gets_no_reference_whatever_the_name(tmp_path, capsys):
    runs = {("entropy", 0): [0.5, 0.96], ("uniform", 0): [0.5, 0.8]}
    lookalike = write_folder(tmp_path / "fashion", runs, dataset="mnist", data="fashion-28x28.npz",
                             provenance={"data_sha256": NOT_MNIST, "n_classes": 10})
    no_provenance = write_folder(tmp_path / "old", runs, dataset="mnist")
    for folder in (lookalike, no_provenance):
        md = report(capsys, folder, "--format", "markdown")
        header = md.splitlines()[0]
        assert "Gal" not in md and "Kirsch" not in md and "paper" not in md
        assert header == "| strategy | runs | accuracy at 30 labels | labels to 90% | labels to 95% | AUC |"
        assert as_json(capsys, folder)[0]["reference"] is None


def test_the_mnist_hash_with_two_per_class_shows_gal_2017(tmp_path, capsys):
    runs = {("entropy", 0): [0.5, 0.96], ("uniform", 0): [0.5, 0.8], ("powerbald", 0): [0.5, 0.7]}
    run = write_folder(tmp_path / "m", runs, dataset="npz", data="../shared/data/mnist.npz",
                       provenance={"data_sha256": MNIST_SHA256, "n_classes": 10})
    md = report(capsys, run, "--format", "markdown")
    cells = {r["strategy"]: r for r in markdown_rows(md)}
    assert cells["entropy"]["Gal 2017 90% / 95%"] == "185 / 375"  # 165 / 355 acquired + 20 initial
    assert cells["uniform"]["Gal 2017 90% / 95%"] == "275 / 855"
    assert cells["powerbald"]["Gal 2017 90% / 95%"] == "-"
    assert "Gal, Islam & Ghahramani (2017), Table 1" in md and MNIST_SHA256[:12] in md
    # the same data under another protocol (3 per class: 30 initial) is not the paper's experiment
    three = write_folder(tmp_path / "m3", runs, dataset="npz", initial_per_class=3,
                         provenance={"data_sha256": MNIST_SHA256})
    assert "Gal" not in report(capsys, three, "--format", "markdown")


def test_folders_are_grouped_by_the_settings_that_differ(tmp_path, capsys):
    runs = {("entropy", 0): [0.5, 0.9], ("entropy", 1): [0.5, 0.8]}
    prov = {"data_sha256": MNIST_SHA256}
    independent = write_folder(tmp_path / "ind", runs, dataset="mnist", provenance=prov)  # no mc_masks: the default
    shared = write_folder(tmp_path / "shr", runs, dataset="mnist", provenance=prov, mc_masks="shared")
    # other records (identical ones would be the same runs given twice, counted once: issue 25)
    again = write_folder(tmp_path / "ind2", {("entropy", 0): [0.5, 0.85], ("entropy", 1): [0.5, 0.75]},
                         dataset="mnist", provenance=prov, mc_masks="independent")
    md = report(capsys, independent, shared, again, "--format", "markdown")
    rows = markdown_rows(md)
    assert [(r["strategy"], r["mc_masks"], r["runs"]) for r in rows] == [
        ("entropy", "independent", "4"), ("entropy", "shared", "2")]
    assert list(rows[0])[:3] == ["strategy", "mc_masks", "runs"]
    assert "epochs" not in rows[0] and "data" not in rows[0]  # the same everywhere: said once, below
    assert "Same for every row: data mnist (sha256 " in md and "model seed" in md
    # each folder's own config: a folder on other data gets its own rows and no paper column
    other = write_folder(tmp_path / "oth", runs, dataset="mnist", provenance={"data_sha256": NOT_MNIST})
    rows = markdown_rows(report(capsys, independent, other, "--format", "markdown"))
    assert [r["data"] for r in rows] == [f"mnist (sha256 {MNIST_SHA256[:12]})", f"mnist (sha256 {NOT_MNIST[:12]})"]
    assert [r["Gal 2017 90% / 95%"] for r in rows] == ["185 / 375", "-"]


def test_piped_output_has_no_escape_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # even when the environment asks rich for colour
    run = write_folder(tmp_path / "a", THREE, unfinished=[("entropy", 2)])
    out = report(capsys, run)
    assert "mean test accuracy over runs" in out
    chart = out[out.index("┌"):out.index("└", out.index("┌"))]
    assert chart.count("+") > 3 and "+ entropy" in out  # the chart's curve, drawn by marker in a pipe
    assert "\x1b" not in out
    for fmt in ("markdown", "csv", "json"):
        assert "\x1b" not in report(capsys, run, "--format", fmt)


def test_the_headless_strategy_table_uses_the_same_statistics(tmp_path):
    run = write_folder(tmp_path / "a", THREE)
    console = Console(record=True, width=200, color_system=None)
    console.print(strategy_table(run))
    text = console.export_text()
    finals = [0.94, 0.93, 0.96]
    assert f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f} (60)" in text and NOTE in text


def test_the_gap_to_the_paper_uses_its_statistic_and_only_rows_where_every_run_got_there(tmp_path, capsys):
    prov = {"data_sha256": MNIST_SHA256, "n_classes": 10}
    # Gal 2017 (entropy: 185 / 375 labels, a mean): 90% at 30, 40, 50 labels; 95% by one seed of three
    gal = write_folder(tmp_path / "gal", {("entropy", 0): [0.5, 0.91, 0.95], ("entropy", 1): [0.5, 0.8, 0.9],
                                          ("entropy", 2): [0.5, 0.8, 0.85, 0.9]}, dataset="npz", provenance=prov)
    row = markdown_rows(report(capsys, gal, "--format", "markdown"))[0]
    assert row["vs Gal 2017"] == "-145 / -"  # mean 40 - 185; 95% not reached by every run: no gap
    assert as_json(capsys, gal)[0]["reference"]["gap_labels"] == [-145.0, None]
    # Kirsch 2019 (batchbald: 100 / 210, medians of 6): 90% at 30, 30, 60 (median 30, mean 40); 95% at 40, 50, 60
    kirsch = write_folder(tmp_path / "k", {("batchbald", 0): [0.5, 0.9, 0.95],
                                           ("batchbald", 1): [0.5, 0.9, 0.94, 0.95],
                                           ("batchbald", 2): [0.5, 0.8, 0.8, 0.8, 0.9, 0.95]},
                          dataset="npz", model="batchbald2019", provenance=prov)
    md = report(capsys, kirsch, "--format", "markdown")
    row = markdown_rows(md)[0]
    assert row["Kirsch 2019 90% / 95%"] == "100 / 210"
    assert row["vs Kirsch 2019"] == "-70 / -160"  # medians: 30 - 100, 50 - 210 (the mean would give -60)
    assert "vs Kirsch 2019: our median minus the paper's" in md


def test_two_folders_differing_only_in_beta_are_two_rows(tmp_path, capsys):
    runs = {("powerbald", 0): [0.5, 0.9], ("powerbald", 1): [0.5, 0.8]}
    one = write_folder(tmp_path / "b1", runs)
    four = write_folder(tmp_path / "b4", runs, beta=4.0)
    md = report(capsys, one, four, "--format", "markdown")
    rows = markdown_rows(md)
    assert [(r["strategy"], r["beta"], r["runs"]) for r in rows] == [
        ("powerbald", "1", "2"), ("powerbald", "4", "2")]  # a number as written: no trailing .0
    # shared, a setting outside the README's first ten is named only when it is not at its default
    assert "beta" not in report(capsys, one, "--format", "markdown").split("Same for every row:")[1]
    assert ", beta 4." in report(capsys, four, "--format", "markdown")


def _another(setting):
    """A valid value of `setting` other than its default."""
    if setting.choices:
        return next(c for c in setting.choices if c != setting.default)
    return {"whole": lambda d: d + 1, "number": lambda d: d + 1.0, "path": lambda d: "other.npz",
            "word": lambda d: "mnist", "rules": lambda d: ["labels>=500"]}[setting.kind](setting.default)


@pytest.mark.parametrize("name", RESULTS_KEYS)
def test_report_splits_rows_on_every_setting_that_changes_results(tmp_path, capsys, name):
    runs = {("bald", 0): [0.5, 0.9]}
    base = write_folder(tmp_path / "base", runs)
    changed = write_folder(tmp_path / "changed", runs, **{name: _another(SETTING[name])})
    rows = as_json(capsys, base, changed)
    assert len(rows) == 2, name
    column = "data" if name in ("dataset", "data") else name
    assert rows[0][column] != rows[1][column]


# ---- other metrics: --metric, and rows per run or per query (--per) ------------------------------------------
NLL = {("entropy", 0): [2.0, 1.0, 0.5], ("entropy", 1): [2.2, 1.2, 0.9], ("uniform", 0): [2.1, 1.5, 1.0]}
ACCURACY = {("entropy", 0): [0.5, 0.8, 0.9], ("entropy", 1): [0.5, 0.7, 0.8], ("uniform", 0): [0.5, 0.6, 0.7]}


def _metrics(key, q):
    """A query's record fields: nll from NLL, ece and brier from it, per-class accuracy of 3 classes (the third
    absent from the test set) and the labelled counts."""
    nll = NLL[key][q]
    return {"nll": nll, "ece": nll / 10, "brier": nll / 4, "class_accuracy": [ACCURACY[key][q], 1.0, None],
            "labelled_per_class": [10 + 10 * q, 10, 0],
            "fit": {"loss": [2.3, nll], "accuracy": [0.1, 0.5], "epochs": 2, "last_batch": 4 + q}}


def with_metrics(path, **config):
    return write_folder(path, ACCURACY, metrics={k: [_metrics(k, q) for q in range(3)] for k in ACCURACY}, **config)


def test_metric_nll_gives_its_value_at_the_common_count_and_its_auc_and_says_lower_is_better(tmp_path, capsys):
    run = with_metrics(tmp_path / "a", provenance={"data_sha256": MNIST_SHA256})  # a paper's data: no paper column
    md = report(capsys, run, "--metric", "nll", "--format", "markdown")
    rows = markdown_rows(md)
    assert list(rows[0]) == ["strategy", "runs", "nll at 40 labels (lower is better)", "AUC of nll (lower is better)"]
    entropy = rows[0]
    finals = [0.5, 0.9]
    assert entropy["nll at 40 labels (lower is better)"] == f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f}"
    # per run: trapezoid area over [20, 40] / 20, then the mean over runs
    aucs = [(2.0 + 1.0) / 4 + (1.0 + 0.5) / 4, (2.2 + 1.2) / 4 + (1.2 + 0.9) / 4]
    assert entropy["AUC of nll (lower is better)"] == f"{np.mean(aucs):.4f}"
    assert rows[1]["nll at 40 labels (lower is better)"] == "1.0000"  # one run: no ±
    assert "nll: the mean negative log-likelihood of the test labels" in md and "lower is better" in md
    assert "Gal" not in md and "labels to" not in md
    row = as_json(capsys, run, "--metric", "nll")[0]
    assert row["metric"] == "nll" and row["better"] == "lower" and "reach" not in row and "reference" not in row
    assert row["final_nll"]["values"] == [0.5, 0.9] and row["auc"]["values"] == pytest.approx(aucs)
    assert row["curve"]["mean"] == pytest.approx([2.1, 1.1, 0.7])
    out = report(capsys, run, "--metric", "ece")
    assert "mean test ece over runs (lower is better)" in out and "ece at 40 labels (lower is better)" in out


def test_metric_csv_has_numbers_in_columns_and_labels_to_only_for_accuracy(tmp_path, capsys):
    run = with_metrics(tmp_path / "a")
    rows = list(csv.DictReader(io.StringIO(report(capsys, run, "--metric", "brier", "--format", "csv"))))
    assert list(rows[0]) == ["strategy", "runs", "runs_failed", "runs_unfinished", "runs_in_statistics", "n_labelled",
                             "brier_mean", "brier_std", "brier_median", "brier_auc_mean", "brier_auc_std"]
    assert float(rows[0]["brier_mean"]) == pytest.approx((0.5 + 0.9) / 8)
    assert rows[1]["brier_std"] == "" and rows[1]["runs"] == "1"
    accuracy = list(csv.DictReader(io.StringIO(report(capsys, run, "--format", "csv"))))
    assert "labels_to_90_reached" in accuracy[0] and "brier_mean" not in accuracy[0]


def test_per_class_accuracy_is_in_the_json_at_the_common_count(tmp_path, capsys):
    run = with_metrics(tmp_path / "a")
    entropy, uniform = as_json(capsys, run)
    assert entropy["class_accuracy"] == {"n_labelled": 40, "runs": 2, "mean": [pytest.approx(0.85), 1.0, None],
                                         "values": [[0.9, 1.0, None], [0.8, 1.0, None]]}
    assert uniform["class_accuracy"]["mean"] == [0.7, 1.0, None]
    old = write_folder(tmp_path / "old", THREE)
    assert as_json(capsys, old)[0]["class_accuracy"] is None


def test_a_folder_without_the_metric_says_so_in_one_line(tmp_path, capsys):
    old = write_folder(tmp_path / "old", THREE)
    for folder in (old, ROOT / "results" / "quick-3seeds", FIXTURE_RUNS):
        assert main([str(folder), "--metric", "nll"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "recorded no nll" in err and "--metric accuracy" in err, err
    # beside a folder that has it: its runs are left out, said once, and the other's rows stand
    old = write_folder(tmp_path / "older", {("entropy", seed + 5): v for (_, seed), v in THREE.items()})
    new = with_metrics(tmp_path / "new")
    assert main([str(old), str(new), "--metric", "nll", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert err.count("\n") == 1 and "3 run(s) recorded no nll" in err and str(old) in err
    assert [(r["strategy"], r["runs"]) for r in rows] == [("entropy", 2), ("uniform", 1)]


def test_rows_per_run_average_to_the_table_and_say_each_runs_status(tmp_path, capsys):
    runs = {**ACCURACY, ("entropy", 2): [0.5, 0.95, 0.2]}  # reached 90% at 30, then failed: in no statistic
    metrics = {k: [_metrics(k, q) for q in range(3)] for k in ACCURACY}
    metrics[("entropy", 2)] = [_metrics(("entropy", 0), q) for q in range(3)]
    run = write_folder(tmp_path / "a", runs, failed=[("entropy", 2)], metrics=metrics)
    rows = list(csv.DictReader(io.StringIO(report(capsys, run, "--metric", "nll", "--format", "csv", "--per", "run"))))
    assert [(r["strategy"], r["seed"], r["status"]) for r in rows] == [
        ("entropy", "0", "finished"), ("entropy", "1", "finished"), ("entropy", "2", "failed"),
        ("uniform", "0", "finished")]
    assert list(rows[0]) == ["strategy", "folder", "seed", "run_id", "status", "stopped", "queries",
                             "last_n_labelled", "n_labelled", "nll", "nll_auc", "last_nll"]
    assert [float(r["nll"]) for r in rows[:2]] == [0.5, 0.9] and rows[2]["nll"] == "" and rows[2]["queries"] == "3"
    table = as_json(capsys, run, "--metric", "nll")[0]
    assert np.mean([float(r["nll_auc"]) for r in rows[:2]]) == pytest.approx(table["auc"]["mean"])
    accuracy = list(csv.DictReader(io.StringIO(report(capsys, run, "--format", "csv", "--per", "run"))))
    assert [r["labels_to_90"] for r in accuracy] == ["40", "", "", ""]  # the failed run is in no statistic


def test_rows_per_query_hold_every_metric_and_the_classes(tmp_path, capsys):
    run = with_metrics(tmp_path / "a")
    rows = list(csv.DictReader(io.StringIO(report(capsys, run, "--format", "csv", "--per", "query"))))
    assert len(rows) == 9
    first = rows[0]
    assert (first["run_id"], first["query"], first["n_labelled"], first["nll"], first["ece"]) == (
        "entropy-s0", "0", "20", "2.0", "0.2")
    assert (first["fit_epochs"], first["fit_last_batch"], first["fit_loss"]) == ("2", "4", "2.0")
    assert [first[f"class_accuracy_{c}"] for c in range(3)] == ["0.5", "1.0", ""]
    assert [rows[2][f"labelled_{c}"] for c in range(3)] == ["30", "10", "0"]
    # a folder from before: the same columns where it has them, empty cells for the rest
    old = list(csv.DictReader(io.StringIO(report(capsys, FIXTURE_RUNS, "--format", "csv", "--per", "query"))))
    assert len(old) == 48 and old[0]["nll"] == "" and old[0]["accuracy"] and "class_accuracy_0" not in old[0]
    assert main([str(run), "--per", "query"]) == 2
    assert "add --format csv" in capsys.readouterr().err
