"""What the screens draw of a stop rule: the dashboard's run panel and progress (a fake engine, and a resumed
folder), the watcher's panel, and label mode, which tells the person and lets them go on (its --no-ui oracle
stops there). Label mode on real TensorFlow at tiny settings.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fakes import FakeEngine, fake_result

from baltui.commands.label import cli as label_cli
from baltui.commands.label.app import LabelApp
from baltui.commands.label.cli import main as label_main
from baltui.commands.label.session import LabelSession
from baltui.commands.run import make_app
from baltui.core.events import QueryResult
from baltui.core.stopping import parse_rules
from baltui.runs.folder import RunFolder
from baltui.runs.results import prepare_out_dir, read_records
from baltui.ui.widgets.run_panel import RunPanel

RULE = "labels>=30"


def _status(panel) -> str:
    return str(panel.query_one(".status").render())


def _stops_entropy_at_2(strategy, seed, q, config):
    """Entropy meets the rule at query 2 (20 initial labels + 5 per query), as the engine would say."""
    return fake_result(strategy, seed, q, instances=config.instances,
                       stopped=RULE if strategy == "entropy" and q == 2 else None)


@pytest.fixture
def config(tiny):
    return tiny(queries=4, stop_when=[RULE])


async def test_the_dashboard_draws_a_stopped_run_and_counts_its_queries_done(tmp_path, config, digits):
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    app = make_app(config, out, engine_factory=FakeEngine(result=_stops_entropy_at_2), dataset=digits)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        entropy = app.query_one("#run-entropy-s0", RunPanel)
        assert f"stopped: {RULE} at query 2" in _status(entropy) and entropy.border_subtitle == "stopped"
        uniform = app.query_one("#run-uniform-s0", RunPanel)
        assert "finished" in _status(uniform) and "stopped" not in _status(uniform)
        progress = app.query_one("ProgressBar")
        assert progress.progress == progress.total == 2 * 5
        assert app.exit_code == 0
    ends = [r for r in read_records(out) if r["type"] == "run_finished"]
    assert [(r["run_id"], r.get("stopped")) for r in ends] == [("entropy-s0", RULE), ("uniform-s0", None)]
    assert max(r["query"] for r in read_records(out) if r["run_id"] == "entropy-s0" and r["type"] == "query") == 2


async def test_a_resumed_dashboard_draws_a_run_that_stays_stopped(tmp_path, config, digits):
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    stopped = [{"type": "query", **_stops_entropy_at_2("entropy", 0, q, config).to_record()} for q in range(3)]
    stopped.append({"type": "run_finished", "run_id": "entropy-s0", "strategy": "entropy", "seed": 0,
                    "stopped": RULE, "queries": 2})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stopped))
    resume = RunFolder.open(out).records_by_run(resume=True)
    app = make_app(config, out, engine_factory=FakeEngine(), dataset=digits, resume=resume)
    async with app.run_test(size=(180, 60)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        entropy = app.query_one("#run-entropy-s0", RunPanel)
        assert f"stopped: {RULE} at query 2" in _status(entropy)
        assert app.query_one("ProgressBar").progress == 2 * 5
    assert [r["run_id"] for r in read_records(out) if r["type"] == "query"].count("entropy-s0") == 3  # not rerun


async def test_the_watcher_draws_a_stopped_run(tmp_path, config):
    from baltui.commands.watch.app import WatchRunPanel, make_watch_app
    from baltui.runs.watched import open_folders

    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    rows = [{"type": "query", **_stops_entropy_at_2(s, 0, q, config).to_record()}
            for q in range(3) for s in ("entropy", "uniform")]
    rows.append({"type": "run_finished", "run_id": "entropy-s0", "strategy": "entropy", "seed": 0,
                 "stopped": RULE, "queries": 2})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = make_watch_app(open_folders([str(out)]), stall_after=600.0, poll=0.1, probe=False)
    async with app.run_test(size=(180, 70)) as pilot:
        entropy = app.query_one("#run-entropy-s0", WatchRunPanel)
        deadline = time.monotonic() + 10
        while not entropy.finished:
            assert time.monotonic() < deadline, "timed out"
            await pilot.pause(0.05)
        await pilot.pause()
        assert f"stopped: {RULE} at query 2" in _status(entropy)
        assert not app.query_one("#run-uniform-s0", WatchRunPanel).finished
        await pilot.press("ctrl+q")


# ---- label mode -----------------------------------------------------------------------------------
@pytest.fixture
def source(tmp_path, digits):
    """60 digits as an .npz source, which also answers as the oracle (y_train by index) and as --test."""
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=(digits.x_pool[:60, ..., 0] * 255).astype(np.uint8), y_train=digits.y_pool[:60])
    return path


TINY = ["--epochs", "1", "--batch-size", "16", "--mc-samples", "3", "--subset", "50"]


def test_the_label_oracle_stops_where_a_rule_holds(source, tmp_path, capsys):
    args = [str(source), "--out", str(tmp_path / "s"), "--oracle", str(source), "--no-ui", "--initial", "10",
            "--instances", "5", "--stop-when", "labels>=20", "--stop-when", "stable:0.000001", *TINY]
    assert label_main(args) == 0
    text = capsys.readouterr().out
    assert "round 3: 20 labels" in text and "stopped: labels>=20 at round 3" in text and "round 4" not in text


@pytest.mark.parametrize(("flags", "message"), [
    (["--stop-when", "accuracy>=0.9"], "reads test accuracy; give --test"),
    (["--stop-when", "plateau:3,0.01"], "reads test accuracy; give --test"),
    (["--strategy", "uniform", "--stop-when", "uncertainty<0.1"], "uniform has none"),
    (["--stop-when", "labels=5"], "stop rule 'labels=5' is not a stop rule; the forms are"),
])
def test_label_refuses_a_rule_it_cannot_judge_in_one_line(source, tmp_path, capsys, flags, message):
    assert label_main([str(source), "--out", str(tmp_path / "s"), "--oracle", str(source), "--no-ui", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


async def test_the_label_screen_says_a_rule_holds_and_lets_the_person_go_on(source, tmp_path):
    session = LabelSession(label_cli.load_source(str(source)), tmp_path / "s", [str(c) for c in range(10)], initial=4,
                           instances=3, epochs=1, batch_size=16, mc_samples=3, subset=50,
                           stop_rules=parse_rules(["labels>=4"]))
    app = LabelApp(session)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("1", "2", "3", "4")  # the first batch: round 1 trains on 4 labels
        await app.workers.wait_for_complete()
        await pilot.pause()
        deadline = time.monotonic() + 5
        while "stop rule met" not in _screen(app):  # the toast is mounted after the round's message
            assert time.monotonic() < deadline, [n.message for n in app._notifications]
            await pilot.pause(0.1)
        drawn = _screen(app)
        assert "stop rule met: labels>=4" in str(app.query_one("#state").render())
        assert "stop rule met" in drawn and "labels>=4 holds after round 1" in " ".join(drawn.split())
        await pilot.press("5", "6", "7")  # not forced to stop: the next batch is labelled, the model retrains
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert session.round == 2 and len(session.usable) == 7
        await pilot.press("q")


def _screen(app) -> str:
    """The active screen as drawn (toasts included), one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_query_result_carries_the_stop_only_on_the_run_finished_record():
    result = QueryResult.from_record({"type": "query", **fake_result(stopped=RULE).to_record()})
    assert result.stopped is None  # the query record has no "stopped": its run_finished does
