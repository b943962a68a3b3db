"""Stop rules on real runs (TensorFlow, digits, tiny settings): each rule stops a run at the query it must, a
stopped run is finished with its rule, --resume leaves it stopped until the rule is dropped (and then it goes
on exactly as a run without the rule), report says so, and the rules change no number of the queries run.
The rules themselves, on synthetic sequences, are tested in test_stopping.py.
"""

from __future__ import annotations

import pytest

from baltui.cli import main
from baltui.commands.report import main as report_main
from baltui.core.config import build_config, load_preset
from baltui.core.control import Control
from baltui.core.engine import ActiveLearningRun
from baltui.core.stopping import Measured, first_met, parse_rules
from baltui.executors.local import run_experiment
from baltui.runs.results import prepare_out_dir, read_records

FLAGS = {"queries": "4", "instances": "5", "epochs": "1", "mc-samples": "3", "subset": "200"}
ARGS = [x for flag, value in FLAGS.items() for x in (f"--{flag}", value)]


def _config(**changes):
    """The config the CLI builds from ARGS (the quick preset: entropy and uniform, seed 0, 20 initial labels)."""
    values = {flag.replace("-", "_"): int(value) for flag, value in FLAGS.items()}
    return build_config(load_preset("quick"), {**values, **changes})


def _queries(out):
    return {(r["run_id"], r["query"]): r for r in read_records(out) if r["type"] == "query"}


@pytest.fixture(scope="module")
def plain(tmp_path_factory, digits):
    """The same experiment without a rule, to the end: what a stopped run must match up to its stop."""
    out = tmp_path_factory.mktemp("plain") / "run"
    config = _config()
    prepare_out_dir(out, config.to_dict())
    run_experiment(config, digits, out, lambda e: None, Control())
    return _queries(out)


def _same_as(plain, records):
    for key, record in records.items():
        assert record["queried_indices"] == plain[key]["queried_indices"], key
        assert record["accuracy"] == pytest.approx(plain[key]["accuracy"], abs=1e-9), key


def test_labels_rule_stops_resume_leaves_it_stopped_report_says_so_and_dropping_it_goes_on(
        tmp_path, capsys, plain):
    out = tmp_path / "run"
    assert main(["--no-ui", "--out", str(out), *ARGS, "--stop-when", "labels>=30"]) == 0  # 20 + 5 per query
    text = capsys.readouterr().out
    assert "[entropy-s0] stopped: labels>=30 at query 2" in text and "[uniform-s0] stopped: labels>=30" in text
    assert "entropy-s0 (stopped: labels>=30)" in text  # the summary table
    records = read_records(out)
    assert sorted(key for key in _queries(out)) == [(rid, q) for rid in ("entropy-s0", "uniform-s0")
                                                    for q in range(3)]
    ends = [r for r in records if r["type"] == "run_finished"]
    assert [(r["run_id"], r["stopped"], r["queries"]) for r in ends] == [
        ("entropy-s0", "labels>=30", 2), ("uniform-s0", "labels>=30", 2)]
    _same_as(plain, _queries(out))

    for extra in ([], ["--queries", "6"]):  # complete: more queries do not continue a stopped run either
        assert main(["--no-ui", "--resume", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert "some stopped by --stop-when labels>=30; nothing to resume" in err and "--stop-when none" in err
    assert main(["--no-ui", "--resume", str(out), "--stop-when", "labels>=40"]) == 2
    assert "--stop-when on --resume may only drop rules (saved: labels>=30)" in capsys.readouterr().err

    assert report_main([str(out), "--format", "markdown"]) == 0
    report = capsys.readouterr().out
    assert "| 1 (1 stopped) |" in report and "| 1/1 at 30 |" in report
    assert "stopped: runs a --stop-when rule ended early (labels>=30: 2 runs)" in report

    assert main(["--no-ui", "--resume", str(out), "--stop-when", "none"]) == 0  # the rule dropped: it goes on
    capsys.readouterr()
    assert _queries(out).keys() == plain.keys()
    _same_as(plain, _queries(out))
    assert '"stop_when": []' in (out / "config.json").read_text()


@pytest.mark.parametrize(("rule", "stops_at"), [
    ("labels>=25", 1),  # 20 initial + 5 per query
    ("accuracy>=0.01", 0),  # any model of ten classes gets that right
    ("uncertainty<100", 1),  # entropy is at most log(10); query 0 scores nothing
    ("plateau:2,1", 2),  # no accuracy gain can exceed 1: the first window of 2 after query 0
])
def test_each_rule_stops_a_real_run_at_its_query(digits, rule, stops_at):
    config = _config(strategies=["entropy"], queries=3, stop_when=[rule])
    results = list(ActiveLearningRun(config, digits, "entropy", 0))
    assert [r.query for r in results] == list(range(stops_at + 1))
    assert [r.stopped for r in results] == [None] * stops_at + [rule]


def test_stable_and_uncertainty_judge_what_the_records_hold(tmp_path, digits, plain):
    """One real run with `stable`: the share changed is measured after every query, the run stops at the
    first query where the rules hold on the recorded values (plateau:3,1 guarantees one by query 3), and
    measuring draws no random number: the queries are those of the run without rules."""
    rules = ["stable:0.3", "uncertainty<0.5", "plateau:3,1"]
    config = _config(strategies=["entropy"], stop_when=rules)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    run_experiment(config, digits, out, lambda e: None, Control())
    queries = sorted((r for r in read_records(out) if r["type"] == "query"), key=lambda r: r["query"])
    assert "predictions_changed" not in queries[0]
    assert all(0 <= r["predictions_changed"] <= 1 for r in queries[1:])
    measured = [Measured.from_record(r) for r in queries]
    met = [first_met(parse_rules(rules), measured[: q + 1]) for q in range(len(measured))]
    assert all(m is None for m in met[:-1]) and met[-1] is not None and len(queries) <= 4
    (end,) = [r for r in read_records(out) if r["type"] == "run_finished"]
    assert (end["stopped"], end["queries"]) == (met[-1].text, queries[-1]["query"])
    _same_as(plain, _queries(out))
