"""The dashboard, watch and label mode show the new strategies like the others.

Margin, least confidence, EPIG and power EPIG score every point: their histograms are acquisition scores.
BADGE and Core-set pick for diversity and have no per-point acquisition score; their runs record the quantity
each one's first pick maximises (gradient-embedding norm; distance to the nearest labelled image), and the
histogram's title says so instead of calling it an acquisition score.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from drawn import show_panels

from baltui.commands.run import make_app
from baltui.core.events import PhaseChanged, QueryResult
from baltui.runs.results import prepare_out_dir
from baltui.ui.widgets.histogram import ScoreHistogram, histogram_title
from baltui.ui.widgets.run_panel import RunPanel

SHOWN = ("margin", "least_confidence", "badge", "coreset", "epig", "powerepig", "uniform")


def _fake_engine(config, dataset, strategy, seed, control, on_phase, resume):
    rng = np.random.default_rng(seed)
    for q in range(config.queries + 1):
        on_phase(PhaseChanged(f"{strategy}-s{seed}", q, "training", 1, 1))
        scores = None if strategy == "uniform" else rng.random(40)
        k = 0 if q == 0 else config.instances
        yield QueryResult(f"{strategy}-s{seed}", strategy, seed, q, 20 + k * q, 1000 - k * q, 0.5, 0.01, 0.02, 0.01,
                          list(range(k)), [i % 10 for i in range(k)], None if scores is None else list(scores[:k]),
                          rng.random((k, 8, 8)), scores, [])


def test_histogram_titles_say_what_the_scores_are():
    assert histogram_title("margin") == "acquisition scores (latest query)"
    assert histogram_title("epig") == "acquisition scores (latest query)"
    assert "gradient-embedding norms" in histogram_title("badge") and "k-means++" in histogram_title("badge")
    assert "nearest labelled" in histogram_title("coreset") and "k-center" in histogram_title("coreset")
    assert histogram_title("uniform") == "uniform picks without scoring: no acquisition scores"


async def test_dashboard_panels_of_the_new_strategies(tmp_path, tiny, digits):
    config = tiny(queries=2, strategies=list(SHOWN))
    prepare_out_dir(tmp_path / "run", config.to_dict())
    app = make_app(config, tmp_path / "run", engine_factory=_fake_engine, dataset=digits)
    async with app.run_test(size=(180, 80)) as pilot:
        await app.workers.wait_for_complete()
        await show_panels(app, pilot)  # more than four runs open on the run table
        assert [p.strategy for p in app.query(RunPanel)] == list(SHOWN)
        for name in SHOWN[:-1]:
            hist = app.query_one(f"#run-{name}-s0", RunPanel).query_one(ScoreHistogram)
            assert sum(hist.counts) == 40, name
            assert hist.heading == histogram_title(name), name
        assert not app.query_one("#run-uniform-s0").query(ScoreHistogram)
        badge = app.query_one("#run-badge-s0", RunPanel).query_one(ScoreHistogram)
        assert "BADGE: gradient-embedding norms" in str(badge.render())  # the title is drawn, not only stored


async def test_watch_titles_the_histograms_of_badge_and_coreset(tmp_path):
    from baltui.commands.watch.app import make_watch_app
    from baltui.core.config import RunConfig
    from baltui.runs.watched import open_folders
    from baltui.ui.widgets.histogram import ScoreHistogram

    folder = tmp_path / "run"
    folder.mkdir()
    config = RunConfig(name="w", dataset="digits", strategies=["badge", "coreset", "margin"], seeds=[0], queries=2,
                       instances=3, out=str(folder))
    (folder / "config.json").write_text(json.dumps(config.to_dict()) + "\n")
    rows = []
    for name in config.strategies:
        for result in _fake_engine(config, None, name, 0, None, lambda e: None, None):
            rows.append(json.dumps({"type": "query", **result.to_record()}))
    (folder / "results.jsonl").write_text("\n".join(rows) + "\n")
    app = make_watch_app(open_folders([str(folder)]), stall_after=600.0, poll=0.1, probe=False)
    async with app.run_test(size=(180, 70)) as pilot:
        for _ in range(50):
            await pilot.pause(0.1)
            hists = {n: app.query_one(f"#run-{n}-s0").query_one(ScoreHistogram) for n in config.strategies}
            if all(sum(h.counts) == 40 for h in hists.values()):
                break
        for name, hist in hists.items():
            assert sum(hist.counts) == 40 and hist.heading == histogram_title(name), name
        await pilot.press("q")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["badge", "coreset", "epig"])
async def test_label_mode_runs_and_titles_the_new_strategies(tmp_path, digits, strategy):
    """A real label session: the model trains on the labels so far and the strategy picks the next batch."""
    from baltui.commands.label.app import LabelApp
    from baltui.commands.label.session import LabelSession
    from baltui.core.images import Source

    source = Source("digits", [f"{i}" for i in range(60)], digits.x_pool[:60], path="digits")
    session = LabelSession(source, tmp_path / "label", [str(c) for c in range(10)], strategy=strategy, initial=4,
                           instances=3, epochs=2, batch_size=16, mc_samples=3)
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("1", "2", "3", "4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert session.round == 1 and len(session.pending) == 3
        hist = app.query_one(ScoreHistogram)
        assert hist.heading == histogram_title(strategy) and sum(hist.counts) == 60 - 4
        await pilot.press("q")
