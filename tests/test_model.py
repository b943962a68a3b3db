"""MC dropout: the fast split head against T full passes, plus determinism and retracing (digits, 8x8).

The fast path (`mc_predict_proba`) must sample the same distribution as the seed's T full passes
(`mc_predict_proba_full`). Three layers of evidence, from exact to statistical:
- with dropout rates 0 both are deterministic and must agree to float rounding;
- with the same explicit masks, the compact head (non-zero features only) must equal the full network;
- with dropout on, the mean and spread of the sampled probabilities must agree within sampling error.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from baltui.core.models.classifier import (
    MCDropoutClassifier,
    build_cnn,
    compact_rows,
    keep_mask,
    keras,
    split_at_first_dropout,
    tf,
)

PATHS = ("compact", "tiled", "sparse")


def test_the_models_keras_is_keras_3_on_tensorflow_whatever_the_users_keras_json(tmp_path):
    """The classifier calls Keras layers inside tf.functions (and these tests build models with the same keras):
    that needs Keras 3 on the TensorFlow backend, which tf_setup selects before keras is first imported, over
    a backend named in the user's ~/.keras/keras.json (here a KERAS_HOME in tmp)."""
    assert int(keras.__version__.split(".")[0]) >= 3, keras.__version__
    assert keras.backend.backend() == "tensorflow"
    (tmp_path / "keras.json").write_text('{"backend": "numpy"}')
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"} | {"KERAS_HOME": str(tmp_path)}
    code = "from baltui.core.models.classifier import keras; print(keras.backend.backend())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.stdout.split()[-1:] == ["tensorflow"], proc.stderr[-2000:]


def _no_dropout(shape, n_classes):
    return build_cnn(shape, n_classes, dropout=(0.0, 0.0))


def _first_dropout_only(shape, n_classes):
    return build_cnn(shape, n_classes, dropout=(0.25, 0.0))


@pytest.fixture(scope="module")
def trained(digits):
    """The seed's CNN (dropout 0.25/0.5) after a few epochs on digits: predictions are not uniform."""
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=8, batch_size=32)
    clf.rng = np.random.default_rng(0)
    clf.fit(digits.x_pool[:400], digits.y_pool[:400])
    return clf


@pytest.mark.parametrize("path", ["compact", "tiled"])  # the sparse head needs 0 < rate < 1: own tests
def test_fast_path_equals_full_passes_when_dropout_rates_are_zero(digits, path):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=2, batch_size=32, model_fn=_no_dropout)
    clf.rng = np.random.default_rng(1)
    clf.fit(digits.x_pool[:100], digits.y_pool[:100])
    X = digits.x_pool[100:400]
    fast = clf.mc_predict_proba(X, 7, seed=0, path=path)
    assert clf.last_mc_path == path
    full = clf.mc_predict_proba_full(X, 7, seed=0)
    # The same arithmetic in a different summation order: equal to float32 rounding.
    np.testing.assert_allclose(fast, full, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast[0], clf.predict_proba(X), rtol=0, atol=1e-6)


def test_compact_head_with_the_same_masks_equals_the_full_network(digits):
    """Given explicit masks, dense(dropout(features)) from non-zero features only is the full layer."""
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=3, batch_size=32, model_fn=_first_dropout_only)
    clf.rng = np.random.default_rng(2)
    clf.fit(digits.x_pool[:200], digits.y_pool[:200])
    X = digits.x_pool[200:260]
    n, k = len(X), 6
    feats = clf._features(X).numpy().reshape(n, -1)
    assert 0 < np.count_nonzero(feats) < feats.size  # some zeros, so the compaction is exercised
    masks = np.random.default_rng(3).random((n, k, feats.shape[1])) >= 0.25  # [N, k, F]

    dense = clf.model.layers[5]
    assert isinstance(dense, keras.layers.Dense)
    x = feats[:, None, :] * masks / 0.75  # what Dropout(0.25) then Flatten hand to the Dense
    reference = np.maximum(x @ dense.kernel.numpy() + dense.bias.numpy(), 0.0)  # [N, k, H]

    nonzero = feats != 0
    idx, vals = compact_rows(feats, nonzero, nonzero.sum(axis=1))
    compact_masks = np.take_along_axis(masks, np.broadcast_to(idx[:, None, :], (n, k, idx.shape[1])), axis=2)
    got = clf._compact_dense(idx, vals, compact_masks).numpy()
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", PATHS)
def test_fast_and_full_agree_in_distribution_with_dropout_on(trained, digits, path):
    """Mean and spread of 2,000 samples per point agree within sampling error.

    Each of the 40 x 10 (point, class) means is compared with a z statistic, (mean_fast - mean_full)
    / sqrt((var_fast + var_full) / T). Under the null (same distribution), the largest of 400 |z| is
    about 3.5; a bound of 5 fails by chance with probability ~400 x 6e-7 = 2e-4 (and the seeds are
    fixed, so the test is reproducible), while a wrong keep rate (e.g. 0.5 for 0.25) gives |z| > 20.
    The summed variances must agree within 10% (their sampling error is ~2% here).
    """
    T, X = 2000, digits.x_pool[500:540]
    fast = trained.mc_predict_proba(X, T, seed=10, path=path).astype(np.float64)
    assert trained.last_mc_path == path
    full = trained.mc_predict_proba_full(X, T, seed=11).astype(np.float64)
    se = np.sqrt((fast.var(axis=0) + full.var(axis=0)) / T)
    z = np.abs(fast.mean(axis=0) - full.mean(axis=0)) / np.maximum(se, 1e-9)
    assert z.max() < 5.0, z.max()
    assert 0.9 < fast.var(axis=0).sum() / full.var(axis=0).sum() < 1.1
    assert fast.var(axis=0).sum() > 1e-3  # dropout really is on


