"""Runs on an image folder (one subfolder per class): headless through the command line, and in the dashboard."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from image_folders import digit_folder

from baltui.core.image_folder import load_image_folder
from baltui.runs.results import read_records
from baltui.runs.watched import load_folder_data, open_folders

pytestmark = pytest.mark.slow

TINY = ["--strategies", "bald,uniform", "--initial-per-class", "2", "--queries", "2", "--instances", "3",
        "--epochs", "2", "--batch-size", "16", "--mc-samples", "3", "--subset", "50"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return digit_folder(tmp_path_factory.mktemp("data") / "digits3")


def test_headless_run_on_an_image_folder_records_its_classes_and_watch_reads_them(folder, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "baltui", "--no-ui", "--data", str(folder), "--test-fraction", "0.2",
                           *TINY, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "digits3 (72 pool, 18 test, classes one, two, zero)" in proc.stdout
    assert "[bald seed 0] Accuracy after query 2:" in proc.stdout
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == "folder" and saved["provenance"]["class_names"] == ["one", "two", "zero"]
    queries = [r for r in read_records(out) if r["type"] == "query"]
    assert len(queries) == 6 and all(0 <= y <= 2 for r in queries for y in r["queried_labels"])
    # what watch loads for the previews: the same arrays, split and names, found from the folder's config
    data = load_folder_data(open_folders([str(out)])[0])
    assert data.content_sha256 == saved["provenance"]["data_sha256"] and data.class_names == ("one", "two", "zero")
    last = max((r for r in queries if r["strategy"] == "bald"), key=lambda r: r["query"])
    assert [data.folder.pool_files[i].split("/")[0] for i in last["queried_indices"]] == \
        [data.class_names[y] for y in last["queried_labels"]]


async def test_the_dashboard_on_an_image_folder_draws_its_class_names(folder, tmp_path):
    from baltui.commands.run import make_app
    from baltui.core.config import build_config
    from baltui.runs.start import start_config
    from baltui.ui.widgets.digits import DigitPreviews
    from baltui.ui.widgets.run_panel import RunPanel

    config = build_config({}, {"data": str(folder), "test_fraction": 0.2, "strategies": ["bald", "uniform"],
                               "initial_per_class": 2, "queries": 2, "instances": 3, "epochs": 2, "batch_size": 16,
                               "mc_samples": 3, "subset": 50})
    prepared = start_config(config, tmp_path / "dash")
    try:
        app = make_app(config, prepared.out, dataset=prepared.dataset)
        async with app.run_test(size=(160, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            for panel in app.query(RunPanel):
                assert panel.finished
                previews = panel.query_one(DigitPreviews)
                assert previews.images is not None and previews.images.shape == (3, 28, 28)
                drawn = str(previews.render())
                names = [("one", "two", "zero")[y] for y in previews.labels]
                assert all(f"y={name}" in drawn for name in names), drawn
                assert "y=0" not in drawn and "y=1" not in drawn and "y=2" not in drawn  # names, not indices
    finally:
        prepared.release()
    assert len([r for r in read_records(tmp_path / "dash") if r["type"] == "query"]) == 6
    assert np.array_equal(prepared.dataset.x_pool, load_image_folder(folder, 28, 0.2).x_pool)
