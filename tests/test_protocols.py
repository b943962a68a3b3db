"""The papers' protocols: weight decay (fixed and auto), the batchbald2019 model and its regime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui.cli import main
from baltui.core.config import build_config, load_preset
from baltui.core.control import Control
from baltui.core.engine import validation_indices
from baltui.executors.local import run_experiment
from baltui.runs.results import prepare_out_dir, read_records


@pytest.fixture(scope="module")
def padded_digits(tmp_path_factory):
    """The digits padded to 28x28 (uint8), for the 5x5 model: an .npz in the keras layout."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.zeros((len(bunch.images), 28, 28), dtype=np.uint8)
    x[:, 10:18, 10:18] = (bunch.images * 15).astype(np.uint8)
    path = tmp_path_factory.mktemp("padded") / "digits28.npz"
    np.savez(path, x_train=x[:1300], y_train=bunch.target[:1300], x_test=x[1300:1500], y_test=bunch.target[1300:1500])
    return path


def _clf(digits, **kw):
    from baltui.core.models.classifier import MCDropoutClassifier

    return MCDropoutClassifier(digits.input_shape, 10, epochs=kw.pop("epochs", 10), batch_size=16, **kw)


def test_weight_decay_is_c_over_n_and_shrinks_the_dense_weights(digits):
    X, y = digits.x_pool[:60], digits.y_pool[:60]
    norms = {}
    for c in (0.0, 50.0):
        clf = _clf(digits, weight_decay=c)
        clf.rng = np.random.default_rng(0)
        clf.fit(X, y)
        assert float(clf._decay.numpy()) == pytest.approx(c / 60)
        dense = [layer for layer in clf.model.layers if type(layer).__name__ == "Dense"]
        norms[c] = [float(np.sum(layer.kernel.numpy() ** 2)) for layer in dense]
    assert norms[50.0][0] < 0.8 * norms[0.0][0]  # the hidden Dense shrinks
    assert norms[50.0][-1] > 0.8 * norms[0.0][-1]  # the output layer is not decayed (as in Gal et al.'s scripts)
    clf.fit(X[:30], y[:30])  # N follows the labelled count at each fit
    assert float(clf._decay.numpy()) == pytest.approx(50.0 / 30)


def test_auto_weight_decay_picks_the_best_validation_accuracy(digits):
    from baltui.core.models.classifier import WEIGHT_DECAY_GRID

    clf = _clf(digits, weight_decay="auto", epochs=5)
    clf.validation = (digits.x_pool[500:600], digits.y_pool[500:600])
    clf.rng = np.random.default_rng(0)
    clf.fit(digits.x_pool[:50], digits.y_pool[:50])
    assert clf.last_weight_decay in WEIGHT_DECAY_GRID
    accuracy = float((clf.predict_proba(clf.validation[0]).argmax(1) == clf.validation[1]).mean())
    assert accuracy == pytest.approx(clf.last_validation_accuracy)  # the kept model is the best one


def test_early_stopping_stops_and_keeps_the_best_weights(digits):
    clf = _clf(digits, epochs=40, early_stopping=2, epoch_draws=64)
    clf.validation = (digits.x_pool[500:600], digits.y_pool[500:600])
    clf.rng = np.random.default_rng(0)
    clf.fit(digits.x_pool[:40], digits.y_pool[:40])
    assert clf.last_epochs < 40
    accuracy = float((clf.predict_proba(clf.validation[0]).argmax(1) == clf.validation[1]).mean())
    assert accuracy == pytest.approx(clf.last_validation_accuracy)


def test_the_validation_split_never_enters_the_pool(tmp_path, digits, tiny):
    config = tiny(queries=3, validation=100, weight_decay=3.5, strategies=["entropy"])
    prepare_out_dir(tmp_path, config.to_dict())
    run_experiment(config, digits, tmp_path, lambda e: None, Control())
    held = set(validation_indices(len(digits.y_pool), 100, 0).tolist())
    queries = [r for r in read_records(tmp_path) if r["type"] == "query"]
    assert len(queries) == 4
    for r in queries:
        assert not held & set(r["labelled_indices"])
        assert r["pool_size"] == len(digits.y_pool) - 100 - r["n_labelled"]
        assert r["training"]["weight_decay"] == 3.5 and 0 <= r["training"]["validation_accuracy"] <= 1


def test_batchbald2019_model_runs_its_regime_through_the_cli(tmp_path, padded_digits):
    out = tmp_path / "bb"
    code = main(["--no-ui", "--model", "batchbald2019", "--data", str(padded_digits), "--strategies",
                 "batchbald,uniform", "--queries", "2", "--instances", "5", "--epochs", "3", "--epoch-draws", "64",
                 "--validation", "100", "--mc-samples", "4", "--subset", "60", "--out", str(out)])
    assert code == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["model"], saved["batch_size"], saved["early_stopping"]) == ("batchbald2019", 64, 3)
    queries = [r for r in read_records(out) if r["type"] == "query"]
    assert len(queries) == 6
    assert all(1 <= r["training"]["epochs"] <= 3 for r in queries)
    held = set(validation_indices(1300, 100, 0).tolist())
    assert not any(held & set(r["labelled_indices"]) for r in queries)


def test_model_flag_brings_its_regime_and_small_images_are_refused(capsys):
    config = build_config(load_preset("paper"), {"model": "batchbald2019", "batch_size": 32})
    assert (config.epoch_draws, config.early_stopping, config.validation, config.batch_size) == (5056, 3, 1024, 32)
    assert main(["--no-ui", "--model", "batchbald2019"]) == 2
    assert "needs images of at least 28x28" in capsys.readouterr().err
    assert main(["--no-ui", "--early-stopping", "3"]) == 2
    assert "needs a validation set" in capsys.readouterr().err
    assert main(["--no-ui", "--weight-decay", "lots"]) == 2
    assert "'weight_decay' must be a number" in capsys.readouterr().err
    assert main(["--no-ui", "--weight-decay", "nan"]) == 2
    assert "'weight_decay' must be a number" in capsys.readouterr().err
    # --model seed keeps the preset's settings (the seed model has no regime of its own)
    assert build_config(load_preset("quick"), {"model": "seed"}).batch_size == load_preset("quick")["batch_size"]


def test_a_validation_split_that_starves_a_class_is_one_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(40, int), np.ones(4, int)]
    x = rng.integers(0, 255, (44, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    code = main(["--no-ui", "--data", str(tmp_path / "s.npz"), "--validation", "20", "--initial-per-class", "4",
                 "--queries", "1", "--instances", "1", "--out", str(tmp_path / "o")])
    assert code == 2 and not (tmp_path / "o").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "class 1 keeps 3 pool images, fewer than initial_per_class=4" in err[0]
