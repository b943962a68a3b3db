"""The seed's Bayesian CNN, a scikit-learn style wrapper that modAL drives, and MC-dropout sampling.

The wrapper replaces Keras 2's `KerasClassifier` (gone in Keras 3) with the behaviour the seed relied
on: every `fit` starts from freshly initialised weights and trains on all labelled data. Unlike
rebuilding the model per fit, it re-draws the weights of one compiled model from its own initialisers,
which gives the same distribution without recompiling or retracing anything.

MC dropout (Gal & Ghahramani 2016) keeps dropout on at prediction time. Every layer before the first
stochastic layer is deterministic, so `mc_predict_proba` computes those features once and samples only
the stochastic head T times. Where the head starts `Dropout -> (Flatten) -> Dense`, as in the seed's
CNN, it goes further: a dropped feature and a zero feature contribute the same nothing, so each point
only needs masks for its non-zero features (about 45% of them after ReLU + max-pooling on MNIST), and
its T samples become one batched matmul `masks[T, K] @ (features * W)[K, H]`. Both change the cost,
never the distribution: every (sample, point, feature) still gets its own independent Bernoulli mask,
exactly as T full passes would draw them.

Costs on MNIST at T=100, 2,000 points (2 CPU cores): the seed's way is ~3.5 TFLOP of convolutions plus
775M dropout random numbers (~13 s); the compact head is one conv pass (33 GFLOP) plus ~87 GFLOP of
batched matmul and ~340M mask bytes (~1 s, much of it memory-bound mask/gather work that TensorFlow
cannot fuse on CPU); the sparse head (`sparse_head`, numba) does the same conv pass plus ~22 GFLOP of
row updates, and the output layer, in ~0.4 s. `baltui bench` measures them side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from baltui import sparse_head
from baltui.checked_eval import CheckedPredictor, bfloat16_is_native
from baltui.control import Control
from baltui.mc import consistent
from baltui.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import

# Images per call of the deterministic network (evaluation and the MC prefix). Measured on 2 cores:
# 512..5000 are within 4% of each other on MNIST; 2048 keeps the per-call overhead negligible.
EVAL_BATCH = 2048
# Rows (points x samples) per call of the stochastic head. Large enough that the ~25 calls per query
# cost nothing in dispatch, small enough that a chunk's mask and matmul operands (rows x K x 5 bytes,
# ~80 MB on MNIST) stay far from memory limits; 4k..16k rows measured within noise of each other.
MC_CHUNK_ROWS = 8192
# Points per call of the compact head: bounds its per-point weights (points x K x H floats, <= 250 MB
# on MNIST) when T is small and MC_CHUNK_ROWS alone would put every point in one call.
MC_COMPACT_POINTS = 128
# Layers that behave differently when training=True: the first of them starts the stochastic head.
STOCHASTIC_LAYERS: tuple[type, ...] = (
    keras.layers.Dropout,  # also SpatialDropout1D/2D/3D
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.AlphaDropout,
)
# Relative costs that choose between the two heads (measured on MNIST, 2 cores; see `_choose_path`):
# per (sample, feature) the tiled head costs 1 (mask, select, matmul row), the compact head 0.64 per
# (sample, non-zero feature) plus, once per point, 0.28 per gathered weight (non-zero features x units).
COMPACT_SAMPLE_COST = 0.64
COMPACT_GATHER_COST = 0.28
# The sparse head (`sparse_head`, numba) beats both from a few thousand (point, sample) pairs on, but
# compiles for ~20 s once per machine (later processes load it from numba's disk cache): "auto" takes
# it only for queries with at least this many (point x sample x non-zero feature) terms, ~0.2 s of
# compact-head work (MNIST at T=100: 3.7e8).
SPARSE_MIN_TERMS = 1e8
# Fewest images for which "auto" predicts with the bfloat16 twin (`checked_eval`): below a few
# thousand float32 takes milliseconds and the twin's second pass and rechecks are not worth it.
CHECKED_MIN_IMAGES = 2048
# C of weight decay C/N that "auto" tries per fit (log-spaced around the 3.5 of Gal et al.'s scripts).
WEIGHT_DECAY_GRID = (0.35, 1.0, 3.5, 10.0)
# Ways to draw MC-dropout masks (see `baltui.mc.consistent`).
MC_MASKS = ("consistent", "independent")
# Points x samples per call of the sparse head: bounds its [points, T, units] output (~130 MB here).
SPARSE_CHUNK_ROWS = 262_144


def build_cnn(input_shape: tuple[int, int, int], n_classes: int = 10, dropout: tuple[float, float] = (0.25, 0.5)):
    """The seed's architecture (kept here for callers of `baltui.model.build_cnn`)."""
    from baltui.models.seed import build

    return build(input_shape, n_classes, dropout)