@pytest.mark.parametrize("path", PATHS)
def test_mc_shapes_probabilities_and_seeding(trained, digits, path):
    X = digits.x_pool[:37]
    P = trained.mc_predict_proba(X, 9, seed=4, path=path)
    assert P.shape == (9, 37, 10) and P.dtype == np.float32
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-5)
    assert (P >= 0).all()
    assert np.array_equal(P, trained.mc_predict_proba(X, 9, seed=4, path=path))  # same seed, same samples
    assert not np.array_equal(P, trained.mc_predict_proba(X, 9, seed=5, path=path))
    assert not np.allclose(P[0], P[1])  # samples differ from each other
    assert trained.mc_predict_proba(X[:1], 1, seed=0, path=path).shape == (1, 1, 10)
    assert trained.mc_predict_proba(X[:0], 5, seed=0, path=path).shape == (5, 0, 10)
    assert trained.mc_predict_proba_full(X, 3, seed=0).shape == (3, 37, 10)


def test_sparse_head_with_tensorflow_layers_after_it_agrees_with_full_passes(digits):
    """A head the kernel cannot finish (an extra Dense before the output) hands the rest to TensorFlow.

    The seed's head ends in Dense(softmax), which the kernel applies itself; here the layers after
    the kernel's part go through `rest_sample`, and the distribution must still be T full passes'.
    """

    def deeper(shape, n_classes):
        return keras.Sequential([
            keras.Input(shape), keras.layers.Conv2D(8, (3, 3), activation="relu"), keras.layers.Dropout(0.25),
            keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.5),
            keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(n_classes, activation="softmax"),
        ])

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=6, batch_size=32, model_fn=deeper)
    clf.rng = np.random.default_rng(3)
    clf.fit(digits.x_pool[:300], digits.y_pool[:300])
    assert clf._sparse_final is None
    T, X = 2000, digits.x_pool[500:530]
    fast = clf.mc_predict_proba(X, T, seed=10, path="sparse").astype(np.float64)
    assert clf.last_mc_path == "sparse" and clf.tracing_counts()["rest_sample"] == 1
    full = clf.mc_predict_proba_full(X, T, seed=11).astype(np.float64)
    se = np.sqrt((fast.var(axis=0) + full.var(axis=0)) / T)
    z = np.abs(fast.mean(axis=0) - full.mean(axis=0)) / np.maximum(se, 1e-9)
    assert z.max() < 5.0, z.max()
    assert 0.9 < fast.var(axis=0).sum() / full.var(axis=0).sum() < 1.1


def test_the_seed_head_output_layer_runs_in_the_sparse_kernel(trained):
    assert trained._sparse_final is trained.model.layers[-1]


def test_only_keras_own_softmax_is_fused(digits):
    """A user's function named softmax may compute something else: TensorFlow applies it."""

    def softmax(x):
        return keras.activations.softmax(x / 5.0)

    def tempered(shape, n_classes):
        model = build_cnn(shape, n_classes)
        model.layers[-1].activation = softmax
        return model

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=32, model_fn=tempered)
    assert clf._sparse_final is None and clf._sparse_relu is True


def test_chunking_over_points_and_samples_covers_every_entry(trained, digits, monkeypatch):
    """Small chunks (several point and sample chunks) still fill every [t, n] with a distribution."""
    import baltui.core.mc.independent as independent

    monkeypatch.setattr(independent, "MC_CHUNK_ROWS", 7)
    monkeypatch.setattr(independent, "SPARSE_CHUNK_ROWS", 7)
    for path in PATHS:
        P = trained.mc_predict_proba(digits.x_pool[:23], 11, seed=1, path=path)
        np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-5)


