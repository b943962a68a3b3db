"""The channel-dropout convolution head (`baltui.core.mc.channel_conv`) computes what the masked head computes.

Kirsch et al.'s model drops channels right after its first convolution; the fast head runs the second
convolution once per point and mixes its per-channel partials per sample. Same masks, same function:
these tests compare it with the generic masked TensorFlow head on the real model, across chunks, and
check that heads it cannot prove equal are left to the masked head.
"""

from __future__ import annotations

import numpy as np
import pytest

from baltui.core.mc import channel_conv


def _clf(build, mc_masks="consistent"):
    from baltui.core.models.classifier import MCDropoutClassifier

    return MCDropoutClassifier((28, 28, 1), 10, model_fn=build, mc_masks=mc_masks, epochs=2, batch_size=16)


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32)


def _variant(strides=1, padding="valid", between=("pool", "relu"), conv_activation=None):
    """Kirsch et al.'s model with the first block and the second convolution varied."""
    def build(input_shape, n_classes):
        import keras

        layers = [keras.Input(shape=input_shape), keras.layers.Conv2D(8, (5, 5)), keras.layers.SpatialDropout2D(0.5)]
        for kind in between:
            layers.append({"pool": keras.layers.MaxPooling2D(2), "relu": keras.layers.ReLU(),
                           "avg": keras.layers.AveragePooling2D(2), "tanh": keras.layers.Activation("tanh")}[kind])
        layers += [keras.layers.Conv2D(6, (3, 3), strides=strides, padding=padding, activation=conv_activation),
                   keras.layers.SpatialDropout2D(0.5), keras.layers.MaxPooling2D(2), keras.layers.ReLU(),
                   keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.Dropout(0.5), keras.layers.ReLU(),
                   keras.layers.Dense(n_classes, activation="softmax")]
        return keras.Sequential(layers)
    return build


def _both_heads(clf, X, T, seed):
    fast = clf.mc_predict_proba(X, T, seed=seed)
    fast_path = clf.last_mc_path
    slow = clf.mc_predict_proba(X, T, seed=seed, path="consistent-tf")
    assert clf.last_mc_path == "consistent-tf"
    return fast, fast_path, slow


def test_the_batchbald2019_model_takes_the_channel_head_and_matches_the_masked_head(digits, monkeypatch):
    from baltui.core.models import MODELS

    clf = _clf(MODELS["batchbald2019"].build)
    X = _images(40)
    clf.fit(X, np.arange(40) % 10)
    monkeypatch.setattr(channel_conv, "CHUNK_FLOATS", 7 * 12 * 8 * 8 * 64)  # 7 points per chunk: 6 chunks
    fast, path, slow = _both_heads(clf, X, 12, seed=3)
    assert path == "consistent-channel"
    assert clf.tracing_counts()["channel_partials"] == 1  # the channel head really ran (and traced once)
    np.testing.assert_allclose(fast, slow, atol=1e-5)
    assert fast.std(axis=0).max() > 0.01  # dropout is on
    # consistent across chunks: a copy 20 points (three chunks) later gets the same samples
    copies = clf.mc_predict_proba(np.concatenate([X[:20], X[:20]]), 12, seed=4)
    np.testing.assert_allclose(copies[:, :20], copies[:, 20:], atol=1e-6)


@pytest.mark.parametrize("variant", [
    {"strides": 2}, {"padding": "same"}, {"between": ("avg", "relu")}, {"between": ()},
], ids=["stride-2", "same-padding", "average-pool", "nothing-between"])
def test_other_channel_convolutions_match_too(variant):
    clf = _clf(_variant(**variant))
    X = _images(24, seed=1)
    fast, path, slow = _both_heads(clf, X, 6, seed=8)
    assert path == "consistent-channel"
    np.testing.assert_allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("variant", [{"between": ("pool", "tanh")}, {"conv_activation": "relu"}],
                         ids=["tanh-between", "conv-with-activation"])
def test_heads_it_cannot_prove_equal_stay_on_the_masked_head(variant):
    """tanh(m x) != m tanh(x), and an activation inside the Conv2D is not linear in its channels."""
    clf = _clf(_variant(**variant))
    assert clf.mc_predict_proba(_images(8), 4, seed=0).shape == (4, 8, 10)
    assert clf.last_mc_path == "consistent-tf"
