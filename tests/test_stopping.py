"""Stopping rules (`--stop-when`), without TensorFlow: the rules on synthetic sequences, their parsing and
refusals (one line, exit 2), the setting's row, what a stopped run's records mean to resume and report, and
the Recorder that writes them. The real runs that stop are in test_stopping_runs.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui import cli
from baltui.commands.report import main as report_main
from baltui.core.config import build_config, load_preset, migrate_config
from baltui.core.errors import BaltuiError
from baltui.core.events import QueryResult, RunFinished, event_from_record
from baltui.core.settings import RESULTS_KEYS, RESUME_MAY_CHANGE, SETTING
from baltui.core.stopping import (
    FORMS,
    STOP_SET_SIZE,
    Measured,
    changed_share,
    check_rules,
    first_met,
    parse_rule,
    parse_rules,
    plateaued,
    stop_set,
)
from baltui.runs import start
from baltui.runs.recorder import Recorder, run_complete, runs_to_do, stop_met, stopped_by
from baltui.runs.results import curves


def history(accuracies=(), labels=None, scores=None, changed=None) -> list[Measured]:
    """Measured queries 0..n-1 with the given accuracies (20 + 10 q labels unless given)."""
    n = max(len(accuracies), len(labels or []), len(scores or []), len(changed or []))
    return [Measured(q, (labels or [20 + 10 * i for i in range(n)])[q],
                     accuracies[q] if accuracies else None,
                     (scores or [None] * n)[q], (changed or [None] * n)[q]) for q in range(n)]


# ---- the rules ----------------------------------------------------------------------------------
def test_labels_and_accuracy_hold_at_their_threshold_and_not_below():
    rule = parse_rule("labels>=40")
    assert [rule.met(history(labels=[20, 30, 40][: q + 1])) for q in range(3)] == [False, False, True]
    acc = parse_rule("accuracy>=0.9")
    assert not acc.met(history([0.5, 0.89]))
    assert acc.met(history([0.5, 0.9]))
    assert not acc.met([Measured(0, 20)])  # label mode without --test: no accuracy, never met
    assert not rule.met([])


@pytest.mark.parametrize(("accuracies", "met"), [
    ([0.50, 0.60], False),  # fewer than N + 1 queries: no window and something before it
    ([0.50, 0.60, 0.70], False),  # a gain of 0.1 in the window
    ([0.50, 0.80, 0.801, 0.802], True),  # best of the last 2 (0.802) beats the best before (0.80) by 0.002 only
    ([0.50, 0.80, 0.79, 0.8021], False),  # by 0.0021 > D
    ([0.50, 0.80, 0.70, 0.75], True),  # worse than before: no gain at all
    ([0.90, 0.50, 0.60, 0.70, 0.80], True),  # the best before the window counts, not the last one before it
])
def test_plateau_is_no_gain_above_d_over_the_best_before_the_last_n(accuracies, met):
    assert parse_rule("plateau:2,0.002").met(history(accuracies)) is met
    assert plateaued(accuracies, 2, 0.002) is met


def test_plateau_counts_query_0_so_the_earliest_stop_is_at_query_n():
    flat = [0.5] * 6
    rule = parse_rule("plateau:5,0")
    assert [rule.met(history(flat[: q + 1])) for q in range(6)] == [False] * 5 + [True]


def test_uncertainty_reads_the_last_querys_mean_score_and_never_query_0():
    rule = parse_rule("uncertainty<0.05")
    assert not rule.met(history([0.5], scores=[None]))  # query 0 scored nothing
    assert not rule.met(history([0.5, 0.6], scores=[None, 0.06]))
    assert rule.met(history([0.5, 0.6], scores=[None, 0.049]))
    assert not rule.met(history([0.5, 0.6], scores=[None, float("nan")]))
    assert not rule.met(history([0.5, 0.6], scores=[None, float("-inf")]))  # not a measure of anything
    assert not rule.met(history([0.5, 0.6, 0.7], scores=[None, 0.01, 0.2]))  # the last query, not any


def test_stable_reads_the_share_changed_since_the_previous_query():
    rule = parse_rule("stable:0.01")
    shares = [None, 0.2, 0.011, 0.01, 0.009]
    assert [rule.met(history([0.5] * (q + 1), changed=shares[: q + 1])) for q in range(5)] == \
        [False, False, False, False, True]
    assert changed_share(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.25


def test_the_stop_set_is_fixed_per_seed_and_at_most_its_size():
    pool = np.arange(10, 10 + 3 * STOP_SET_SIZE)
    one = stop_set(pool, 0)
    assert len(one) == STOP_SET_SIZE and np.all(np.diff(one) > 0) and np.isin(one, pool).all()
    assert np.array_equal(one, stop_set(pool, 0)) and not np.array_equal(one, stop_set(pool, 1))
    assert np.array_equal(stop_set(np.arange(50), 0), np.arange(50))  # a small pool: all of it


def test_any_rule_stops_and_the_first_given_names_the_stop():
    rules = parse_rules(["accuracy>=0.6", "labels>=30"])
    assert first_met(rules, history([0.5, 0.55])).text == "labels>=30"
    assert first_met(rules, history([0.5, 0.65])).text == "accuracy>=0.6"
    assert first_met(rules, history([0.5])) is None
    assert first_met([], history([0.99])) is None


# ---- parsing and refusals -----------------------------------------------------------------------
def test_rules_parse_as_given_without_spaces():
    assert [r.text for r in parse_rules(["labels >= 500", "plateau:5, 0.002", "stable:.01", "uncertainty<1e-3"])] \
        == ["labels>=500", "plateau:5,0.002", "stable:.01", "uncertainty<1e-3"]
    rule = parse_rule("plateau:5,0.002")
    assert (rule.kind, rule.window, rule.threshold) == ("plateau", 5, 0.002)
    assert parse_rules(["none"]) == [] and parse_rules([]) == []


@pytest.mark.parametrize(("text", "why"), [
    ("label>=5", "is not a stop rule"), ("labels>5", "is not a stop rule"), ("labels>=0", "needs N >= 1"),
    ("labels>=1.5", "is not a stop rule"), ("accuracy>=1.5", "0 < X <= 1"), ("accuracy>=0", "0 < X <= 1"),
    ("plateau:5", "is not a stop rule"), ("plateau:0,0.1", "needs N >= 1"), ("plateau:3,-1", "a gain D >= 0"),
    ("stable:0", "0 < X <= 1"), ("stable:2", "0 < X <= 1"), ("uncertainty<nan", "is not a stop rule"),
    ("uncertainty<1e999", "finite"), ("", "is not a stop rule"),
])
def test_a_bad_rule_is_one_line_listing_the_forms(text, why):
    with pytest.raises(BaltuiError) as refused:
        parse_rule(text)
    message = str(refused.value)
    assert why in message and message.endswith(f"the forms are {FORMS}") and "\n" not in message


def test_none_alone_and_each_rule_once():
    with pytest.raises(BaltuiError, match="cannot be combined"):
        parse_rules(["none", "labels>=5"])
    with pytest.raises(BaltuiError, match="given twice"):
        parse_rules(["labels>=5", "labels >= 5"])


def test_uncertainty_needs_scores_and_label_mode_needs_test_for_accuracy():
    with pytest.raises(BaltuiError, match="reads the acquisition scores and uniform has none"):
        check_rules(parse_rules(["uncertainty<0.1"]), ["entropy", "uniform"])
    check_rules(parse_rules(["uncertainty<0.1", "accuracy>=0.9"]), ["entropy", "badge"])
    for rule in ("accuracy>=0.9", "plateau:3,0.01"):
        with pytest.raises(BaltuiError, match="reads test accuracy; give --test"):
            check_rules(parse_rules([rule]), ["bald"], has_test=False)
    check_rules(parse_rules(["labels>=5", "stable:0.1", "uncertainty<0.1"]), ["bald"], has_test=False)


# ---- the setting ----------------------------------------------------------------------------------
class ReachedTheData(Exception):
    pass


@pytest.fixture
def tripwire(monkeypatch):
    def load(config):
        raise ReachedTheData(config)

    monkeypatch.setattr(start, "load_data", load)


def refused(capsys, argv: list[str]) -> str:
    assert cli.main(["--no-ui", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("baltui: error: "), err
    return err


@pytest.mark.parametrize(("argv", "message"), [
    (["--stop-when", "labels>500"], "stop rule 'labels>500' is not a stop rule; the forms are"),
    (["--stop-when", "labels>=5", "--stop-when", "plateau:5"], "stop rule 'plateau:5' is not a stop rule"),
    (["--stop-when", "uncertainty<0.05"], "reads the acquisition scores and uniform has none"),  # quick: +uniform
    (["--stop-when", "none", "--stop-when", "labels>=5"], "cannot be combined"),
])
def test_bad_rules_on_the_command_line_are_one_line_and_exit_2(tripwire, capsys, argv, message):
    assert message in refused(capsys, argv)


def test_the_flag_repeats_and_a_preset_lists_rules(tripwire, tmp_path):
    with pytest.raises(ReachedTheData) as reached:
        cli.main(["--no-ui", "--stop-when", "labels >= 500", "--stop-when", "plateau:5,0.002"])
    assert reached.value.args[0].stop_when == ["labels>=500", "plateau:5,0.002"]
    preset = tmp_path / "p.toml"
    preset.write_text('dataset = "digits"\nstrategies = ["bald"]\nstop_when = ["uncertainty<0.05", "stable:0.01"]\n')
    with pytest.raises(ReachedTheData) as reached:
        cli.main(["--no-ui", "--preset", str(preset)])
    assert reached.value.args[0].stop_when == ["uncertainty<0.05", "stable:0.01"]
    preset.write_text('dataset = "digits"\nstop_when = "labels>=50"\n')  # one rule as text
    assert build_config(load_preset(str(preset))).stop_when == ["labels>=50"]
    preset.write_text('dataset = "digits"\nstop_when = [3]\n')
    with pytest.raises(BaltuiError, match="'stop_when' must be a list of stop rules"):
        build_config(load_preset(str(preset)))


def test_the_row_splits_report_rows_resume_may_drop_and_old_configs_have_none():
    row = SETTING["stop_when"]
    assert row.default == [] and "stop_when" in RESULTS_KEYS and "stop_when" in RESUME_MAY_CHANGE
    assert migrate_config({"strategies": ["bald"]})["stop_when"] == []
    help_text = " ".join(cli.make_parser().format_help().split())
    assert "--stop-when RULE" in help_text and "accuracy>=X (reads the TEST set" in help_text
    assert "none of the last N queries beat the best test accuracy before them by more than D" in help_text


# ---- a stopped run's records ----------------------------------------------------------------------
def query_record(rid, q, accuracy=0.5, **extra):
    strategy, seed = rid.split("-s")
    result = QueryResult(run_id=rid, strategy=strategy, seed=int(seed), query=q, n_labelled=20 + 10 * q,
                         pool_size=1000 - 10 * q, accuracy=accuracy, acquisition_s=0.1, training_s=1.0,
                         evaluation_s=0.2, queried_indices=[], queried_labels=[], queried_scores=None,
                         labelled_indices=list(range(20 + 10 * q)), **extra)
    return {"type": "query", **result.to_record()}


def finished(rid, stopped=None, queries=None):
    strategy, seed = rid.split("-s")
    record = {"type": "run_finished", "run_id": rid, "strategy": strategy, "seed": int(seed)}
    if stopped:
        record.update(stopped=stopped, queries=queries)
    return record


def test_a_stopped_run_is_complete_while_its_rule_is_given():
    records = [query_record("bald-s0", q) for q in range(3)] + [finished("bald-s0", "labels>=40", 2)]
    assert stopped_by(records) == ("labels>=40", 2)
    assert run_complete(records, 10, ["labels>=40"])
    assert not run_complete(records, 10, [])  # the rule dropped: it goes on
    assert not run_complete(records, 10, ["labels>=400"])
    extended = [*records, query_record("bald-s0", 3)]  # continued after its rule was dropped
    assert stopped_by(extended) is None and not run_complete(extended, 10, ["labels>=40"])
    normal = [query_record("bald-s0", q) for q in range(3)] + [finished("bald-s0")]
    assert stopped_by(normal) is None and run_complete(normal, 2, ["labels>=40"])


def test_runs_to_do_leaves_a_stopped_run_alone():
    config = build_config({"dataset": "digits", "strategies": ["bald", "entropy"], "queries": 5,
                           "stop_when": ["labels>=40"]})
    resume = {"bald-s0": [query_record("bald-s0", q) for q in range(3)] + [finished("bald-s0", "labels>=40", 2)],
              "entropy-s0": [query_record("entropy-s0", q) for q in range(2)]}
    todo, states = runs_to_do(config, resume)
    assert [rid for rid, *_ in todo] == ["entropy-s0"] and states == {"bald-s0": "finished"}


def test_the_recorder_finishes_a_stopped_run_with_its_rule_once(tmp_path):
    config = build_config({"dataset": "digits", "strategies": ["bald"], "queries": 5, "stop_when": ["labels>=30"]})
    events = []
    recorder = Recorder(config, tmp_path, events.append, {})
    assert not recorder.query(QueryResult.from_record(query_record("bald-s0", 0)))
    stopping = QueryResult.from_record(query_record("bald-s0", 1))
    stopping.stopped = "labels>=30"
    assert recorder.query(stopping)
    recorder.finished("bald-s0")  # the stream's end after its stop adds nothing
    recorder.close()
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["type"] for r in lines] == ["query", "query", "run_finished"]
    assert lines[-1]["stopped"] == "labels>=30" and lines[-1]["queries"] == 1 and "stopped" not in lines[1]
    assert events[-1] == RunFinished("bald-s0", "labels>=30", 1)
    assert events[-1].text() == "stopped: labels>=30 at query 1"
    assert event_from_record(lines[-1]) == events[-1]  # what watch reads back
    assert curves(lines)["bald-s0"].stopped == "labels>=30"


def test_records_that_meet_a_rule_without_saying_so_finish_with_it(tmp_path):
    """The process ended between the stopping query and its run_finished: resumed, the engine adds no query
    and the Recorder names the rule the records meet."""
    records = [query_record("bald-s0", 0, 0.5), query_record("bald-s0", 1, 0.7)]
    assert stop_met(records, ["accuracy>=0.6"]) == ("accuracy>=0.6", 1)
    assert stop_met(records, ["accuracy>=0.8"]) is None and stop_met(records, []) is None
    config = build_config({"dataset": "digits", "strategies": ["bald"], "queries": 5,
                           "stop_when": ["accuracy>=0.6"]})
    events = []
    recorder = Recorder(config, tmp_path, events.append, {}, {"bald-s0": records})
    recorder.finished("bald-s0")
    recorder.close()
    assert events == [RunFinished("bald-s0", "accuracy>=0.6", 1)]


# ---- report ---------------------------------------------------------------------------------------
def write_folder(path, runs, stop_when):
    """runs: {run id: (accuracies, stopped rule or None)}; n_labelled = 20 + 10 q."""
    path.mkdir()
    config = build_config({"dataset": "digits", "strategies": sorted({r.split("-s")[0] for r in runs}),
                           "seeds": sorted({int(r.split("-s")[1]) for r in runs}), "queries": 4,
                           "stop_when": stop_when}).to_dict()
    (path / "config.json").write_text(json.dumps(config))
    lines = []
    for rid, (accuracies, stopped) in runs.items():
        lines += [query_record(rid, q, a) for q, a in enumerate(accuracies)]
        lines.append(finished(rid, stopped, len(accuracies) - 1))
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_report_says_which_runs_stopped_where(tmp_path, capsys):
    folder = write_folder(tmp_path / "run", {
        "bald-s0": ([0.5, 0.6, 0.7], "plateau:1,0.2"), "bald-s1": ([0.5, 0.6, 0.62, 0.64, 0.66], None),
        "bald-s2": ([0.5, 0.7, 0.8, 0.9], "plateau:1,0.2")}, ["plateau:1,0.2"])
    assert report_main([str(folder), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["runs"] == 3 and row["runs_stopped"] == 2  # JSON: numbers only; the cells are the table's
    assert row["stopped"] == [{"rule": "plateau:1,0.2", "n_labelled": 40, "accuracy": 0.7},
                              {"rule": "plateau:1,0.2", "n_labelled": 50, "accuracy": 0.9}]
    assert report_main([str(folder), "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "| 3 (2 stopped) |" in text and "| 2/3 at 45 ± 7 | 0.8000 ± 0.1414 |" in text
    assert "stopped: runs a --stop-when rule ended early (plateau:1,0.2: 2 runs) count up to their last query" in text
    assert "stop_when plateau:1,0.2." in text  # the shared settings line


def test_report_without_stopped_runs_has_no_stop_columns_and_splits_on_the_rules(tmp_path, capsys):
    plain = write_folder(tmp_path / "plain", {"bald-s0": ([0.5, 0.6], None)}, [])
    ruled = write_folder(tmp_path / "ruled", {"bald-s0": ([0.5, 0.6], None)}, ["labels>=500", "stable:0.01"])
    assert report_main([str(plain), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["runs"] == 1 and row["runs_stopped"] == 0
    assert report_main([str(plain), "--format", "markdown"]) == 0
    assert "stopped at (labels)" not in capsys.readouterr().out
    assert report_main([str(plain), str(ruled), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["stop_when"] for r in rows] == ["none", "labels>=500 or stable:0.01"]
