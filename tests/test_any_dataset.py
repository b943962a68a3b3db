"""Any image data set: a 3-class RGB .npz through the headless CLI and the dashboard, and bad ones refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui.cli import main
from baltui.core.data import load_npz
from baltui.core.errors import BaltuiError
from baltui.runs.results import read_records

RUN = ["--strategies", "bald,uniform", "--initial-per-class", "2", "--queries", "2", "--instances", "3",
       "--epochs", "3", "--mc-samples", "3"]


def rgb_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """12x12 RGB uint8 images of three classes a CNN learns: a bright red, green or blue square on noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, size=(n, 12, 12, 3))
    for i, c in enumerate(y):
        top, left = rng.integers(0, 5, size=2)
        x[i, top : top + 8, left : left + 8, c] = rng.integers(180, 256)
    return x.astype(np.uint8), y.astype(np.int64)


@pytest.fixture
def rgb_npz(tmp_path):
    x_train, y_train = rgb_images(150, seed=1)
    x_test, y_test = rgb_images(60, seed=2)
    path = tmp_path / "colours.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_rgb_three_class_npz_loads_with_its_classes_and_channels(rgb_npz):
    data = load_npz(rgb_npz)
    assert data.n_classes == 3 and data.input_shape == (12, 12, 3) and data.name == "colours"
    assert data.class_counts() == {0: 50, 1: 50, 2: 50}
    assert data.x_pool.dtype == np.float32 and 0.0 <= data.x_pool.min() and data.x_pool.max() <= 1.0


def test_rgb_three_class_npz_runs_headless(rgb_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--no-ui", "--data", str(rgb_npz), *RUN, "--out", str(out)]) == 0
    queries = [r for r in read_records(out) if r["type"] == "query"]
    for run_id in ("bald-s0", "uniform-s0"):
        rows = sorted((r for r in queries if r["run_id"] == run_id), key=lambda r: r["query"])
        assert [r["n_labelled"] for r in rows] == [6, 9, 12]
        assert all(0 <= label <= 2 for r in rows for label in r["queried_labels"])
        assert [len(r["queried_labels"]) for r in rows] == [0, 3, 3]
    provenance = json.loads((out / "config.json").read_text())["provenance"]
    assert provenance["n_classes"] == 3 and provenance["input_shape"] == [12, 12, 3]


async def test_rgb_three_class_npz_in_the_dashboard_previews_colour(rgb_npz, tmp_path):
    from rich.console import Console

    from baltui.commands.run import make_app
    from baltui.core.config import build_config
    from baltui.runs.results import prepare_out_dir
    from baltui.ui.widgets.digits import DigitPreviews
    from baltui.ui.widgets.run_panel import RunPanel

    config = build_config({}, {"data": str(rgb_npz), "strategies": ["bald", "uniform"], "initial_per_class": 2,
                               "queries": 2, "instances": 3, "epochs": 3, "mc_samples": 3})
    out = tmp_path / "dash"
    prepare_out_dir(out, config.to_dict())
    app = make_app(config, out, dataset=load_npz(rgb_npz))
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for panel in app.query(RunPanel):
            assert panel.finished
            previews = panel.query_one(DigitPreviews)
            assert previews.images is not None and previews.images.shape == (3, 12, 12, 3)
            assert all(0 <= label <= 2 for label in previews.labels)
            text = previews.compose_text(160)
            colours = {span.style.bgcolor.triplet for span in text.spans
                       if not isinstance(span.style, str) and span.style.bgcolor is not None}
            assert len(colours) > 1  # drawn in colour, not one flat block
            console = Console(width=160, record=True, color_system="truecolor", force_terminal=True)
            console.print(previews.render())
            rendered = console.export_text(styles=True)
            assert "▀" in rendered and "y=" in rendered and "38;2;" in rendered
    assert len([r for r in read_records(out) if r["type"] == "query"]) == 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_train": lambda y: y - 1}, "y_train has labels outside 0..C-1 (min -1)"),
        ({"y_train": lambda y: y + 1}, "labels must be the classes 0..3 (max label + 1 = 4) but y_train has no image "
                                       "of class 0"),
        ({"y_test": lambda y: np.where(y == 2, 5, y)}, "y_train has no image of class 3, 4, 5"),
        ({"y_train": lambda y: y * 0, "y_test": lambda y: y * 0}, "only class 0"),
        ({"x_train": lambda x: x[..., :2]}, "x_train has shape (150, 12, 12, 2); expected (N, H, W) or "
                                            "(N, H, W, 1) grayscale or (N, H, W, 3) RGB images"),
        ({"x_test": lambda x: x[..., :1]}, "x_train images have 3 channel(s) but x_test images 1"),
    ],
)
def test_bad_labels_or_channels_get_one_clear_line(rgb_npz, tmp_path, capsys, change, message):
    with np.load(rgb_npz) as f:
        arrays = {k: f[k] for k in f.files}
    for key, fn in change.items():
        arrays[key] = fn(arrays[key])
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(BaltuiError) as info:
        load_npz(bad)
    assert message in str(info.value) and "bad.npz" in str(info.value) and "\n" not in str(info.value)
    assert main(["--no-ui", "--data", str(bad), *RUN, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
