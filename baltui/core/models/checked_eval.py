"""Test-set predictions from a bfloat16 pass, with every close call decided again in float32.

Why: the engine scores the whole test set after every query. On MNIST that is 10,000 images, about
13% of the arithmetic of a 510-image retrain, and it runs at float32's peak already; only less
arithmetic per image could make it cheaper. CPUs with AMX (Intel Sapphire Rapids and later) run
bfloat16 convolutions ~4x faster than float32 through oneDNN, but bfloat16 rounds the inputs and
weights to 8 significant bits, which moves a predicted probability by up to ~0.005 (measured on
MNIST for models trained on 20 to 1,010 labels) and so could flip an argmax whose two top classes
are that close. Accuracy is what the results record, so it must be float32's: an argmax can only
differ where bfloat16's top two probabilities are within twice the largest deviation, so every
image whose top-two gap is below `RECHECK_GAP` (0.1, a 20x margin over that measurement) is
predicted again by the float32 network. The rest keep bfloat16's argmax, which float32 would give.

Since query records hold test metrics beside accuracy (NLL, ECE, Brier: `baltui.core.metrics`), the engine
evaluates with one float32 pass instead (`MCDropoutClassifier.evaluate_proba`): the metrics need float32's
probabilities, not only its argmax, and bfloat16's would make them depend on the CPU. This path remains what
`predict` and `score` use where it pays (and what `baltui bench` times).

The float32 model stays the one that samples MC dropout (and trains, unless `--train-precision bfloat16`:
see `precision`); the twin only copies its weights before each prediction (a few MB) and is used only on
CPUs with AMX (`baltui.core.cpu.amx_native`): avx512_bf16 alone gives oneDNN a faster dot product, but
the recheck pass and the casts eat most of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# Top-two probability gap below which the float32 network decides the class (see module docstring).
RECHECK_GAP = 0.1


def bfloat16_twin(model: Any) -> Any:
    """A copy of a Sequential model that computes in bfloat16 (float32 variables, float32 output).

    The "mixed_bfloat16" policy keeps variables in float32, so the twin takes the trained weights
    with a plain assign; the last layer stays float32 so the probabilities that decide a recheck
    are not rounded again.
    """
    import keras

    last = model.layers[-1]

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        config["dtype"] = "float32" if layer is last else "mixed_bfloat16"
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


class CheckedPredictor:
    """Class predictions equal to the float32 model's, computed mostly in bfloat16."""

    def __init__(self, model: Any, tf: Any) -> None:
        self.model = model
        self.twin = bfloat16_twin(model)
        twin = self.twin
        self._infer = tf.function(lambda x: twin(x, training=False),
                                  input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])
        # How many images the last `predict` sent back to float32 (the classifier's `last_evaluation`).
        self.last_rechecked = 0

    def sync(self) -> None:
        """Copy the float32 model's weights into the twin: ~1 ms, so every predict does it and no
        path that changes the weights (fit, loading a saved model) can leave the twin stale."""
        for mine, theirs in zip(self.twin.weights, self.model.weights, strict=True):
            mine.assign(theirs)

    def probabilities(self, X: np.ndarray, batched: Callable[[Any, np.ndarray], np.ndarray]) -> np.ndarray:
        """The twin's probabilities for X, with the float32 model's current weights (no rechecks)."""
        self.sync()
        return batched(self._infer, X)

    def predict(self, X: np.ndarray, batched: Callable[[Any, np.ndarray], np.ndarray],
                infer32: Callable[[Any], Any]) -> np.ndarray:
        """argmax over classes as the float32 network gives it: bfloat16 first, float32 for close calls.

        `batched(fn, X)` runs a traced function over X in slices; `infer32` is the float32 network.
        """
        probs = self.probabilities(X, batched)
        top2 = np.partition(probs, -2, axis=1)[:, -2:]
        close = np.flatnonzero(top2[:, 1] - top2[:, 0] < RECHECK_GAP)
        labels = probs.argmax(axis=1)
        if len(close):
            labels[close] = batched(infer32, np.asarray(X)[close]).argmax(axis=1)
        self.last_rechecked = int(len(close))
        return labels

    def tracing_count(self) -> int:
        return self._infer.experimental_get_tracing_count()
