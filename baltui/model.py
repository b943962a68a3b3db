"""The seed's Bayesian CNN, a scikit-learn style wrapper that modAL drives, and MC-dropout sampling.

The wrapper replaces Keras 2's `KerasClassifier` (gone in Keras 3) with the behaviour the seed relied
on: every `fit` starts from freshly initialised weights and trains on all labelled data. Unlike
rebuilding the model per fit, it re-draws the weights of one compiled model from its own initialisers,
which gives the same distribution without recompiling or retracing anything.

MC dropout (Gal & Ghahramani 2016) keeps dropout on at prediction time. In the seed's CNN every layer
before the first Dropout is deterministic, so `mc_predict_proba` computes those features once and
samples only the stochastic head T times, in large batched calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from baltui.control import Control
from baltui.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import

EVAL_BATCH = 2048
# Rows (T x N) per call of the stochastic head: bounds memory at ~rows x features x 4 bytes.
MC_CHUNK_ROWS = 16_384


def build_cnn(input_shape: tuple[int, int, int], n_classes: int = 10, dropout: tuple[float, float] = (0.25, 0.5)):
    """The seed's architecture (Gal et al. 2017's MNIST CNN as the notebook wrote it in Keras)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(32, (4, 4), activation="relu"),
            keras.layers.Conv2D(32, (4, 4), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(dropout[0]),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(dropout[1]),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


def split_at_first_dropout(model) -> tuple[Any, Any]:
    """Deterministic prefix and stochastic head of a Sequential model, sharing its layers."""
    layers = list(model.layers)
    first = next((i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dropout)), None)
    if first is None:
        raise ValueError("the model has no Dropout layer, so MC dropout would return T identical samples")
    prefix = keras.Sequential([keras.Input(shape=model.input_shape[1:]), *layers[:first]])
    head = keras.Sequential([keras.Input(shape=prefix.output_shape[1:]), *layers[first:]])
    return prefix, head


def _seed_pair(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2**31 - 1, size=2, dtype=np.int64)


