"""Independent-mask MC dropout: T samples of the stochastic head, with a mask per (sample, point, feature).

The classifier computes the deterministic prefix's features once (`layers.split_at_first_dropout`);
`IndependentSampler` samples the head on them T times in one of three ways, which change the cost,
never the distribution: every (sample, point, feature) gets its own independent Bernoulli mask,
exactly as T full passes would draw them.

- tiled: the head in TensorFlow on each point's features repeated k times; any head.
- compact: where the head starts `Dropout -> (Flatten) -> Dense`, as in the seed's CNN. A dropped
  feature and a zero feature contribute the same nothing, so each point only needs masks for its
  non-zero features (about 45% of them after ReLU + max-pooling on MNIST), and its T samples become
  one batched matmul `masks[T, K] @ (features * W)[K, H]`.
- sparse (`baltui.core.mc.sparse_head`, numba): the same Dense from the no-dropout sum minus each sample's
  dropped features, then the following Dropout and output layer in the same kernel.

Costs on MNIST at T=100, 2,000 points (2 CPU cores): the seed's way is ~3.5 TFLOP of convolutions plus
775M dropout random numbers (~13 s); the compact head is one conv pass (33 GFLOP) plus ~87 GFLOP of
batched matmul and ~340M mask bytes (~1 s, much of it memory-bound mask/gather work that TensorFlow
cannot fuse on CPU); the sparse head does the same conv pass plus ~22 GFLOP of row updates, and the
output layer, in ~0.4 s. `baltui bench` measures them side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from baltui.core.control import Control
from baltui.core.mc import sparse_head
from baltui.core.mc.layers import DropoutDense, activation_name, dropout_dense, is_plain_dropout
from baltui.core.mc.masks import compact_rows, keep_mask, seed_pair
from baltui.core.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()

# Rows (points x samples) per call of the stochastic head. Large enough that the ~25 calls per query
# cost nothing in dispatch, small enough that a chunk's mask and matmul operands (rows x K x 5 bytes,
# ~80 MB on MNIST) stay far from memory limits; 4k..16k rows measured within noise of each other.
MC_CHUNK_ROWS = 8192
# Points per call of the compact head: bounds its per-point weights (points x K x H floats, <= 250 MB
# on MNIST) when T is small and MC_CHUNK_ROWS alone would put every point in one call.
MC_COMPACT_POINTS = 128
# Relative costs that choose between the two heads (measured on MNIST, 2 cores; see `choose_path`):
# per (sample, feature) the tiled head costs 1 (mask, select, matmul row), the compact head 0.64 per
# (sample, non-zero feature) plus, once per point, 0.28 per gathered weight (non-zero features x units).
COMPACT_SAMPLE_COST = 0.64
COMPACT_GATHER_COST = 0.28
# The sparse head (`sparse_head`, numba) beats both from a few thousand (point, sample) pairs on, but
# compiles for ~20 s once per machine (later processes load it from numba's disk cache): "auto" takes
# it only for queries with at least this many (point x sample x non-zero feature) terms, ~0.2 s of
# compact-head work (MNIST at T=100: 3.7e8).
SPARSE_MIN_TERMS = 1e8
# Points x samples per call of the sparse head: bounds its [points, T, units] output (~130 MB here).
SPARSE_CHUNK_ROWS = 262_144


def apply_stochastic(layers: Sequence[Any], x: Any, seeds: Any) -> Any:
    """Run `layers` in training mode; plain Dropouts draw their masks from `seeds`."""
    i = 0
    for layer in layers:
        if is_plain_dropout(layer):
            keep = keep_mask(tf.shape(x), float(layer.rate), seeds[i])
            x = tf.where(keep, x * (1.0 / (1.0 - layer.rate)), tf.zeros_like(x))
            i += 1
        else:  # other random layers use their own seed generators (seeded per call)
            x = layer(x, training=True)
    return x


class IndependentSampler:
    """The compiled independent-mask heads of one model, traced once with open batch dimensions.

    `fill` writes [T, N, C] samples for the prefix features of N points; `choose_path` picks the head.
    All randomness comes from the `rng` passed to `fill`.
    """

    def __init__(self, head_layers: Sequence[Any], feature_shape: Sequence[int], n_classes: int,
                 control: Control | None = None) -> None:
        self.head_layers = list(head_layers)
        self.feature_shape = tuple(feature_shape)
        self.n_classes = n_classes
        self.control = control
        # Called before the sparse kernel's first use in this process (a load, or a ~20 s compile).
        self.on_compile: Callable[[], None] | None = None
        self.plan: DropoutDense | None = dropout_dense(self.head_layers)
        self.tiled_sample = self._compile_tiled()
        self.compact_dense: Any = None
        self.compact_sample: Any = None
        self.rest_sample: Any = None
        self.sparse_relu: bool | None = None  # set when the sparse head applies: is its Dense a ReLU?
        if self.plan is None:
            return
        self.compact_dense, self.compact_sample, self.rest_sample = self._compile_compact(self.plan)
        activation, rate = activation_name(self.plan.dense), self.plan.rate
        if activation in ("relu", "linear") and 0.0 < rate < 1.0 and sparse_head.available():
            self.sparse_relu = activation == "relu"

    @property
    def sparse_final(self) -> Any:
        """The output Dense the sparse kernel applies itself, if it can (None: TensorFlow does)."""
        return None if self.plan is None else self.plan.final

    # ---- compiled heads -------------------------------------------------------------------------
    def _compile_tiled(self) -> Any:
        head_layers, n_classes = self.head_layers, self.n_classes
        n_plain = sum(is_plain_dropout(layer) for layer in head_layers)
        feature = tf.TensorSpec([None, *self.feature_shape], tf.float32)

        @tf.function(input_signature=[feature, tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int64)])
        def tiled_sample(f, k, seed):
            """k head samples for each of the B points in f: [B, k, C]; the tiling happens here."""
            b = tf.shape(f)[0]
            seeds = tf.random.experimental.stateless_split(seed, max(n_plain, 1))
            tiled = tf.broadcast_to(f[:, None], tf.concat([[b, k], tf.shape(f)[1:]], 0))
            x = tf.reshape(tiled, tf.concat([[b * k], tf.shape(f)[1:]], 0))
            return tf.reshape(apply_stochastic(head_layers, x, seeds), [b, k, n_classes])

        return tiled_sample

    def _compile_compact(self, plan: DropoutDense) -> tuple[Any, Any, Any]:
        """(compact_dense, compact_sample, rest_sample) for a head that starts Dropout -> (Flatten) -> Dense."""
        dense, rest, after, n_classes = plan.dense, plan.rest, plan.after, self.n_classes
        rate, scale = plan.rate, 1.0 / (1.0 - plan.rate)
        index = tf.TensorSpec([None, None], tf.int32)
        value = tf.TensorSpec([None, None], tf.float32)
        count = tf.TensorSpec([], tf.int32)
        seed = tf.TensorSpec([2], tf.int64)
        n_rest = sum(is_plain_dropout(layer) for layer in rest)

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

        # What the sparse kernel leaves to TensorFlow: the layers after the Dense and a plain Dropout right
        # after it (the seed's 0.5), which the kernel draws itself.
        n_after = sum(is_plain_dropout(layer) for layer in after)

        @tf.function(input_signature=[value, seed])
        def rest_sample(h, seed):
            """The layers after the sparse head's part, in training mode, on [rows, units]."""
            seeds = tf.random.experimental.stateless_split(seed, max(n_after, 1))
            return apply_stochastic(after, h, seeds)

        return compact_dense, compact_sample, rest_sample

    def tracing_counts(self) -> dict[str, int]:
        fns = {"tiled_sample": self.tiled_sample, "compact_sample": self.compact_sample,
               "compact_dense": self.compact_dense, "rest_sample": self.rest_sample}
        return {name: fn.experimental_get_tracing_count() for name, fn in fns.items() if fn is not None}

    # ---- which head -----------------------------------------------------------------------------
    def choose_path(self, mode: str, density: float, T: int, n: int = 0) -> str:
        """The cheapest head that applies (all three sample the same distribution).

        - sparse (numba, `sparse_head`): a quarter of the compact head's arithmetic at rate 0.25 and
          no mask tensor, ~2x faster on MNIST at T=100; taken for at least SPARSE_MIN_TERMS terms,
          so a small query never waits for its first compilation;
        - compact vs tiled: per point, tiled ~ T x F and compact ~ 0.28 x d x F x H + 0.64 x T x d x F
          for a share d of non-zero features and H units: compact wins for T above ~20 at MNIST's
          d = 0.44, only above ~100 for dense features, and never for T of a few.

        `mode` forces one ("sparse" falls back to "compact" where the head's Dense is not ReLU or
        linear); "auto" chooses.
        """
        if self.compact_sample is None or mode == "tiled":
            return "tiled"
        sparse_ok = self.sparse_relu is not None
        if mode == "sparse":
            return "sparse" if sparse_ok else "compact"
        if mode == "compact":
            return "compact"
        features = int(np.prod(self.feature_shape))
        if sparse_ok and n * T * density * features >= SPARSE_MIN_TERMS:
            return "sparse"
        units = int(self.plan.dense.units)
        compact = COMPACT_GATHER_COST * density * units + COMPACT_SAMPLE_COST * T * density
        return "compact" if compact < T else "tiled"

    # ---- sampling -------------------------------------------------------------------------------
    def fill(self, out: np.ndarray, feats: np.ndarray, T: int, rng: np.random.Generator, path: str) -> None:
        """out[T, N, C] = T samples of the head for each of the N points' features, by `path`."""
        n = len(feats)
        k = min(T, MC_CHUNK_ROWS)  # samples per call
        per_call = max(1, MC_CHUNK_ROWS // k)  # points per call
        if path == "sparse":
            self._sparse_fill(out, feats.reshape(n, -1), T, rng)
        elif path == "compact":
            flat = feats.reshape(n, -1)
            nonzero = flat != 0
            counts = nonzero.sum(axis=1)
            order = np.argsort(counts, kind="stable")  # similar widths share a chunk: little padding
            per_call = min(per_call, MC_COMPACT_POINTS)
            for s in range(0, n, per_call):
                pts = order[s : s + per_call]
                idx, vals = compact_rows(flat[pts], nonzero[pts], counts[pts])
                self._fill(out, pts, T, k, rng,
                           lambda kk, sd, idx=idx, vals=vals: self.compact_sample(idx, vals, kk, sd))
        else:
            for s in range(0, n, per_call):
                pts = np.arange(s, min(n, s + per_call))
                chunk = feats[s : s + per_call]
                self._fill(out, pts, T, k, rng, lambda kk, sd, chunk=chunk: self.tiled_sample(chunk, kk, sd))

    def _checkpoint(self) -> None:
        if self.control is not None:
            self.control.checkpoint()

    def _fill(self, out: np.ndarray, pts: np.ndarray, T: int, k: int, rng: np.random.Generator,
              sample: Callable[[int, Any], Any]) -> None:
        for t in range(0, T, k):
            self._checkpoint()
            kk = min(k, T - t)
            probs = sample(np.int32(kk), seed_pair(rng)).numpy()  # [B, kk, C]
            out[t : t + kk, pts] = probs.transpose(1, 0, 2)

    def _sparse_fill(self, out: np.ndarray, flat: np.ndarray, T: int, rng: np.random.Generator) -> None:
        """The sparse head: Dropout, Dense, a following Dropout and (where it is a plain linear or softmax
        Dense) the output layer in numba; any other layers after them in TensorFlow."""
        if self.on_compile is not None and not sparse_head.loaded():
            self.on_compile()
        plan = self.plan
        kernel = plan.dense.kernel.numpy()
        bias = None if plan.dense.bias is None else plan.dense.bias.numpy()
        per_call = max(1, SPARSE_CHUNK_ROWS // T)
        last = plan.final
        final = None if last is None else (
            last.kernel.numpy(), None if last.bias is None else last.bias.numpy(), activation_name(last))
        seed = int(rng.integers(2**62))  # one for the call: `first` numbers the points across chunks
        for start in range(0, len(flat), per_call):
            self._checkpoint()
            chunk = flat[start : start + per_call]
            h = sparse_head.sample_first_dense(chunk, kernel, bias, T, plan.rate, bool(self.sparse_relu),
                                               seed, first=start, out_rate=plan.out_rate, final=final)
            if final is None:
                h = self.rest_sample(h.reshape(len(chunk) * T, -1), seed_pair(rng)).numpy()
            out[:, start : start + len(chunk)] = h.reshape(len(chunk), T, -1).transpose(1, 0, 2)
