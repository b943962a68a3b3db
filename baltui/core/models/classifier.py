"""The seed's Bayesian CNN and MCDropoutClassifier, the scikit-learn style wrapper that modAL drives.

The wrapper replaces Keras 2's `KerasClassifier` (gone in Keras 3) with the behaviour the seed relied
on: every `fit` starts from freshly initialised weights and trains on all labelled data. Unlike
rebuilding the model per fit, it re-draws the weights of one compiled model from its own initialisers,
which gives the same distribution without recompiling or retracing anything.

MC dropout (Gal & Ghahramani 2016) keeps dropout on at prediction time. Every layer before the first
stochastic layer is deterministic, so `mc_predict_proba` computes those features once and has a
sampler draw only the stochastic head T times: `baltui.core.mc.independent` (a mask per sample, point and
feature, as T full passes would draw them; its docstring has the costs) or `baltui.core.mc.consistent_tf`
(one mask per sample for every point, which BatchBALD needs). `mc_predict_proba` is the one place that
chooses between them.

This module is over 350 lines because it is one object's job: the estimator modAL and the engine drive,
whose training regime, predictions and MC sampling share one model, one `rng` and one set of compiled
functions; the sampling itself is in `baltui.core.mc`.

`keep_mask`, `compact_rows`, `split_at_first_dropout` and `STOCHASTIC_LAYERS` live in `baltui.core.mc` and
are re-exported here, with `tf` and `keras`, for callers that import them from this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from baltui.core import cpu
from baltui.core.control import Control
from baltui.core.mc.consistent_tf import ConsistentSampler
from baltui.core.mc.independent import IndependentSampler
from baltui.core.mc.layers import STOCHASTIC_LAYERS, split_at_first_dropout
from baltui.core.mc.masks import compact_rows, keep_mask, seed_pair
from baltui.core.models.batching import BATCHINGS, batch_bounds, batch_sizes
from baltui.core.models.checked_eval import CheckedPredictor
from baltui.core.models.precision import TrainingModel, resolve_train_precision
from baltui.core.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import

__all__ = [
    "CHECKED_MIN_IMAGES", "CONSISTENT_PATHS", "EVAL_BATCH", "INDEPENDENT_PATHS", "MASK_MODES", "PRECISIONS",
    "STOCHASTIC_LAYERS", "WEIGHT_DECAY_GRID", "EvaluationInfo", "FitInfo", "MCDropoutClassifier", "SamplingInfo",
    "build_cnn", "compact_rows", "keep_mask", "keras", "split_at_first_dropout", "tf",
]

# Images per call of the deterministic network (evaluation and the MC prefix), and points per call of
# the consistent-mask TensorFlow head. Measured on 2 cores: 512..5000 are within 4% of each other on
# MNIST; 2048 keeps the per-call overhead negligible.
EVAL_BATCH = 2048
# Fewest images for which "auto" predicts with the bfloat16 twin (`checked_eval`): below a few
# thousand float32 takes milliseconds and the twin's second pass and rechecks are not worth it.
CHECKED_MIN_IMAGES = 2048
# C of weight decay C/N that "auto" tries per fit (log-spaced around the 3.5 of Gal et al.'s scripts).
WEIGHT_DECAY_GRID = (0.35, 1.0, 3.5, 10.0)
# Ways to draw MC-dropout masks (see `baltui.core.mc.consistent`).
MASK_MODES = ("consistent", "independent")
# The heads that sample them: "auto" chooses (see `IndependentSampler.choose_path`, `ConsistentSampler.choose_path`);
# naming one forces it where it applies (bench and tests compare them), and implies its mask mode.
INDEPENDENT_PATHS = ("sparse", "compact", "tiled")
CONSISTENT_PATHS = ("consistent-dense", "consistent-channel", "consistent-tf")
# How `predict` and `score` compute: "auto" (the bfloat16 twin with float32 rechecks where the CPU runs
# bfloat16 natively, see checked_eval), or one of them forced.
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class SamplingInfo:
    """What the last `mc_predict_proba` call ran (bench and tests read it)."""

    masks: str  # "consistent" or "independent"
    path: str | None  # the head that ran (INDEPENDENT_PATHS, CONSISTENT_PATHS); None for an empty call
    density: float | None  # share of non-zero prefix features (what the compact and sparse heads save)
    samples: int
    points: int


@dataclass(frozen=True)
class FitInfo:
    """What the last `fit` did: the weight decay its regime chose, the epochs it kept, its wall time, and the
    kept training's curves (per epoch: mean cross-entropy and accuracy over the epoch's images, dropout on, as
    each mini-batch was trained on)."""

    images: int
    epochs: int  # of the kept training (early stopping may stop before `epochs`)
    weight_decay: float | None  # C of L2 C/N (None: no weight decay)
    validation_accuracy: float | None
    seconds: float  # the whole fit, every weight-decay candidate included
    loss: tuple[float, ...] = ()  # per epoch run, without the weight-decay term (comparable with the test NLL)
    accuracy: tuple[float, ...] = ()  # per epoch run
    last_batch: int = 0  # images in an epoch's last mini-batch (`--batching`)


@dataclass(frozen=True)
class EvaluationInfo:
    """How the last `predict` (or `score`) computed its labels."""

    images: int
    precision: str  # "float32", or "bfloat16" (the twin, with float32 rechecks)
    rechecked: int  # images the bfloat16 pass left to float32 (0 in float32)


def build_cnn(input_shape: tuple[int, int, int], n_classes: int = 10, dropout: tuple[float, float] = (0.25, 0.5)):
    """The seed's architecture (kept here for callers of `baltui.core.models.classifier.build_cnn`)."""
    from baltui.core.models.seed import build

    return build(input_shape, n_classes, dropout)


