"""`baltui bench` on tiny settings: it runs end to end, prints the table and writes sane figures.

The real benchmark (MNIST, T=100, 50 epochs) takes minutes and belongs in the README, not the suite;
this only proves the command works and its figures are well-formed.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from baltui.cli import main as cli_main
from baltui.commands.bench import main, render
from baltui.core.errors import BaltuiError


def _numbers(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _numbers(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _numbers(value)
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield tree


def _spy_on_the_loop(monkeypatch) -> list[str]:
    """The names of the ActiveLearningLoop methods called, in order (the round must be the loop's)."""
    from baltui.core.loop import ActiveLearningLoop

    calls: list[str] = []
    for name in ("start", "resume", "acquire", "teach", "evaluate"):
        method = getattr(ActiveLearningLoop, name)

        def spy(self, *args, _name=name, _method=method, **kwargs):
            calls.append(_name)
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(ActiveLearningLoop, name, spy)
    return calls


def test_quick_bench_prints_the_table_and_writes_the_figures(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bench.json"
    calls = _spy_on_the_loop(monkeypatch)
    assert main(["--quick", "--json", str(out)]) == 0
    assert calls == ["resume", "acquire", "teach", "evaluate"]  # the timed round is one round of the engine's loop
    printed = capsys.readouterr().out
    for row in ("seed's way", "split head", "consistent masks", "speed-up", "round / its training", "train / matmul",
                "traces", "train f32 | bf16", "bf16 training speed-up", "100-query run per strategy"):
        assert row in printed, row
    figures = json.loads(out.read_text())
    acq, rd, tr = figures["acquisition"], figures["round"], figures["training"]
    for value in (acq["seed_way_s"], acq["split_head_s"], acq["speedup"], tr["epoch_s"], tr["flops"],
                  figures["evaluation"]["s"], rd["ratio"], rd["training_s"], rd["arithmetic_floor"],
                  rd["acquire_floor_s"], rd["evaluate_f32_s"], rd["ratio_f32_evaluation"],
                  figures["matmul_flops"], tr["fraction_of_matmul"]):
        assert value > 0 and math.isfinite(value)
    assert all(math.isfinite(v) for v in _numbers(figures) if v != acq["mean_prob_max_z"])
    assert rd["ratio"] >= 1.0 and rd["round_s"] >= rd["training_s"] and rd["ratio_f32_evaluation"] >= 1.0
    assert acq["consistent_path"] == "consistent-dense" and acq["consistent_s"] > 0
    assert acq["consistent_vs_independent"] == pytest.approx(acq["consistent_s"] / acq["split_head_s"])
    assert "acquisition_batchbald2019" not in figures  # 8x8 digits are too small for its 5x5 convolutions
    assert rd["checked_evaluation"] is False  # 497 digits test images: below the bfloat16 twin's threshold
    # "met" is each figure against its target (and the table's met / not met says the same)
    assert acq["met"] is (acq["speedup"] >= acq["target_speedup"]) and acq["target_speedup"] == 5.0
    assert rd["met"] is (rd["ratio"] <= rd["target_ratio"]) and rd["target_ratio"] == 1.2
    def marks(figures) -> dict[str, str]:
        wide = Console(width=200, file=io.StringIO(), record=True)  # no wrapped rows, whatever the terminal
        wide.print(render(figures))
        return {row.split("│")[1].strip(): row.split("│")[-2].strip() for row in wide.export_text().splitlines()
                if row.count("│") == 5}

    # a smoke run's sizes are too small to judge: no "not met" in red for a figure that means nothing
    assert "smoke run (--quick), targets not checked" in " ".join(printed.split()) and "not met" not in printed
    quick = marks(figures)
    assert {quick[row] for row in ("speed-up", "round / its training", "tf.function traces, max")} == {"not checked"}
    full = marks({**figures, "settings": {**figures["settings"], "quick": False}})  # as a full run is marked
    assert full["speed-up"] == ("met" if acq["met"] else "not met"), full
    assert full["round / its training"] == ("met" if rd["met"] else "not met"), full
    assert acq["path"] in ("compact", "tiled")  # digits at T=10: far below the sparse head's threshold
    assert figures["data"]["name"] == "digits" and figures["settings"]["mc_samples"] == 10
    assert figures["settings"]["model"] == "seed" and figures["training"]["images"] == 100  # no regime: one pass
    assert not figures["retraced"] and max(figures["tracing_counts"].values()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "/nonexistent/mnist.npz"], "does not exist"),
        (["--quick", "--epochs", "0"], "--epochs must be at least 1"),
        (["--quick", "--labelled", "1300"], "lower them"),
        (["--quick", "--json", "/nonexistent/dir/out.json"], "does not exist"),
        (["--quick", "--model", "resnet"], "unknown model 'resnet'"),
        (["--quick", "--model", "batchbald2019"], "needs images of at least 28x28"),  # the digits are 8x8
    ],
)
def test_bad_input_is_a_baltui_error(argv, message):
    with pytest.raises(BaltuiError, match=message):
        main(argv)