@pytest.mark.parametrize("rate", [0.25, 0.5, 3 / 1024, 0.3, 0.1])
def test_keep_mask_has_the_keep_rate_and_independent_neighbours(rate):
    """Byte (0.25, 0.5), 16-bit (3/1024) and float (0.3, 0.1) paths all keep with probability 1 - rate."""
    keep = keep_mask([1000, 1001], rate, tf.constant([5, 6], tf.int64)).numpy()
    assert keep.shape == (1000, 1001)
    n, q = keep.size, 1 - rate
    assert abs(keep.mean() - q) < 5 * np.sqrt(q * (1 - q) / n)
    # neighbours come from the same 32-bit random word: they must still be independent
    both = (keep[:, :-1] & keep[:, 1:]).mean()
    assert abs(both - q * q) < 5 * np.sqrt(q * q * (1 - q * q) / keep[:, 1:].size)
    assert keep_mask([3, 4], 0.0, tf.constant([1, 2], tf.int64)).numpy().all()
    assert not keep_mask([3, 4], 1.0, tf.constant([1, 2], tf.int64)).numpy().any()


def test_split_fails_clearly_without_dropout():
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="no Dropout"):
        split_at_first_dropout(plain)
    with pytest.raises(ValueError, match="no Dropout"):
        MCDropoutClassifier((8, 8, 1), 10, model_fn=lambda s, c: plain)
    inputs = keras.Input((8, 8, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="Sequential"):
        split_at_first_dropout(functional)


def test_split_is_at_the_first_stochastic_layer_of_any_architecture(digits):
    """An MLP (compact head straight after Flatten) and a head that starts with GaussianNoise (tiled)."""

    def mlp(shape, n_classes):
        return keras.Sequential([
            keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.0), keras.layers.Dense(n_classes, activation="softmax"),
        ])

    def noisy(shape, n_classes):
        return keras.Sequential([
            keras.Input(shape), keras.layers.Conv2D(8, (3, 3), activation="relu"),
            keras.layers.GaussianNoise(0.0), keras.layers.Flatten(), keras.layers.Dropout(0.0),
            keras.layers.Dense(n_classes, activation="softmax"),
        ])

    X = digits.x_pool[:50]
    for model_fn, n_prefix, path in ((mlp, 2, "compact"), (noisy, 1, "tiled")):
        clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=32, model_fn=model_fn)
        assert len(clf.prefix.layers) == n_prefix
        clf.rng = np.random.default_rng(0)
        clf.fit(X, digits.y_pool[:50])
        fast = clf.mc_predict_proba(X, 3, seed=0, path="auto" if path == "tiled" else "compact")
        assert clf.last_mc_path == path
        np.testing.assert_allclose(fast, clf.mc_predict_proba_full(X, 3, seed=0), atol=1e-6)


def test_fit_is_deterministic_for_a_given_rng_and_reinitialise_depends_on_it(digits):
    X, y = digits.x_pool[:150], digits.y_pool[:150]
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=3, batch_size=32)

    def fit_with(seed):
        clf.rng = np.random.default_rng(seed)
        clf.fit(X, y)
        return [w.copy() for w in clf.model.get_weights()], clf.predict_proba(digits.x_test)

    w1, p1 = fit_with(7)
    w2, p2 = fit_with(7)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))
    assert np.array_equal(p1, p2)

    clf.rng = np.random.default_rng(1)
    clf.reinitialise()
    init1 = [w.copy() for w in clf.model.get_weights()]
    clf.rng = np.random.default_rng(2)
    clf.reinitialise()
    init2 = clf.model.get_weights()
    kernels = [i for i, w in enumerate(init1) if w.ndim > 1]
    assert all(not np.array_equal(init1[i], init2[i]) for i in kernels)
    # and a fresh draw, not the trained weights
    assert all(not np.array_equal(init2[i], w2[i]) for i in kernels)


def test_nothing_retraces_when_n_t_or_the_labelled_set_change(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=16)
    for n in (20, 37, 64):  # labelled sets of changing size: ragged last batches too
        clf.fit(digits.x_pool[:n], digits.y_pool[:n])
    for n, T in ((10, 3), (57, 9), (200, 20), (1, 1)):
        for path in PATHS:
            clf.mc_predict_proba(digits.x_pool[:n], T, seed=n, path=path)
        clf.mc_predict_proba_full(digits.x_pool[:n], 2, seed=n)
        clf.predict_proba(digits.x_test[: n + 5])
        clf.predict(digits.x_test[: n + 5], precision="bfloat16")
    counts = clf.tracing_counts()
    assert {"rest_sample", "checked_infer"} <= set(counts)
    assert counts.pop("rest_sample") == 0  # the seed's output layer runs inside the sparse kernel
    assert counts and all(c == 1 for c in counts.values()), counts