def split_at_first_dropout(model) -> tuple[Any, Any]:
    """Deterministic prefix and stochastic head of a Sequential model, sharing its layers.

    The split is at the first layer that is random in training mode (Dropout and its spatial forms,
    GaussianDropout/Noise, AlphaDropout), so a changed architecture still splits correctly; without
    one, MC dropout would return T identical samples, which is an error rather than a silent result.
    """
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"MC dropout splitting needs a keras.Sequential model, got {type(model).__name__}")
    layers = list(model.layers)
    first = next((i for i, layer in enumerate(layers) if isinstance(layer, STOCHASTIC_LAYERS)), None)
    if first is None:
        raise ValueError("the model has no Dropout layer, so MC dropout would return T identical samples")
    prefix = keras.Sequential([keras.Input(shape=model.input_shape[1:]), *layers[:first]])
    head = keras.Sequential([keras.Input(shape=prefix.output_shape[1:]), *layers[first:]])
    return prefix, head


def keep_mask(shape: Any, rate: float, seed: Any) -> Any:
    """Independent Bernoulli(1 - rate) keep decisions for a tensor of `shape` (stateless, seeded).

    Keras keeps an element when a float32 uniform is >= rate: 32 random bits per element. When
    rate * 256 (or rate * 65536) is a whole number, as for the seed's 0.25 and 0.5, comparing one
    random byte (or 16-bit word) with rate * 256 gives exactly the same keep probability with 4x
    (2x) fewer random numbers, which is most of the cost of sampling 100 heads. Other rates use the
    float rule itself.
    """
    shape = tf.convert_to_tensor(shape, dtype=tf.int32)
    if rate <= 0.0:
        return tf.ones(shape, dtype=tf.bool)
    if rate >= 1.0:
        return tf.zeros(shape, dtype=tf.bool)
    for bits, dtype in ((8, tf.uint8), (16, tf.uint16)):
        threshold = rate * 2**bits
        if threshold != int(threshold):
            continue
        per_word = 32 // bits
        last = shape[-1]
        words = (last + per_word - 1) // per_word
        raw = tf.random.stateless_uniform(
            tf.concat([shape[:-1], [words]], 0), seed, minval=None, maxval=None, dtype=tf.int32
        )
        units = tf.reshape(tf.bitcast(raw, dtype), tf.concat([shape[:-1], [words * per_word]], 0))
        return units[..., :last] >= tf.constant(int(threshold), dtype)  # an identity slice is free
    return tf.random.stateless_uniform(shape, seed) >= rate


def _is_plain_dropout(layer: Any) -> bool:
    """A Dropout whose masks are element-wise (no noise_shape, not a spatial subclass)."""
    return type(layer) is keras.layers.Dropout and layer.noise_shape is None


def _activation_name(layer: Any) -> str:
    """"relu", "softmax" or "linear" only for Keras's own functions (a user's function of the same
    name may compute something else), "" for anything else."""
    known = {"relu": keras.activations.relu, "softmax": keras.activations.softmax, "linear": keras.activations.linear}
    if layer.activation is None:
        return "linear"
    return next((name for name, fn in known.items() if layer.activation is fn), "")


def _is_plain_dense(layer: Any) -> bool:
    """A float32 Dense computed as x @ kernel + bias: not LoRA, not quantized, not mixed precision."""
    return type(layer) is keras.layers.Dense and not getattr(layer, "lora_enabled", False) and (
        layer.kernel.dtype == "float32" and getattr(layer, "quantization_mode", None) is None
        and layer.compute_dtype == "float32"
    )


