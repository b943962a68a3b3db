"""Consistent MC dropout through a model's head: one mask per (sample, Dropout layer) for every point.

Why consistent masks, and the numpy head for the seed's `Dropout -> Flatten -> Dense -> Dropout ->
Dense`, are in `baltui.core.mc.consistent`. `ConsistentSampler` draws the masks once per call, before any
chunking, and runs that numpy head where it applies; any other head of Dropout layers runs in
TensorFlow with each sample's masks given as inputs and broadcast over the points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from baltui.core.control import Control
from baltui.core.mc import consistent
from baltui.core.mc.channel_conv import ChannelConvHead, channel_conv_plan
from baltui.core.mc.layers import STOCHASTIC_LAYERS, activation_name, bias_of, dropout_dense
from baltui.core.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import


class ConsistentSampler:
    """Samples of a model's stochastic head with consistent masks, from its prefix features.

    `dense` says whether the numpy head applies (the seed's shape, with a ReLU or linear Dense and
    Keras's own output activation); `choose_path` picks the head, or takes a forced one.
    """

    def __init__(self, head_layers: Sequence[Any], feature_shape: Sequence[int],
                 control: Control | None = None) -> None:
        self.head_layers = list(head_layers)
        self.feature_shape = tuple(feature_shape)
        self.control = control
        self.plan = dropout_dense(self.head_layers)
        plan = self.plan
        self.dense = plan is not None and activation_name(plan.dense) in ("relu", "linear") and plan.rate < 1.0 \
            and plan.final is not None
        self.masked_head: Any = None  # built with the head's mask shapes on first TensorFlow use
        # channel dropout feeding a convolution (Kirsch et al.'s model): the convolution once, not per sample
        plan_conv = None if self.dense else channel_conv_plan(self.head_layers)
        self.channel_head = None if plan_conv is None else ChannelConvHead(plan_conv, self.feature_shape)
        self._mask_shapes: list[tuple[tuple[int, ...], float]] | None = None

    @property
    def path(self) -> str:
        """What `fill` runs when nothing is forced (see `choose_path`)."""
        return self.choose_path("auto")

    def choose_path(self, mode: str = "auto") -> str:
        """The head that samples: "consistent-dense" (numpy), "consistent-channel" (`channel_conv`) or
        "consistent-tf" (any head of Dropout layers).

        "auto" takes the first that applies in that order; naming one forces it where it applies (bench and
        tests compare the heads on the same masks), else "auto"'s choice runs.
        """
        if mode == "consistent-tf":
            return mode
        if mode == "consistent-channel" and self.channel_head is not None:
            return mode
        if self.dense:
            return "consistent-dense"
        return "consistent-channel" if self.channel_head is not None else "consistent-tf"

    def tracing_counts(self) -> dict[str, int]:
        counts = {} if self.masked_head is None else {"masked_head": self.masked_head.experimental_get_tracing_count()}
        if self.channel_head is not None:
            counts.update(self.channel_head.tracing_counts())
        return counts

    def fill(self, out: np.ndarray, feats: np.ndarray, T: int, rng: np.random.Generator, batch: int,
             path: str | None = None) -> None:
        """out[T, N, C] from the N points' features, sample t's masks shared by all points.

        The seed's head (Dropout, Flatten, Dense, Dropout, Dense) is a few GEMMs per sample in numpy
        (`consistent.dense_head`); channel dropout feeding a convolution runs that convolution once per
        point (`channel_conv`); any other head of Dropout layers runs in TensorFlow, `batch` points per
        call, with each sample's masks broadcast over the points. Every path draws the same masks.
        `path` is one `choose_path` gave (default: its "auto" choice).
        """
        checkpoint = self.control.checkpoint if self.control is not None else (lambda: None)
        path = self.path if path is None else path
        if path == "consistent-dense":
            plan = self.plan
            dropout, dense, last = plan.dropout, plan.dense, plan.final
            keep = consistent.keep_masks(rng, T, (dense.kernel.shape[0],), float(dropout.rate))
            keep_out = None
            if plan.out_rate:
                keep_out = consistent.keep_masks(rng, T, (dense.units,), plan.out_rate)
            out[...] = consistent.dense_head(
                feats.reshape(len(feats), -1), dense.kernel.numpy(), bias_of(dense), activation_name(dense),
                keep, float(dropout.rate), keep_out, plan.out_rate, last.kernel.numpy(), bias_of(last),
                activation_name(last), checkpoint,
            )
            return
        masks = [consistent.keep_masks(rng, T, shape, rate).astype(np.float32) / np.float32(1.0 - rate)
                 for shape, rate in self.mask_shapes()]
        if path == "consistent-channel":
            self.channel_head.fill(out, feats, masks, checkpoint)
            return
        for t in range(T):
            checkpoint()
            sample = [tf.constant(m[t][None]) for m in masks]
            for start in range(0, len(feats), batch):
                chunk = feats[start : start + batch]
                out[t, start : start + batch] = self.masked_head(chunk, sample).numpy()

    def mask_shapes(self) -> list[tuple[tuple[int, ...], float]]:
        """(mask shape without the batch axis, rate) of each Dropout of the head, in order.

        A spatial Dropout's mask covers whole channels, so its shape has 1 for the spatial axes.
        """
        if self._mask_shapes is None:
            shapes = []
            x = tf.zeros([1, *self.feature_shape])
            for layer in self.head_layers:
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
            self.masked_head = self._compile_masked_head(shapes)
        return self._mask_shapes

    def _compile_masked_head(self, shapes: list[tuple[tuple[int, ...], float]]) -> Any:
        """The head on features with each Dropout's mask given (scaled, broadcast over the points)."""
        head_layers = self.head_layers
        feature = tf.TensorSpec([None, *self.feature_shape], tf.float32)
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
