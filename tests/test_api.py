"""The Python API: baltui.run / experiment / load_run give what the command line gives."""

from __future__ import annotations

import json

import pytest

import baltui
from baltui.commands.report import main as report_main
from baltui.core.errors import BaltuiError
from baltui.core.events import ExperimentFinished, QueryResult

pytestmark = pytest.mark.slow  # real training, a few seconds

TINY = dict(strategies=["entropy", "uniform"], seeds=[0, 1], queries=2, instances=5, epochs=2, batch_size=16,
            mc_samples=3, subset=200)


def test_run_then_load_run_gives_the_numbers_report_prints(tmp_path, capsys):
    folder = baltui.run(out=tmp_path / "run", **TINY)
    assert folder.path == tmp_path / "run"
    loaded = baltui.load_run(tmp_path / "run")
    assert len(loaded.rows()) == 2 * 2 * 3
    assert report_main([str(tmp_path / "run"), "--format", "json"]) == 0
    printed = {row["strategy"]: row for row in json.loads(capsys.readouterr().out)}
    summaries = {s.strategy: s for s in loaded.summaries()}
    assert set(printed) == set(summaries) == {"entropy", "uniform"}
    for strategy, s in summaries.items():
        row = printed[strategy]
        assert row["final_accuracy"]["values"] == s.final_values
        assert row["final_accuracy"]["n_labelled"] == s.final_at
        assert row["curve"] == {"n_labelled": s.x, "mean": s.mean, "std": s.std, "seeds": s.count}
        assert [row["reach"][f"{r.threshold:.0%}"]["values"] for r in s.reach] == [r.values for r in s.reach]
    frame = pytest.importorskip("pandas")
    df = loaded.to_pandas()
    assert isinstance(df, frame.DataFrame) and list(df["query"][:3]) == [0, 0, 0]


def test_events_iterate_and_leaving_the_loop_stops_the_runs(tmp_path):
    exp = baltui.experiment(out=tmp_path / "run", **{**TINY, "queries": 3})
    seen = []
    for event in exp:
        if isinstance(event, QueryResult):
            seen.append((event.run_id, event.query))
            if len(seen) == 3:
                break
    assert exp.control.stopped and not exp._thread.is_alive()
    rows = baltui.load_run(tmp_path / "run").rows()
    assert 3 <= len(rows) < 4 * 4  # every query seen is on disk; the rest never ran
    assert {(r["run_id"], r["query"]) for r in rows} >= set(seen)
    # ... and continues from where it stopped, like --resume
    events = list(baltui.experiment(resume=tmp_path / "run"))
    assert isinstance(events[-1], ExperimentFinished) and not events[-1].cancelled
    rows = baltui.load_run(tmp_path / "run").rows()
    assert sorted((r["run_id"], r["query"]) for r in rows) == sorted(
        (f"{s}-s{seed}", q) for s in TINY["strategies"] for seed in TINY["seeds"] for q in range(4))


def test_bad_settings_raise_before_anything_runs(tmp_path):
    with pytest.raises(BaltuiError, match="unknown strategy"):
        baltui.run(out=tmp_path / "x", strategies=["nope"])
    assert not (tmp_path / "x").exists()