def test_an_unknown_flag_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-flag"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --no-such-flag" in err


def test_the_cli_reports_bench_errors_in_one_line(capsys):
    assert cli_main(["bench", "--data", "/nonexistent/mnist.npz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_batchbald2019_acquisition_times_both_heads_on_the_same_masks():
    """On 28x28 images (the digits are too small for the 5x5 model): the channel head against the masked
    head, side by side, computing the same probabilities from the same masks."""
    from types import SimpleNamespace

    from baltui.commands.bench import batchbald2019_acquisition

    X = np.random.default_rng(0).random((30, 28, 28, 1), dtype=np.float32)
    bb = batchbald2019_acquisition(SimpleNamespace(input_shape=(28, 28, 1), n_classes=10), X, 5, 1)
    assert (bb["path"], bb["masked_path"]) == ("consistent-channel", "consistent-tf")
    assert bb["s"] > 0 and bb["masked_s"] > 0 and bb["speedup_vs_masked"] == bb["masked_s"] / bb["s"]
    assert bb["max_abs_diff_vs_masked"] < 1e-5


@pytest.fixture(scope="module")
def digits28(tmp_path_factory):
    """The bundled digits upscaled to 28x28 in the keras layout: 1,500 pool images, enough to set aside the
    1,024 validation images of batchbald2019's regime beside --quick's labelled set and subset."""
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.stack([np.asarray(Image.fromarray((im * 16).clip(0, 255).astype(np.uint8)).resize((28, 28)))
                  for im in bunch.images])
    path = tmp_path_factory.mktemp("digits28") / "digits28.npz"
    np.savez(path, x_train=x[:1500], y_train=bunch.target[:1500], x_test=x[1500:], y_test=bunch.target[1500:])
    return path


@pytest.mark.slow
def test_bench_times_a_model_in_its_regime(digits28, tmp_path, capsys, monkeypatch):
    """--model batchbald2019: its regime (5,056 draws per epoch, early stopping on 1,024 validation images set
    aside from the pool, batch 64) under the flags given (--epochs 1), and the round is the loop's."""
    out = tmp_path / "bench.json"
    calls = _spy_on_the_loop(monkeypatch)
    assert main(["--quick", "--model", "batchbald2019", "--epochs", "1", "--data", str(digits28),
                 "--json", str(out)]) == 0
    assert calls == ["resume", "acquire", "teach", "evaluate"]
    figures = json.loads(out.read_text())
    s, tr, rd = figures["settings"], figures["training"], figures["round"]
    assert (s["model"], s["epochs"], s["batch_size"]) == ("batchbald2019", 1, 64)
    assert (s["epoch_draws"], s["early_stopping"], s["validation"]) == (5056, 3, 1024)
    assert (tr["images"], tr["epochs"], tr["batch_size"]) == (5056, 1, 64)
    assert rd["image_epochs"] == 5056 and rd["round_s"] >= rd["training_s"] > 0
    assert "acquisition_batchbald2019" in figures and not figures["retraced"]
    printed = " ".join(capsys.readouterr().out.split())
    assert "batchbald2019 model trained on 100 images, 1 epochs of 5,056 draws at batch 64" in printed
