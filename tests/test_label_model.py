"""`baltui label --model/--beta/--mc-masks`: label mode runs the engine's round with any model, its regime and beta.

It applies the parts of a model's regime that need no labelled validation set (epochs, batch size, epoch
draws), says in one line which it cannot apply, and records model, beta and regime in session.json, which a
resumed session then uses.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from baltui.commands.label.cli import main
from baltui.commands.label.session import LabelSession
from baltui.core.images import load_source

DIGITS = [str(c) for c in range(10)]
FAST = ["--epochs", "2", "--batch-size", "16", "--mc-samples", "3"]


@pytest.fixture(scope="module")
def digits28(tmp_path_factory):
    """300 bundled digits upscaled to 28x28 (big enough for batchbald2019's 5x5 convolutions), labels by index."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.stack([np.asarray(Image.fromarray((im * 16).clip(0, 255).astype(np.uint8)).resize((28, 28)))
                  for im in bunch.images[:300]])
    path = tmp_path_factory.mktemp("digits28") / "digits28.npz"
    np.savez(path, x_train=x, y_train=bunch.target[:300])
    return path


@pytest.fixture(scope="module")
def digits8(tmp_path_factory, digits):
    path = tmp_path_factory.mktemp("digits8") / "digits8.npz"
    np.savez(path, x_train=(digits.x_pool[:200, ..., 0] * 255).astype(np.uint8), y_train=digits.y_pool[:200])
    return path


@pytest.mark.slow
def test_batchbald2019_powerbald_at_beta_2_runs_and_records_model_beta_and_regime(digits28, tmp_path):
    """The issue's command (with 1 epoch and T=5, so it takes seconds): the model's regime without early
    stopping and validation, said in one line; model, beta and the regime applied in session.json."""
    out = tmp_path / "session"
    cmd = [sys.executable, "-m", "baltui", "label", str(digits28), "--oracle", str(digits28), "--no-ui", "--rounds",
           "2", "--model", "batchbald2019", "--strategy", "powerbald", "--beta", "2", "--epochs", "1",
           "--mc-samples", "5", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 2: 30 labels" in proc.stdout
    notes = [line for line in proc.stderr.splitlines() if line.startswith("baltui label: note")]
    assert len(notes) == 1 and "early stopping (patience 3) and validation (1024 images)" in notes[0], proc.stderr
    saved = json.loads((out / "session.json").read_text())
    assert (saved["model"], saved["beta"], saved["strategy"]) == ("batchbald2019", 2.0, "powerbald")
    assert saved["regime"] == {"epochs": 1, "batch_size": 64, "epoch_draws": 5056}  # --epochs wins over the regime
    assert saved["regime_not_applied"] == {"early_stopping": 3, "validation": 1024}
    assert len(saved["pending"]) == 10


def test_a_model_too_big_for_the_images_is_one_line_before_anything_is_made(digits8, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(digits8), "--oracle", str(digits8), "--no-ui", "--out", str(out), "--model", "batchbald2019"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "needs images of at least 28x28" in err and "8x8" in err, err
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--model", "resnet"], "unknown model 'resnet'"),
    (["--beta", "0"], "--beta must be positive"),
    (["--strategy", "batchbald", "--mc-masks", "independent"], "needs consistent MC-dropout masks"),
])
def test_bad_settings_are_one_line(digits8, tmp_path, capsys, flags, message):
    assert main([str(digits8), "--oracle", str(digits8), "--no-ui", "--out", str(tmp_path / "o"), *flags]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.slow
def test_beta_reaches_the_strategy_and_resuming_keeps_the_recorded_settings(digits8, tmp_path, capsys):
    """--beta is the strategy's beta (it ran at 1 whatever was asked before); a resumed session keeps the recorded
    model, beta, masks and regime."""
    from baltui.core.loop import ActiveLearningLoop

    out = tmp_path / "session"
    args = [str(digits8), "--oracle", str(digits8), "--no-ui", "--out", str(out), "--rounds", "1", "--initial", "10",
            "--instances", "5", "--strategy", "powerbald", "--beta", "3", "--mc-masks", "consistent", *FAST]
    assert main(args) == 0
    saved = json.loads((out / "session.json").read_text())
    assert (saved["model"], saved["beta"], saved["mc_masks"]) == ("seed", 3.0, "consistent")
    assert saved["regime"] == {"epochs": 2, "batch_size": 16, "epoch_draws": 0} and saved["regime_not_applied"] == {}
    resumed = LabelSession(load_source(str(digits8)), out, DIGITS, strategy="powerbald")
    assert (resumed.model, resumed.beta, resumed.mc_masks, resumed.regime) == ("seed", 3.0, "consistent",
                                                                               saved["regime"])
    loop = ActiveLearningLoop.build(resumed.settings, resumed.source.images, len(DIGITS))
    assert loop.strategy.beta == 3.0 and loop.classifier.mc_masks == "consistent"
    assert (loop.classifier.epochs, loop.classifier.batch_size) == (2, 16)
    resumed.close()


def test_resuming_with_another_model_is_refused_in_one_line(digits28, tmp_path, capsys):
    out = tmp_path / "session"
    session = LabelSession(load_source(str(digits28)), out, DIGITS, initial=4)
    session.start()  # the first batch is random: session.json records the seed model, no training
    session.close()
    assert json.loads((out / "session.json").read_text())["model"] == "seed"
    assert main([str(digits28), "--out", str(out), "--oracle", str(digits28), "--no-ui", "--model",
                 "batchbald2019"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "was labelled with model seed" in err, err
    same = LabelSession(load_source(str(digits28)), out, DIGITS, model="seed")  # the recorded model is fine
    assert same.model == "seed"
    same.close()


def test_beta_for_a_strategy_that_does_not_read_it_is_a_warning(digits8, tmp_path, capsys):
    session_args = [str(digits8), "--oracle", str(digits8), "--no-ui", "--out", str(tmp_path / "s"), "--rounds", "1",
                    "--initial", "10", "--strategy", "uniform", "--beta", "2", *FAST]
    assert main(session_args) == 0
    err = capsys.readouterr().err
    assert "--beta is read only by powerbald, powerentropy, powerepig; uniform does not use it" in err
    assert "note" not in err  # the seed model has no regime to leave out


def test_a_session_without_the_new_keys_resumes_as_before(digits8, tmp_path):
    """A session.json written before --model existed: the seed model, beta 1 and label mode's defaults."""
    out = tmp_path / "old"
    out.mkdir()
    source = load_source(str(digits8))
    legacy = {"source": source.identity, "classes": DIGITS, "round": 0, "pending": [], "strategy": "bald",
              "source_path": str(digits8), "size": None}
    (out / "session.json").write_text(json.dumps(legacy))
    session = LabelSession(source, out, DIGITS)
    assert (session.model, session.beta, session.mc_masks) == ("seed", 1.0, "auto")
    assert session.regime == {"epochs": 50, "batch_size": 128, "epoch_draws": 0}
    session.close()