class MCDropoutClassifier:
    """A scikit-learn style classifier (fit / predict / predict_proba / score) for modAL.

    Randomness comes only from `self.rng`, which the engine replaces before every query, so a run's
    results do not depend on how runs are interleaved or on TensorFlow's global seed.

    All TensorFlow functions are traced once per classifier with open batch dimensions: changing the
    pool size, T or the labelled-set size between queries never retraces (tests count the traces).
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
        on_compile: Callable[[], None] | None = None,
        mc_masks: str = "independent",
        weight_decay: float | str = 0.0,
        epoch_draws: int = 0,
        early_stopping: int = 0,
        eval_precision: str = "auto",
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        train_precision: str = "float32",
        batching: str = "keep",
    ) -> None:
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.classes_ = np.arange(n_classes)
        self.epochs = epochs
        self.batch_size = batch_size
        self.control = control
        self.on_epoch = on_epoch
        self.rng = np.random.default_rng(0)
        # Training regime (see `fit`): L2 of C/N on the hidden Dense kernels (C, or "auto": chosen per fit on the
        # validation set from WEIGHT_DECAY_GRID); epochs of `epoch_draws` draws with repetition (0: one
        # pass over a permutation); early stopping on validation accuracy with this patience (0: off).
        self.weight_decay = weight_decay
        self.epoch_draws = epoch_draws
        self.early_stopping = early_stopping
        # How an epoch's images are cut into mini-batches ("keep": the last one holds the rest; "even": equal sizes).
        if batching not in BATCHINGS:
            raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, got {batching!r}")
        self.batching = batching
        self._curves: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())  # the last _fit_once's, per epoch
        self.validation: tuple[np.ndarray, np.ndarray] | None = validation
        self.last_weight_decay: float | None = None
        self.last_validation_accuracy: float | None = None
        self.last_epochs: int | None = None
        self._last_fit: FitInfo | None = None
        self._decay = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.model = model_fn(self.input_shape, n_classes)
        # Training precision ("auto" resolved for this CPU): "float32" trains self.model itself; "bfloat16" a
        # mixed-bfloat16 twin whose weights go into self.model after each fit, so predictions and MC sampling
        # stay float32's (see precision.py).
        self._training = TrainingModel(self.model, resolve_train_precision(train_precision, cpu.cpu_features()))
        self.train_precision = self._training.precision
        self.prefix, self.head = split_at_first_dropout(self.model)
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self._training.model.trainable_variables)
        self._dropouts = [layer for layer in self.model.layers if isinstance(layer, STOCHASTIC_LAYERS)]
        self._training_dropouts = self._training.dropout_layers(STOCHASTIC_LAYERS)  # the twin's, if any
        # "consistent": one dropout mask per sample for every point of a call (BatchBALD needs it);
        # "independent": a mask per (sample, point), as T separate passes per point would draw.
        if mc_masks not in MASK_MODES:
            raise ValueError(f"mc_masks must be one of {', '.join(MASK_MODES)}, got {mc_masks!r}")
        self._mc_masks = mc_masks
        self._last_sampling: SamplingInfo | None = None
        self._compile_functions()
        feature_shape = tuple(self.prefix.output_shape[1:])
        self._independent = IndependentSampler(self.head.layers, feature_shape, n_classes, control)
        self._independent.on_compile = on_compile
        self._consistent = ConsistentSampler(self.head.layers, feature_shape, control)
        self.fitted = False
        # "auto": predict()/score() use the bfloat16 twin with float32 rechecks where the CPU runs
        # bfloat16 natively (see checked_eval); "float32" or "bfloat16" force one way (bench, tests).
        if eval_precision not in PRECISIONS:
            raise ValueError(f"eval_precision must be one of {', '.join(PRECISIONS)}, got {eval_precision!r}")
        self._eval_precision = eval_precision
        self._checked: CheckedPredictor | None = None
        self._last_evaluation: EvaluationInfo | None = None

    # ---- what was chosen at construction, and what ran last (read-only) ---------------------------
    @property
    def mc_masks(self) -> str:
        """The mask mode `mc_predict_proba` draws unless a call names another."""
        return self._mc_masks

    @property
    def eval_precision(self) -> str:
        """How `predict` and `score` compute unless a call names another precision."""
        return self._eval_precision

    @property
    def last_sampling(self) -> SamplingInfo | None:
        return self._last_sampling

    @property
    def last_mc_path(self) -> str | None:
        """The head the last `mc_predict_proba` ran (None before any, or for an empty call)."""
        return None if self._last_sampling is None else self._last_sampling.path

    @property
    def last_mc_density(self) -> float | None:
        """Share of non-zero prefix features in the last `mc_predict_proba` call."""
        return None if self._last_sampling is None else self._last_sampling.density

    @property
    def last_fit(self) -> FitInfo | None:
        return self._last_fit

    @property
    def last_evaluation(self) -> EvaluationInfo | None:
        return self._last_evaluation

    # ---- compiled functions: traced once per classifier, with shapes left open -------------------
    def _compile_functions(self) -> None:
        """Training, inference, the prefix and the seed's full stochastic pass (the samplers compile the heads)."""
        image = tf.TensorSpec([None, *self.input_shape], tf.float32)
        model, prefix, optimizer = self.model, self.prefix, self.optimizer
        trained = self._training.model  # self.model, or its bfloat16 twin (precision.py)
        variables = trained.trainable_variables
        # Only a run with weight decay has the term in its graph: without it training is bitwise the seed's.
        # Gal et al.'s scripts put l2(c/N) on the hidden Dense only (W_regularizer on Dense(256) in
        # MC_Dropout_Keras/), not on the output layer: every Dense kernel but the last.
        decayed = [layer.kernel for layer in trained.layers if isinstance(layer, keras.layers.Dense)][:-1]
        if self.weight_decay in (0, 0.0):
            decayed = []
        decay = self._decay

        def train_step(x, y):
            with tf.GradientTape() as tape:
                probs = trained(x, training=True)
                # The seed used categorical cross-entropy on one-hot labels: the same loss.
                per_image = keras.losses.sparse_categorical_crossentropy(y, probs)
                loss = tf.reduce_mean(per_image)
                if decayed:  # Gal et al.'s L2 of C/N (Keras's l2(C/N): C/N * sum of squares)
                    loss = loss + decay * tf.add_n([tf.reduce_sum(tf.square(k)) for k in decayed])
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            # What the fit's curves sum (read off values the step computed anyway; the weights never see them)
            summed = tf.reduce_sum(tf.cast(per_image, tf.float32))
            hits = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, axis=1), y), tf.float32))
            return loss, summed, hits

        @tf.function(
            input_signature=[image, tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int32),
                             tf.TensorSpec([None], tf.int32)],
            jit_compile=False,
        )
        def train_epoch(X, y, order, bounds):
            """One epoch of mini-batch steps in `order`, batch i being order[bounds[i]:bounds[i + 1]], as a graph
            loop: the same steps in the same order as a Python loop (bitwise the same weights), without ~0.3 ms of
            dispatch per step. Returns the last step's loss and the epoch's summed cross-entropy and hits."""
            loss, summed, hits = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
            for i in tf.range(tf.shape(bounds)[0] - 1):
                batch = order[bounds[i] : bounds[i + 1]]
                loss, batch_summed, batch_hits = train_step(tf.gather(X, batch), tf.gather(y, batch))
                summed += batch_summed
                hits += batch_hits
            return loss, summed, hits

        @tf.function(input_signature=[image])
        def infer(x):
            return model(x, training=False)

        @tf.function(input_signature=[image])
        def features(x):
            return prefix(x, training=False)

        @tf.function(input_signature=[image])
        def full_sample(x):
            return model(x, training=True)

        self._train_epoch = train_epoch
        self._infer = infer
        self._features = features
        self._full_sample = full_sample

    def tracing_counts(self) -> dict[str, int]:
        """How often each tf.function was traced: each should stay at 1 however N, T or n change."""
        fns = {"train_epoch": self._train_epoch, "infer": self._infer, "features": self._features,
               "full_sample": self._full_sample}
        counts = {name: fn.experimental_get_tracing_count() for name, fn in fns.items()}
        counts |= self._independent.tracing_counts() | self._consistent.tracing_counts()
        if self._checked is not None:
            counts["checked_infer"] = self._checked.tracing_count()
        return counts

    # ---- the samplers' state, as tests read it ----------------------------------------------------
    @property
    def _sparse_final(self) -> Any:
        """The output Dense the sparse kernel applies itself, or None."""
        return self._independent.sparse_final

    @property
    def _sparse_relu(self) -> bool | None:
        """Whether the sparse head's Dense is a ReLU; None where the sparse head does not apply."""
        return self._independent.sparse_relu

    @property
    def _compact_dense(self) -> Any:
        return self._independent.compact_dense

    # ---- state resets ---------------------------------------------------------------------------
    def reinitialise(self) -> None:
        """Fresh weights from each layer's own initialisers, zeroed Adam state, seeded dropout."""
        for layer in self._training.model.layers:
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
        self._seed_dropout(self._training_dropouts)  # a bfloat16 twin's (none in float32)

    def _seed_dropout(self, layers: list[Any] | None = None) -> None:
        for layer in self._dropouts if layers is None else layers:
            generator = getattr(layer, "seed_generator", None)  # Keras makes none for rate 0
            if generator is not None:
                generator.state.assign(seed_pair(self.rng))

    # ---- scikit-learn interface -----------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int | None = None) -> MCDropoutClassifier:
        """Train from fresh weights on all of X (what KerasClassifier.fit did), in the model's regime.

        With weight decay "auto" the model is trained once per value of WEIGHT_DECAY_GRID and the one
        with the best validation accuracy is kept (Gal et al. 2017 optimise it on a 100-point
        validation set); its C is in `last_weight_decay`. `epochs` overrides the regime's for this fit
        (bench's one-epoch warm-up). What it did is in `last_fit`.
        """
        started = time.perf_counter()
        epochs = self.epochs if epochs is None else epochs
        if self.weight_decay != "auto":
            self._fit_once(X, y, float(self.weight_decay), epochs)
            self.last_weight_decay = float(self.weight_decay) if self.weight_decay else None
        else:
            if self.validation is None:
                raise ValueError("weight decay 'auto' needs a validation set (validation > 0)")
            best: tuple[float, float, list[np.ndarray], int, Any] | None = None
            for c in WEIGHT_DECAY_GRID:
                self._fit_once(X, y, c, epochs)
                accuracy = self.last_validation_accuracy
                if best is None or accuracy > best[0]:
                    best = (accuracy, c, self.model.get_weights(), self.last_epochs, self._curves)
            self.model.set_weights(best[2])
            self.last_validation_accuracy, self.last_weight_decay, self.last_epochs = best[0], best[1], best[3]
            self._curves = best[4]
        images = int(len(X))
        draws = self.epoch_draws or images
        last_batch = batch_sizes(draws, self.batch_size, self.batching)[-1] if draws else 0
        self._last_fit = FitInfo(images, int(self.last_epochs), self.last_weight_decay,
                                 self.last_validation_accuracy, time.perf_counter() - started,
                                 self._curves[0], self._curves[1], last_batch)
        return self

    def _fit_once(self, X: np.ndarray, y: np.ndarray, c: float, epochs: int) -> None:
        """One training from fresh weights with L2 of c/N.

        Each epoch is one call of a traced graph loop over the mini-batches (cut as `batching` says) of an
        order drawn from `self.rng` (a permutation, or `epoch_draws` draws with repetition as in Kirsch et
        al. 2019): deterministic for a given rng, and between epochs Python gets control back for the
        pause/stop checkpoint, the progress callback and early stopping (best weights restored). The
        epoch's mean cross-entropy and accuracy go into `_curves`.
        """
        X = tf.constant(np.asarray(X, dtype=np.float32))
        y = tf.constant(np.asarray(y, dtype=np.int64))
        self.reinitialise()
        n = int(X.shape[0])
        self._decay.assign(c / n)
        draws = self.epoch_draws or n
        bounds = batch_bounds(draws, self.batch_size, self.batching)
        loss = tf.constant(0.0)
        losses: list[float] = []
        accuracies: list[float] = []
        best_accuracy, best_weights, waited = -1.0, None, 0
        epoch = 0
        for epoch in range(1, epochs + 1):
            if self.control is not None:
                self.control.checkpoint()
            order = self.rng.integers(0, n, size=self.epoch_draws) if self.epoch_draws else self.rng.permutation(n)
            loss, summed, hits = self._train_epoch(X, y, order.astype(np.int32), bounds)
            losses.append(float(summed) / max(draws, 1))
            accuracies.append(float(hits) / max(draws, 1))
            self._curves = (tuple(losses), tuple(accuracies))
            if self.on_epoch is not None:
                self.on_epoch(epoch, epochs)
            if self.early_stopping:
                self._training.sync()  # the float32 model validates
                accuracy = self._validation_accuracy()
                if accuracy > best_accuracy:
                    best_accuracy, best_weights, waited = accuracy, self.model.get_weights(), 0
                else:
                    waited += 1
                    if waited >= self.early_stopping:
                        break
        if not np.isfinite(float(loss)):
            raise FloatingPointError("training loss is not finite (NaN or inf); check the data")
        self._training.sync()  # the float32 model predicts and samples with the trained weights
        self.last_epochs = epoch
        if best_weights is not None:
            self.model.set_weights(best_weights)
            self.last_validation_accuracy = best_accuracy
        else:
            self.last_validation_accuracy = self._validation_accuracy() if self.validation is not None else None
        self.fitted = True

    def _validation_accuracy(self) -> float:
        if self.validation is None:
            raise ValueError("early stopping needs a validation set (validation > 0)")
        x_val, y_val = self.validation
        return float((self.predict_proba(x_val).argmax(axis=1) == y_val).mean())

    def predict_proba(self, X: np.ndarray, precision: str = "float32") -> np.ndarray:
        """Deterministic predictions (dropout off), batched; "bfloat16": the twin's, unchecked (tests compare)."""
        if precision == "bfloat16":
            return self._twin().probabilities(X, self._batched_classes)
        if precision != "float32":
            raise ValueError(f"predict_proba computes in float32 or bfloat16, not {precision!r}")
        return self._batched(self._infer, X, (self.n_classes,))

    def evaluate_proba(self, X: np.ndarray) -> np.ndarray:
        """[N, C] float32 probabilities, dropout off, in one pass: what a query is evaluated on.

        Accuracy is their argmax (the float32 labels `predict` gives, whatever its precision) and every test
        metric (`baltui.core.metrics`) comes from the same array, so the record's numbers are one model's, on
        any CPU. It is the float32 pass even where `predict` would use the bfloat16 twin: the twin saves
        arithmetic only on AMX CPUs, and its probabilities would make NLL and calibration depend on the CPU.
        """
        probs = self.predict_proba(X)
        self._last_evaluation = EvaluationInfo(int(len(X)), "float32", 0)
        return probs

    def predict(self, X: np.ndarray, precision: str | None = None) -> np.ndarray:
        """Class labels, always float32's: bfloat16 with float32 rechecks where that is faster.

        `precision` overrides the classifier's `eval_precision` for this call; `last_evaluation` says what ran.
        """
        if not self.checks_bfloat16(len(X), precision):
            labels = self.predict_proba(X).argmax(axis=1)
            self._last_evaluation = EvaluationInfo(int(len(X)), "float32", 0)
            return labels
        checked = self._twin()
        labels = checked.predict(X, self._batched_classes, self._infer)
        self._last_evaluation = EvaluationInfo(int(len(X)), "bfloat16", checked.last_rechecked)
        return labels

    def checks_bfloat16(self, n: int, precision: str | None = None) -> bool:
        """Whether `predict` on n images (at `precision`, default `eval_precision`) goes through the bfloat16
        twin with float32 rechecks."""
        precision = self._eval_precision if precision is None else precision
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "auto":
            return n >= CHECKED_MIN_IMAGES and cpu.amx_native()
        return precision == "bfloat16"

    def score(self, X: np.ndarray, y: np.ndarray, precision: str | None = None) -> float:
        return float((self.predict(X, precision) == np.asarray(y)).mean())

    def _twin(self) -> CheckedPredictor:
        if self._checked is None:
            self._checked = CheckedPredictor(self.model, tf)
        return self._checked

    def _batched_classes(self, fn: Any, X: np.ndarray) -> np.ndarray:
        return self._batched(fn, X, (self.n_classes,))

    def _batched(self, fn: Any, X: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
        """fn over X in EVAL_BATCH slices, written into one preallocated array."""
        X = np.asarray(X, dtype=np.float32)
        out = np.empty((len(X), *out_shape), dtype=np.float32)
        for i in range(0, len(X), EVAL_BATCH):
            out[i : i + EVAL_BATCH] = fn(X[i : i + EVAL_BATCH]).numpy()
        return out

    # ---- the last layer's input: BADGE and Core-set ----------------------------------------------
    @cached_property
    def _penultimate_pass(self) -> Any:
        """(h, probabilities) from one deterministic pass: h is the input of the last layer, a Dense.

        Traced once per classifier (open batch dimension), on first use: runs that never ask for h never
        trace it. Dropout is off (training=False), as in `predict_proba`.
        """
        layers = self.model.layers
        if not isinstance(layers[-1], keras.layers.Dense):
            raise ValueError(f"the penultimate features need a model ending in a Dense layer, not "
                             f"{type(layers[-1]).__name__}")
        body, last = layers[:-1], layers[-1]

        @tf.function(input_signature=[tf.TensorSpec([None, *self.input_shape], tf.float32)])
        def penultimate_pass(x):
            for layer in body:
                x = layer(x, training=False)
            return x, last(x, training=False)

        return penultimate_pass

    def penultimate_and_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N, D] h, the input of the last Dense layer, and [N, C] the probabilities, dropout off, in one pass.

        Not `_features`, which is the deterministic prefix before the first Dropout (what MC dropout reuses).
        """
        fn = self._penultimate_pass
        X = np.asarray(X, dtype=np.float32)
        width = int(self.model.layers[-1].kernel.shape[0])
        H = np.empty((len(X), width), dtype=np.float32)
        P = np.empty((len(X), self.n_classes), dtype=np.float32)
        for i in range(0, len(X), EVAL_BATCH):
            h, p = fn(X[i : i + EVAL_BATCH])
            H[i : i + EVAL_BATCH], P[i : i + EVAL_BATCH] = h.numpy(), p.numpy()
        return H, P

    def penultimate(self, X: np.ndarray) -> np.ndarray:
        """[N, D] h, the input of the last Dense layer, dropout off (Core-set's and BADGE's representation)."""
        return self.penultimate_and_proba(X)[0]

    def predict_proba_deterministic(self, X: np.ndarray) -> np.ndarray:
        """[N, C] probabilities with dropout off: what `predict_proba` already is (scikit-learn's name for it),
        named for readers who compare it with `mc_predict_proba`."""
        return self.predict_proba(X)

    # ---- MC dropout -----------------------------------------------------------------------------
    def mc_predict_proba(self, X: np.ndarray, T: int, seed: int | None = None, *, masks: str | None = None,
                         path: str = "auto") -> np.ndarray:
        """[T, N, C] probabilities with dropout on: deterministic prefix once, the head T times.

        The one place that chooses between consistent masks and independent ones (`masks`, default
        `mc_masks`), and the head that samples them (`path`: "auto" chooses; a name in INDEPENDENT_PATHS or
        CONSISTENT_PATHS forces it where it applies, and implies its mask mode). `last_sampling` says what
        ran. Independent masks sample the same distribution as `mc_predict_proba_full` (a mask per sample,
        point and feature); a different draw from it for the same seed, since the masks are laid out differently.
        """
        masks = self._masks_for(masks, path)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._seed_dropout()
        n = len(X)
        out = np.empty((T, n, self.n_classes), dtype=np.float32)
        if n == 0 or T == 0:
            self._last_sampling = SamplingInfo(masks, None, None, T, n)
            return out
        feats = self._batched(self._features, X, tuple(self.prefix.output_shape[1:]))
        density = float(np.count_nonzero(feats)) / feats.size
        if masks == "consistent":
            ran = self._consistent.choose_path(path)
            self._consistent.fill(out, feats, T, self.rng, EVAL_BATCH, ran)
        else:
            ran = self._independent.choose_path(path, density, T, n)
            self._independent.fill(out, feats, T, self.rng, ran)
        self._last_sampling = SamplingInfo(masks, ran, density, T, n)
        return out

    def _masks_for(self, masks: str | None, path: str) -> str:
        """The mask mode of a call: the one a forced path implies, else `masks`, else the classifier's."""
        implied = "independent" if path in INDEPENDENT_PATHS else "consistent" if path in CONSISTENT_PATHS else None
        if implied is None and path != "auto":
            raise ValueError(f"path must be auto or one of {', '.join(INDEPENDENT_PATHS + CONSISTENT_PATHS)}, "
                             f"got {path!r}")
        if masks is not None and masks not in MASK_MODES:
            raise ValueError(f"masks must be one of {', '.join(MASK_MODES)}, got {masks!r}")
        if masks is not None and implied is not None and masks != implied:
            raise ValueError(f"path {path} samples {implied} masks, not {masks}")
        return implied or masks or self._mc_masks

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