def _compact_head_start(head_layers: Sequence[Any]) -> int | None:
    """Index of the Dense that a plain Dropout feeds (through at most a Flatten), else None."""
    if not head_layers or not _is_plain_dropout(head_layers[0]):
        return None
    i = 1
    if i < len(head_layers) and isinstance(head_layers[i], keras.layers.Flatten):
        if getattr(head_layers[i], "data_format", "channels_last") != "channels_last":
            return None
        i += 1
    if i < len(head_layers) and _is_plain_dense(head_layers[i]):
        return i
    return None


def compact_rows(flat: np.ndarray, nonzero: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's non-zero (column, value) pairs, left-aligned and zero-padded to a multiple of 4.

    The padding entries have value 0, so whatever mask they get they add nothing; the width is a
    multiple of 4 so the byte masks need no trimming copy.
    """
    width = max(4, -(-int(counts.max(initial=0)) // 4) * 4)
    rows, cols = np.nonzero(nonzero)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(rows)) - starts[rows]
    idx = np.zeros((len(flat), width), dtype=np.int32)
    vals = np.zeros((len(flat), width), dtype=np.float32)
    idx[rows, pos] = cols
    vals[rows, pos] = flat[rows, cols]
    return idx, vals


def _bias_of(layer: Any) -> np.ndarray:
    """A Dense layer's bias as float32 numpy, zeros when it has none."""
    if layer.bias is None:
        return np.zeros(layer.units, dtype=np.float32)
    return layer.bias.numpy()


def _seed_pair(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2**31 - 1, size=2, dtype=np.int64)


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
        mc_masks: str = "independent",
        weight_decay: float | str = 0.0,
        epoch_draws: int = 0,
        early_stopping: int = 0,
    ) -> None:
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.classes_ = np.arange(n_classes)
        self.epochs = epochs
        self.batch_size = batch_size
        self.control = control
        self.on_epoch = on_epoch
        self.rng = np.random.default_rng(0)
        # Training regime (see `fit`): L2 of C/N on the Dense kernels (C, or "auto": chosen per fit on the
        # validation set from WEIGHT_DECAY_GRID); epochs of `epoch_draws` draws with repetition (0: one
        # pass over a permutation); early stopping on validation accuracy with this patience (0: off).
        self.weight_decay = weight_decay
        self.epoch_draws = epoch_draws
        self.early_stopping = early_stopping
        self.validation: tuple[np.ndarray, np.ndarray] | None = None
        self.last_weight_decay: float | None = None
        self.last_validation_accuracy: float | None = None
        self.last_epochs: int | None = None
        self._decay = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.model = model_fn(self.input_shape, n_classes)
        self.prefix, self.head = split_at_first_dropout(self.model)
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        self._dropouts = [layer for layer in self.model.layers if isinstance(layer, STOCHASTIC_LAYERS)]
        head_layers = list(self.head.layers)
        self._dense_at = _compact_head_start(head_layers)
        self._head_layers = head_layers
        # "consistent": one dropout mask per sample for every point of a call (BatchBALD needs it);
        # "independent": a mask per (sample, point), as T separate passes per point would draw.
        if mc_masks not in MC_MASKS:
            raise ValueError(f"mc_masks must be one of {', '.join(MC_MASKS)}, got {mc_masks!r}")
        self.mc_masks = mc_masks
        # "auto" picks per call; tests and `baltui bench` may force "compact" or "tiled" (independent masks).
        self.mc_path = "auto"
        self.last_mc_path: str | None = None
        # Share of non-zero prefix features in the last mc_predict_proba call (what the compact head saves).
        self.last_mc_density: float | None = None
        self._compile_functions()
        self.fitted = False
        # "auto": predict()/score() use the bfloat16 twin with float32 rechecks where the CPU runs
        # bfloat16 natively (see checked_eval); "float32" or "bfloat16" force one way (bench, tests).
        self.eval_precision = "auto"
        self._checked: CheckedPredictor | None = None

    # ---- compiled functions: traced once per classifier, with shapes left open -------------------
    def _compile_functions(self) -> None:
        image = tf.TensorSpec([None, *self.input_shape], tf.float32)
        feature_shape = tuple(self.prefix.output_shape[1:])
        feature = tf.TensorSpec([None, *feature_shape], tf.float32)
        count = tf.TensorSpec([], tf.int32)
        seed = tf.TensorSpec([2], tf.int64)
        model, prefix, optimizer = self.model, self.prefix, self.optimizer
        variables = model.trainable_variables
        n_classes = self.n_classes
        head_layers = self._head_layers
        # Only a run with weight decay has the term in its graph: without it training is bitwise the seed's.
        decayed = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        if self.weight_decay in (0, 0.0):
            decayed = []
        decay = self._decay

        def train_step(x, y):
            with tf.GradientTape() as tape:
                probs = model(x, training=True)
                # The seed used categorical cross-entropy on one-hot labels: the same loss.
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
                if decayed:  # Gal et al.'s L2 of C/N (Keras's l2(C/N): C/N * sum of squares)
                    loss = loss + decay * tf.add_n([tf.reduce_sum(tf.square(k)) for k in decayed])
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        @tf.function(
            input_signature=[image, tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int32), count],
            jit_compile=False,
        )
        def train_epoch(X, y, order, batch_size):
            """One epoch of mini-batch steps in `order`, as a graph loop: the same steps in the same
            order as a Python loop (bitwise the same weights), without ~0.3 ms of dispatch per step."""
            loss = tf.constant(0.0)
            for start in tf.range(0, tf.shape(order)[0], batch_size):
                batch = order[start : start + batch_size]
                loss = train_step(tf.gather(X, batch), tf.gather(y, batch))
            return loss

        @tf.function(input_signature=[image])
        def infer(x):
            return model(x, training=False)

        @tf.function(input_signature=[image])
        def features(x):
            return prefix(x, training=False)

        @tf.function(input_signature=[image])
        def full_sample(x):
            return model(x, training=True)

        def apply_stochastic(layers, x, seeds):
            """Run `layers` in training mode; plain Dropouts draw their masks from `seeds`."""
            i = 0
            for layer in layers:
                if _is_plain_dropout(layer):
                    keep = keep_mask(tf.shape(x), float(layer.rate), seeds[i])
                    x = tf.where(keep, x * (1.0 / (1.0 - layer.rate)), tf.zeros_like(x))
                    i += 1
                else:  # other random layers use their own seed generators (seeded per call)
                    x = layer(x, training=True)
            return x

        n_plain = sum(_is_plain_dropout(layer) for layer in head_layers)

        @tf.function(input_signature=[feature, count, seed])
        def tiled_sample(f, k, seed):
            """k head samples for each of the B points in f: [B, k, C]; the tiling happens here."""
            b = tf.shape(f)[0]
            seeds = tf.random.experimental.stateless_split(seed, max(n_plain, 1))
            tiled = tf.broadcast_to(f[:, None], tf.concat([[b, k], tf.shape(f)[1:]], 0))
            x = tf.reshape(tiled, tf.concat([[b * k], tf.shape(f)[1:]], 0))
            return tf.reshape(apply_stochastic(head_layers, x, seeds), [b, k, n_classes])

        self._masked_head: Any = None  # built with the head's mask shapes on first consistent use
        self._mask_shapes: list[tuple[tuple[int, ...], float]] | None = None
        self._consistent_dense = False
        self._train_epoch = train_epoch
        self._infer = infer
        self._features = features
        self._full_sample = full_sample
        self._tiled_sample = tiled_sample
        self._compact_sample = None
        self._compact_dense = None
        self._rest_sample = None
        self._sparse_relu = None  # set below when the sparse head applies: is its Dense a ReLU?
        self._sparse_final = None  # the output Dense the sparse kernel applies itself, if it can
        if self._dense_at is None:
            return

        dropout, dense = head_layers[0], head_layers[self._dense_at]
        rest = head_layers[self._dense_at + 1 :]
        rate, scale = float(dropout.rate), 1.0 / (1.0 - float(dropout.rate))
        index = tf.TensorSpec([None, None], tf.int32)
        value = tf.TensorSpec([None, None], tf.float32)
        n_rest = sum(_is_plain_dropout(layer) for layer in rest)

        @tf.function(input_signature=[index, value, tf.TensorSpec([None, None, None], tf.bool)])
        def compact_dense(idx, vals, keep):
            """dense(dropout(x)) for B points x k masks, from each point's non-zero features only.

            keep[b, s, j] is the mask of feature idx[b, j] in sample s; scaling by 1/(1-rate) and
            the weight product are done once per point, the k samples are one batched matmul.
            """
            weights = tf.gather(dense.kernel, idx) * (vals * scale)[..., None]  # [B, K, H]
            z = tf.linalg.matmul(tf.cast(keep, weights.dtype), weights)  # [B, k, H]
            if dense.bias is not None:
                z = z + dense.bias
            return dense.activation(z) if dense.activation is not None else z

        @tf.function(input_signature=[index, value, count, seed])
        def compact_sample(idx, vals, k, seed):
            b, width = tf.shape(idx)[0], tf.shape(idx)[1]
            seeds = tf.random.experimental.stateless_split(seed, n_rest + 1)
            keep = keep_mask(tf.stack([b, k, width]), rate, seeds[0])
            h = compact_dense(idx, vals, keep)
            h = tf.reshape(h, tf.concat([[b * k], tf.shape(h)[2:]], 0))
            return tf.reshape(apply_stochastic(rest, h, seeds[1:]), [b, k, n_classes])

        # The sparse head also draws a plain Dropout right after the Dense (the seed's 0.5) itself.
        folded = 1 if rest and _is_plain_dropout(rest[0]) else 0
        self._sparse_out_rate = float(rest[0].rate) if folded else 0.0
        after = rest[folded:]
        n_after = sum(_is_plain_dropout(layer) for layer in after)

        @tf.function(input_signature=[value, seed])
        def rest_sample(h, seed):
            """The layers after the sparse head's part, in training mode, on [rows, units]."""
            seeds = tf.random.experimental.stateless_split(seed, max(n_after, 1))
            return apply_stochastic(after, h, seeds)

        self._compact_dense = compact_dense
        self._compact_sample = compact_sample
        self._rest_sample = rest_sample
        # The seed's head ends Dense(10, softmax): the sparse kernel applies that itself.
        last = after[0] if len(after) == 1 else None
        fusable = last is not None and _is_plain_dense(last)
        self._sparse_final = last if fusable and _activation_name(last) in sparse_head.FINAL_ACTIVATIONS else None
        activation = _activation_name(dense)
        self._consistent_dense = activation in ("relu", "linear") and rate < 1.0 and self._sparse_final is not None
        if activation in ("relu", "linear") and 0.0 < rate < 1.0 and sparse_head.available():
            self._sparse_relu: bool | None = activation == "relu"

    def tracing_counts(self) -> dict[str, int]:
        """How often each tf.function was traced: each should stay at 1 however N, T or n change."""
        fns = {
            "train_epoch": self._train_epoch, "infer": self._infer, "features": self._features,
            "full_sample": self._full_sample, "tiled_sample": self._tiled_sample,
            "compact_sample": self._compact_sample, "compact_dense": self._compact_dense,
            "rest_sample": self._rest_sample, "masked_head": self._masked_head,
        }
        counts = {name: fn.experimental_get_tracing_count() for name, fn in fns.items() if fn is not None}
        if self._checked is not None:
            counts["checked_infer"] = self._checked.tracing_count()
        return counts

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
            generator = getattr(layer, "seed_generator", None)  # Keras makes none for rate 0
            if generator is not None:
                generator.state.assign(_seed_pair(self.rng))

    # ---- scikit-learn interface -----------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> MCDropoutClassifier:
        """Train from fresh weights on all of X (what KerasClassifier.fit did), in the model's regime.

        With weight decay "auto" the model is trained once per value of WEIGHT_DECAY_GRID and the one
        with the best validation accuracy is kept (Gal et al. 2017 optimise it on a 100-point
        validation set); its C is in `last_weight_decay`.
        """
        if self.weight_decay != "auto":
            self._fit_once(X, y, float(self.weight_decay))
            self.last_weight_decay = float(self.weight_decay) if self.weight_decay else None
            return self
        if self.validation is None:
            raise ValueError("weight decay 'auto' needs a validation set (validation > 0)")
        best: tuple[float, float, list[np.ndarray], int] | None = None
        for c in WEIGHT_DECAY_GRID:
            self._fit_once(X, y, c)
            accuracy = self.last_validation_accuracy
            if best is None or accuracy > best[0]:
                best = (accuracy, c, self.model.get_weights(), self.last_epochs)
        self.model.set_weights(best[2])
        self.last_validation_accuracy, self.last_weight_decay, self.last_epochs = best[0], best[1], best[3]
        return self

    def _fit_once(self, X: np.ndarray, y: np.ndarray, c: float) -> None:
        """One training from fresh weights with L2 of c/N.

        Each epoch is one call of a traced graph loop over the mini-batches of an order drawn from
        `self.rng` (a permutation, or `epoch_draws` draws with repetition as in Kirsch et al. 2019):
        deterministic for a given rng, and between epochs Python gets control back for the
        pause/stop checkpoint, the progress callback and early stopping (best weights restored).
        """
        X = tf.constant(np.asarray(X, dtype=np.float32))
        y = tf.constant(np.asarray(y, dtype=np.int64))
        self.reinitialise()
        n = int(X.shape[0])
        self._decay.assign(c / n)
        batch_size = np.int32(self.batch_size)
        loss = tf.constant(0.0)
        best_accuracy, best_weights, waited = -1.0, None, 0
        epoch = 0
        for epoch in range(1, self.epochs + 1):
            if self.control is not None:
                self.control.checkpoint()
            order = self.rng.integers(0, n, size=self.epoch_draws) if self.epoch_draws else self.rng.permutation(n)
            loss = self._train_epoch(X, y, order.astype(np.int32), batch_size)
            if self.on_epoch is not None:
                self.on_epoch(epoch, self.epochs)
            if self.early_stopping:
                accuracy = self._validation_accuracy()
                if accuracy > best_accuracy:
                    best_accuracy, best_weights, waited = accuracy, self.model.get_weights(), 0
                else:
                    waited += 1
                    if waited >= self.early_stopping:
                        break
        if not np.isfinite(float(loss)):
            raise FloatingPointError("training loss is not finite (NaN or inf); check the data")
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

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Deterministic predictions (dropout off), batched."""
        return self._batched(self._infer, X, (self.n_classes,))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels, always float32's: bfloat16 with float32 rechecks where that is faster."""
        if not self.checks_bfloat16(len(X)):
            return self.predict_proba(X).argmax(axis=1)
        if self._checked is None:
            self._checked = CheckedPredictor(self.model, tf)
        return self._checked.predict(X, lambda fn, x: self._batched(fn, x, (self.n_classes,)), self._infer)

    def checks_bfloat16(self, n: int) -> bool:
        """Whether `predict` on n images goes through the bfloat16 twin with float32 rechecks."""
        if self.eval_precision == "auto":
            return n >= CHECKED_MIN_IMAGES and bfloat16_is_native()
        return self.eval_precision == "bfloat16"

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    def _batched(self, fn: Any, X: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
        """fn over X in EVAL_BATCH slices, written into one preallocated array."""
        X = np.asarray(X, dtype=np.float32)
        out = np.empty((len(X), *out_shape), dtype=np.float32)
        for i in range(0, len(X), EVAL_BATCH):
            out[i : i + EVAL_BATCH] = fn(X[i : i + EVAL_BATCH]).numpy()
        return out

    # ---- MC dropout -----------------------------------------------------------------------------
    def mc_predict_proba(self, X: np.ndarray, T: int, seed: int | None = None) -> np.ndarray:
        """[T, N, C] probabilities with dropout on: deterministic prefix once, the head T times.

        Same distribution as `mc_predict_proba_full` (independent masks per sample, point and
        feature); a different draw from it for the same seed, since the masks are laid out differently.
        """
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._seed_dropout()
        n = len(X)
        out = np.empty((T, n, self.n_classes), dtype=np.float32)
        if n == 0 or T == 0:
            self.last_mc_path = self.last_mc_density = None
            return out
        feats = self._batched(self._features, X, tuple(self.prefix.output_shape[1:]))
        if self.mc_masks == "consistent":
            self.last_mc_density = float(np.count_nonzero(feats)) / feats.size
            self._consistent_fill(out, feats, T)
            return out
        k = min(T, MC_CHUNK_ROWS)  # samples per call
        per_call = max(1, MC_CHUNK_ROWS // k)  # points per call
        density = float(np.count_nonzero(feats)) / feats.size
        path = self._choose_path(density, T, n)
        self.last_mc_path, self.last_mc_density = path, density
        if path == "sparse":
            self._sparse_fill(out, feats.reshape(n, -1), T)
        elif path == "compact":
            flat = feats.reshape(n, -1)
            nonzero = flat != 0
            counts = nonzero.sum(axis=1)
            order = np.argsort(counts, kind="stable")  # similar widths share a chunk: little padding
            per_call = min(per_call, MC_COMPACT_POINTS)
            for s in range(0, n, per_call):
                pts = order[s : s + per_call]
                idx, vals = compact_rows(flat[pts], nonzero[pts], counts[pts])
                self._fill(out, pts, T, k, lambda kk, sd, idx=idx, vals=vals: self._compact_sample(idx, vals, kk, sd))
        else:
            for s in range(0, n, per_call):
                pts = np.arange(s, min(n, s + per_call))
                chunk = feats[s : s + per_call]
                self._fill(out, pts, T, k, lambda kk, sd, chunk=chunk: self._tiled_sample(chunk, kk, sd))
        return out

    def _consistent_fill(self, out: np.ndarray, feats: np.ndarray, T: int) -> None:
        """Consistent masks: one mask per (sample, Dropout layer), drawn here once for all points.

        The seed's head (Dropout, Flatten, Dense, Dropout, Dense) is a few GEMMs per sample in numpy
        (`consistent.dense_head`); any other head of Dropout layers runs in TensorFlow with each
        sample's masks broadcast over the points.
        """
        checkpoint = self.control.checkpoint if self.control is not None else (lambda: None)
        if self._consistent_dense:
            dropout, dense = self._head_layers[0], self._head_layers[self._dense_at]
            last = self._sparse_final
            keep = consistent.keep_masks(self.rng, T, (dense.kernel.shape[0],), float(dropout.rate))
            keep_out = None
            if self._sparse_out_rate:
                keep_out = consistent.keep_masks(self.rng, T, (dense.units,), self._sparse_out_rate)
            self.last_mc_path = "consistent-dense"
            out[...] = consistent.dense_head(
                feats.reshape(len(feats), -1), dense.kernel.numpy(), _bias_of(dense), _activation_name(dense),
                keep, float(dropout.rate), keep_out, self._sparse_out_rate, last.kernel.numpy(), _bias_of(last),
                _activation_name(last), checkpoint,
            )
            return
        masks = [consistent.keep_masks(self.rng, T, shape, rate).astype(np.float32) / np.float32(1.0 - rate)
                 for shape, rate in self._consistent_masks()]
        self.last_mc_path = "consistent-tf"
        for t in range(T):
            checkpoint()
            sample = [tf.constant(m[t][None]) for m in masks]
            for start in range(0, len(feats), EVAL_BATCH):
                chunk = feats[start : start + EVAL_BATCH]
                out[t, start : start + EVAL_BATCH] = self._masked_head(chunk, sample).numpy()

    def _consistent_masks(self) -> list[tuple[tuple[int, ...], float]]:
        """(mask shape without the batch axis, rate) of each Dropout of the head, in order.

        A spatial Dropout's mask covers whole channels, so its shape has 1 for the spatial axes.
        """
        if self._mask_shapes is None:
            shapes = []
            x = tf.zeros([1, *self.prefix.output_shape[1:]])
            for layer in self._head_layers:
                if isinstance(layer, keras.layers.Dropout):
                    noise = layer._get_noise_shape(x) if type(layer) is not keras.layers.Dropout else None
                    shape = tuple(int(d) for d in (noise if noise is not None else x.shape))[1:]
                    shapes.append((shape, float(layer.rate)))
                elif isinstance(layer, STOCHASTIC_LAYERS):
                    raise ValueError(
                        f"consistent MC dropout supports Dropout layers only, not {type(layer).__name__}; "
                        "use --mc-masks independent"
                    )
                x = layer(x, training=False)
            self._mask_shapes = shapes
            self._masked_head = self._compile_masked_head(shapes)
        return self._mask_shapes

    def _compile_masked_head(self, shapes: list[tuple[tuple[int, ...], float]]) -> Any:
        """The head on features with each Dropout's mask given (scaled, broadcast over the points)."""
        head_layers = self._head_layers
        feature = tf.TensorSpec([None, *self.prefix.output_shape[1:]], tf.float32)
        masks_spec = [tf.TensorSpec([1, *shape], tf.float32) for shape, _ in shapes]

        @tf.function(input_signature=[feature, masks_spec])
        def masked_head(f, masks):
            x, i = f, 0
            for layer in head_layers:
                if isinstance(layer, keras.layers.Dropout):
                    x = x * masks[i]
                    i += 1
                else:
                    x = layer(x, training=False)
            return x

        return masked_head

    def _fill(self, out: np.ndarray, pts: np.ndarray, T: int, k: int, sample: Callable[[int, Any], Any]) -> None:
        for t in range(0, T, k):
            if self.control is not None:
                self.control.checkpoint()
            kk = min(k, T - t)
            probs = sample(np.int32(kk), _seed_pair(self.rng)).numpy()  # [B, kk, C]
            out[t : t + kk, pts] = probs.transpose(1, 0, 2)

    def _sparse_fill(self, out: np.ndarray, flat: np.ndarray, T: int) -> None:
        """The sparse head: Dropout, Dense, a following Dropout and (where it is a plain linear or softmax
        Dense) the output layer in numba; any other layers after them in TensorFlow."""
        dropout, dense = self._head_layers[0], self._head_layers[self._dense_at]
        kernel = dense.kernel.numpy()
        bias = None if dense.bias is None else dense.bias.numpy()
        per_call = max(1, SPARSE_CHUNK_ROWS // T)
        last = self._sparse_final
        final = None if last is None else (
            last.kernel.numpy(), None if last.bias is None else last.bias.numpy(), _activation_name(last))
        seed = int(self.rng.integers(2**62))  # one for the call: `first` numbers the points across chunks
        for start in range(0, len(flat), per_call):
            if self.control is not None:
                self.control.checkpoint()
            chunk = flat[start : start + per_call]
            h = sparse_head.sample_first_dense(chunk, kernel, bias, T, float(dropout.rate), bool(self._sparse_relu),
                                               seed, first=start, out_rate=self._sparse_out_rate, final=final)
            if final is None:
                h = self._rest_sample(h.reshape(len(chunk) * T, -1), _seed_pair(self.rng)).numpy()
            out[:, start : start + len(chunk)] = h.reshape(len(chunk), T, -1).transpose(1, 0, 2)

    def _choose_path(self, density: float, T: int, n: int = 0) -> str:
        """The cheapest head that applies (all three sample the same distribution).

        - sparse (numba, `sparse_head`): a quarter of the compact head's arithmetic at rate 0.25 and
          no mask tensor, ~2x faster on MNIST at T=100; taken for at least SPARSE_MIN_TERMS terms,
          so a small query never waits for its first compilation;
        - compact vs tiled: per point, tiled ~ T x F and compact ~ 0.28 x d x F x H + 0.64 x T x d x F
          for a share d of non-zero features and H units: compact wins for T above ~20 at MNIST's
          d = 0.44, only above ~100 for dense features, and never for T of a few.

        `mc_path` forces one ("sparse" falls back to "compact" where the head's Dense is not ReLU or
        linear); "auto" chooses.
        """
        if self._compact_sample is None or self.mc_path == "tiled":
            return "tiled"
        sparse_ok = self._sparse_relu is not None
        if self.mc_path == "sparse":
            return "sparse" if sparse_ok else "compact"
        if self.mc_path == "compact":
            return "compact"
        features = int(np.prod(self.prefix.output_shape[1:]))
        if sparse_ok and n * T * density * features >= SPARSE_MIN_TERMS:
            return "sparse"
        units = int(self._head_layers[self._dense_at].units)
        compact = COMPACT_GATHER_COST * density * units + COMPACT_SAMPLE_COST * T * density
        return "compact" if compact < T else "tiled"

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
