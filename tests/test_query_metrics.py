"""What a query record holds beyond accuracy (test metrics, the labelled set's classes, the fit's curves) and
`--batching`, on real TensorFlow at tiny settings on the digits.

The arithmetic of the metrics is checked by hand in test_metrics.py; here: they come from the same
probabilities as the recorded accuracy, the fit's curves are the training's, collecting them leaves every
weight as it was (the runs recorded before the layers reproduce: indices and accuracies exactly, scores to
their float32 rounding on this CPU), and `even` batching cuts the
epochs as it says while `keep` stays today's.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from recorded_runs import FIXTURE, assert_same_field, queries

from baltui.core.engine import ActiveLearningRun
from baltui.core.loop import TRAIN, ActiveLearningLoop, LoopSettings, stream


def test_collecting_the_fit_curves_and_metrics_leaves_the_recorded_runs_as_they_were(tmp_path):
    """Two of the runs recorded before the layers (tests/fixtures/before_layers, made without any of this): the
    same accuracies, queried indices and scores, now with the new fields beside them."""
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "baltui", "--no-ui", "--strategies", "uniform,entropy", "--seeds", "0", "--queries",
           "2", "--epochs", "5", "--mc-samples", "10", "--beta", "2", "--threads-per-run", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    before, after = queries(FIXTURE / "runs"), queries(out)
    assert set(after) == {(f"{s}-s0", q) for s in ("uniform", "entropy") for q in range(3)}
    for key, new in after.items():
        old = before[key]
        for field in ("accuracy", "queried_indices", "queried_scores", "labelled_indices", "score_histogram"):
            assert_same_field(new, old, field, key)
        assert len(new["fit"]["loss"]) == len(new["fit"]["accuracy"]) == new["fit"]["epochs"] == 5
        assert new["nll"] > 0 and 0 <= new["ece"] <= 1 and 0 <= new["brier"] <= 2
    # `keep` is the default and what config.json records
    assert json.loads((out / "config.json").read_text())["batching"] == "keep"


@pytest.fixture(scope="module")
def results(digits):
    from conftest import tiny_config  # tests/ is on sys.path (rootdir conftest), not a package

    return list(ActiveLearningRun(tiny_config(epochs=3), digits, "entropy", seed=0))


def test_the_metrics_are_the_accuracys_probabilities(results, digits):
    y = digits.y_test
    test_counts = np.bincount(y, minlength=digits.n_classes)
    for r in results:
        record = r.to_record()
        # accuracy is the class accuracies weighted by the test set's class counts: one argmax behind both
        per_class = np.asarray(record["class_accuracy"], dtype=float)
        assert np.dot(per_class, test_counts) / len(y) == pytest.approx(record["accuracy"], abs=1e-12)
        assert 0 < record["nll"] < 30 and 0 <= record["ece"] <= 1 and 0 <= record["brier"] <= 2
        labelled = np.asarray(record["labelled_indices"])
        assert record["labelled_per_class"] == np.bincount(digits.y_pool[labelled], minlength=10).tolist()
        assert sum(record["labelled_per_class"]) == record["n_labelled"]
        fit = record["fit"]
        assert fit["epochs"] == 3 and len(fit["loss"]) == len(fit["accuracy"]) == 3
        # batch 16: an epoch over 20, 25, 30 labels ends on 4, 9, 14 images
        assert fit["last_batch"] == (record["n_labelled"] - 1) % 16 + 1
        assert all(0 <= a <= 1 for a in fit["accuracy"]) and all(v > 0 for v in fit["loss"])
        assert all(v == float(f"{v:.5g}") for v in fit["loss"] + fit["accuracy"])  # 5 significant digits
        assert record["training"] is None  # the regime's own field is untouched (the seed's regime chooses nothing)


@pytest.mark.parametrize("batching", ["keep", "even"])
def test_the_fit_curves_are_the_mean_loss_and_accuracy_over_each_epochs_images(digits, batching):
    """At learning rate 0 and dropout rate 0 every step sees the initial model, so each epoch's mean training
    loss and accuracy are that model's over the labelled images, however the epoch is cut into batches."""
    from baltui.core.models.classifier import MCDropoutClassifier, build_cnn

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=3, batch_size=16, batching=batching,
                              model_fn=lambda shape, n: build_cnn(shape, n, (0.0, 0.0)))
    clf.optimizer.learning_rate.assign(0.0)
    X, y = digits.x_pool[:40], digits.y_pool[:40]
    clf.fit(X, y)
    P = clf.predict_proba(X).astype(np.float64)
    loss = -np.log(np.clip(P[np.arange(40), y], 1e-7, 1.0)).mean()  # keras' cross-entropy clips at 1e-7
    fit = clf.last_fit
    assert fit.loss == pytest.approx([loss] * 3, rel=1e-5)
    assert fit.accuracy == pytest.approx([(P.argmax(axis=1) == y).mean()] * 3, abs=1e-9)
    assert fit.last_batch == {"keep": 8, "even": 13}[batching]  # 16 + 16 + 8, or 14 + 13 + 13


def test_a_real_fit_learns_and_its_curves_say_so(digits):
    loop = _loop(digits, epochs=30, batch_size=8)
    loop.start(np.arange(40), stream(0, 0, TRAIN))
    fit = loop.classifier.last_fit
    assert len(fit.loss) == len(fit.accuracy) == fit.epochs == 30
    assert fit.loss[-1] < fit.loss[0] and fit.accuracy[-1] > fit.accuracy[0]


def _loop(digits, **changes):
    settings = LoopSettings("entropy", **{"epochs": 2, "batch_size": 16, "mc_samples": 3, "subset": 200, **changes})
    return ActiveLearningLoop.build(settings, digits.x_pool, digits.n_classes, digits.y_pool)


def test_even_batching_cuts_each_epoch_into_equal_batches_and_trains_other_weights(digits):
    labelled = np.arange(130)
    keep, even = _loop(digits, batching="keep", batch_size=128), _loop(digits, batching="even", batch_size=128)
    for loop in (keep, even):
        loop.start(labelled, stream(0, 0, TRAIN))
    # the same number of steps (2 per epoch, 2 epochs), cut 128 + 2 against 65 + 65
    assert int(keep.classifier.optimizer.iterations) == int(even.classifier.optimizer.iterations) == 4
    assert keep.classifier.last_fit.last_batch == 2 and even.classifier.last_fit.last_batch == 65
    assert any(not np.array_equal(a, b) for a, b in zip(keep.classifier.model.get_weights(),
                                                        even.classifier.model.get_weights(), strict=True))
    # 130 = 128 + 2 exactly: as many steps of whichever cut; with the rng the same, only the cut differs
    again = _loop(digits, batching="keep", batch_size=128)
    again.start(labelled, stream(0, 0, TRAIN))
    for a, b in zip(keep.classifier.model.get_weights(), again.classifier.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_even_batching_on_draws_with_repetition_cuts_the_draws(digits):
    loop = _loop(digits, batching="even", batch_size=64, epoch_draws=130)
    loop.start(np.arange(30), stream(0, 0, TRAIN))
    assert loop.classifier.last_fit.last_batch == 43  # 130 draws in 3 batches: 44, 43, 43
    assert int(loop.classifier.optimizer.iterations) == 3 * 2