class MCDropoutClassifier:
    """A scikit-learn style classifier (fit / predict / predict_proba / score) for modAL.

    Randomness comes only from `self.rng`, which the engine replaces before every query, so a run's
    results do not depend on how runs are interleaved or on TensorFlow's global seed.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        n_classes: int = 10,
        epochs: int = 50,
        batch_size: int = 128,
        model_fn: Callable[..., Any] = build_cnn,
        control: Control | None = None,
        on_epoch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.classes_ = np.arange(n_classes)
        self.epochs = epochs
        self.batch_size = batch_size
        self.control = control
        self.on_epoch = on_epoch
        self.rng = np.random.default_rng(0)
        self.model = model_fn(self.input_shape, n_classes)
        self.prefix, self.head = split_at_first_dropout(self.model)
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        self._dropouts = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Dropout)]
        self._compile_functions()
        self.fitted = False

    # ---- compiled functions: traced once per classifier, with shapes left open -------------------
    def _compile_functions(self) -> None:
        image = tf.TensorSpec([None, *self.input_shape], tf.float32)
        feature = tf.TensorSpec([None, *self.prefix.output_shape[1:]], tf.float32)
        model, head, optimizer = self.model, self.head, self.optimizer
        variables = model.trainable_variables

        @tf.function(input_signature=[image, tf.TensorSpec([None], tf.int64)], jit_compile=False)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                probs = model(x, training=True)
                # The seed used categorical cross-entropy on one-hot labels: the same loss.
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        @tf.function(input_signature=[image])
        def infer(x):
            return model(x, training=False)

        @tf.function(input_signature=[image])
        def features(x):
            return self.prefix(x, training=False)

        @tf.function(input_signature=[feature])
        def head_sample(f):
            return head(f, training=True)

        @tf.function(input_signature=[image])
        def full_sample(x):
            return model(x, training=True)

        self._train_step = train_step
        self._infer = infer
        self._features = features
        self._head_sample = head_sample
        self._full_sample = full_sample

    # ---- state resets ---------------------------------------------------------------------------
    def reinitialise(self) -> None:
        """Fresh weights from each layer's own initialisers, zeroed Adam state, seeded dropout."""
        for layer in self.model.layers:
            for name in ("kernel", "bias"):
                var = getattr(layer, name, None)
                init = getattr(layer, f"{name}_initializer", None)
                if var is None or init is None:
                    continue
                cfg = init.get_config()
                if "seed" in cfg:
                    init = init.__class__(**{**cfg, "seed": int(self.rng.integers(2**31 - 1))})
                var.assign(init(tuple(var.shape), dtype=var.dtype))
        for var in self.optimizer.variables:
            if "learning_rate" not in var.path:
                var.assign(tf.zeros_like(var))
        self._seed_dropout()

    def _seed_dropout(self) -> None:
        for layer in self._dropouts:
            layer.seed_generator.state.assign(_seed_pair(self.rng))

    # ---- scikit-learn interface -----------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> MCDropoutClassifier:
        """Train from fresh weights on all of X for `epochs` epochs (what KerasClassifier.fit did)."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.int64)
        self.reinitialise()
        n = len(X)
        for epoch in range(self.epochs):
            if self.control is not None:
                self.control.checkpoint()
            order = self.rng.permutation(n)
            for start in range(0, n, self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = self._train_step(X[batch], y[batch])
            if self.on_epoch is not None:
                self.on_epoch(epoch + 1, self.epochs)
        if not np.isfinite(float(loss)):
            raise FloatingPointError("training loss is not finite (NaN or inf); check the data")
        self.fitted = True
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Deterministic predictions (dropout off), batched."""
        X = np.asarray(X, dtype=np.float32)
        out = [self._infer(X[i : i + EVAL_BATCH]).numpy() for i in range(0, len(X), EVAL_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    # ---- MC dropout -----------------------------------------------------------------------------
    def mc_predict_proba(self, X: np.ndarray, T: int, seed: int | None = None) -> np.ndarray:
        """[T, N, C] probabilities with dropout on: deterministic prefix once, the head T times."""
        X = np.asarray(X, dtype=np.float32)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._seed_dropout()
        feats = np.concatenate(
            [self._features(X[i : i + EVAL_BATCH]).numpy() for i in range(0, len(X), EVAL_BATCH)]
        )
        n = len(X)
        out = np.empty((T, n, self.n_classes), dtype=np.float32)
        per_call = max(1, MC_CHUNK_ROWS // max(n, 1))  # samples per call when N is small
        if per_call >= 2:
            reps = tf.constant(feats)
            t = 0
            while t < T:
                k = min(per_call, T - t)
                if self.control is not None:
                    self.control.checkpoint()
                tiled = tf.reshape(tf.tile(reps[None], [k] + [1] * feats.ndim), [k * n, *feats.shape[1:]])
                out[t : t + k] = self._head_sample(tiled).numpy().reshape(k, n, self.n_classes)
                t += k
        else:
            for t in range(T):
                if self.control is not None:
                    self.control.checkpoint()
                for i in range(0, n, MC_CHUNK_ROWS):
                    out[t, i : i + MC_CHUNK_ROWS] = self._head_sample(feats[i : i + MC_CHUNK_ROWS]).numpy()
        return out

    def mc_predict_proba_full(self, X: np.ndarray, T: int, seed: int | None = None) -> np.ndarray:
        """The seed's way: T full stochastic passes of the whole network (kept for `baltui bench`)."""
        X = np.asarray(X, dtype=np.float32)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._seed_dropout()
        out = np.empty((T, len(X), self.n_classes), dtype=np.float32)
        for t in range(T):
            if self.control is not None:
                self.control.checkpoint()
            for i in range(0, len(X), EVAL_BATCH):
                out[t, i : i + EVAL_BATCH] = self._full_sample(X[i : i + EVAL_BATCH]).numpy()
        return out
