"""Consistent MC dropout through a convolution that follows channel dropout, without re-running it per sample.

Kirsch et al. (2019)'s MNIST model drops whole channels right after its first convolution
(`SpatialDropout2D -> MaxPool -> ReLU -> Conv2D -> ...`), so the split prefix is one conv layer and the
generic masked head (`consistent_tf`) runs the second convolution, most of the network's arithmetic, once
per sample: 11.7 s for 2,000 images at T = 100 on 2 cores.

Two facts remove that cost. A channel mask scales each channel by m_c >= 0 (0 or 1 / (1 - rate)), and
max-pooling and ReLU are positively homogeneous per channel, so the masked channels pass through them
unchanged: pool(relu(m * x)) = m * pool(relu(x)). And a convolution is linear in its input channels:
conv(m * z) = sum_c m_c conv_c(z_c) + bias, where conv_c convolves channel c alone (a depthwise
convolution with the layer's own kernel). So the per-channel partial outputs are computed once per point,
and each sample's convolution becomes a weighted sum of them: one GEMM of the masks [T, C_in] with the
partials [C_in, points x outputs], about 25x fewer multiply-adds than the convolution per sample. The
layers after the convolution run as in the masked head, all T samples in one batch.

The masks are the masked head's (same shapes, same order, same draws from `rng`), so both heads compute
the same function of the same masks; `tests/test_channel_conv.py` checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.tf_setup import quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import

# Floats of the [T, points, conv output] tensor per chunk: ~128 MB, so a chunk's temporaries stay small.
CHUNK_FLOATS = 32 * 1024 * 1024


@dataclass(frozen=True)
class ChannelConvPlan:
    """A head `SpatialDropout2D -> (channel-wise, positively homogeneous layers) -> Conv2D -> rest`."""

    between: list[Any]  # the layers between the channel dropout and the convolution
    conv: Any  # the Conv2D the dropped channels feed
    rest: list[Any]  # every layer after the convolution


def _homogeneous(layer: Any) -> bool:
    """Whether layer(m * x) == m * layer(x) for every channel scale m >= 0 (channels last)."""
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return layer.data_format == "channels_last"
    if type(layer) is keras.layers.ReLU:
        return layer.max_value is None and float(layer.threshold) == 0.0
    if type(layer) is keras.layers.Activation:
        return layer.activation in (keras.activations.relu, keras.activations.linear)
    return False


def channel_conv_plan(head_layers: Sequence[Any]) -> ChannelConvPlan | None:
    """The plan for a head that starts with channel dropout feeding a plain convolution, else None."""
    layers = list(head_layers)
    if not layers or type(layers[0]) is not keras.layers.SpatialDropout2D:
        return None
    if getattr(layers[0], "data_format", "channels_last") != "channels_last":
        return None
    i = 1
    while i < len(layers) and _homogeneous(layers[i]):
        i += 1
    if i >= len(layers) or type(layers[i]) is not keras.layers.Conv2D:
        return None
    conv = layers[i]
    plain = (conv.groups == 1 and conv.data_format == "channels_last" and conv.activation is keras.activations.linear
             and conv.strides[0] == conv.strides[1] and conv.dilation_rate[0] == conv.dilation_rate[1]
             and (conv.strides[0] == 1 or conv.dilation_rate[0] == 1) and conv.kernel.dtype == "float32"
             and conv.compute_dtype == "float32" and getattr(conv, "quantization_mode", None) is None)
    return ChannelConvPlan(layers[1:i], conv, layers[i + 1 :]) if plain else None


class ChannelConvHead:
    """Consistent samples of a `channel_conv_plan` head, given each Dropout's scaled masks [T, *shape]."""

    def __init__(self, plan: ChannelConvPlan, feature_shape: Sequence[int]) -> None:
        self.plan = plan
        self.feature_shape = tuple(int(d) for d in feature_shape)
        conv = plan.conv
        x = tf.zeros([1, *feature_shape])
        for layer in plan.between:
            x = layer(x, training=False)
        self.in_shape = tuple(int(d) for d in x.shape[1:])  # what the convolution sees
        self.out_shape = tuple(int(d) for d in conv(x).shape[1:])
        self.partials = self._compile_partials()
        self.rest: Callable[..., Any] | None = None  # compiled on first use, with the masks' shapes

    def _compile_partials(self) -> Any:
        plan, conv = self.plan, self.plan.conv
        s, d = int(conv.strides[0]), int(conv.dilation_rate[0])

        @tf.function(input_signature=[tf.TensorSpec([None, *self.feature_shape], tf.float32)])
        def partials(f):
            x = f
            for layer in plan.between:
                x = layer(x, training=False)
            # [n, h', w', C_in * C_out], channel c * C_out + o: channel c convolved with kernel[..., c, o]
            return tf.nn.depthwise_conv2d(x, conv.kernel.value, strides=[1, s, s, 1], padding=conv.padding.upper(),
                                          dilations=[d, d])

        return partials

    def _compile_rest(self, mask_ranks: list[int]) -> Any:
        rest = self.plan.rest
        out_shape = self.out_shape

        @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32),
                                      tf.TensorSpec([None], tf.float32),
                                      [tf.TensorSpec([None] * (1 + r), tf.float32) for r in mask_ranks]])
        def run_rest(mixed, bias, masks):
            T, n = tf.shape(mixed)[0], tf.shape(mixed)[1]
            x = tf.reshape(mixed, [T * n, *out_shape]) + bias
            i = 0
            for layer in rest:
                if isinstance(layer, keras.layers.Dropout):
                    shape = tf.shape(x)[1:]
                    m = masks[i]
                    x = tf.reshape(tf.reshape(x, tf.concat([[T, n], shape], 0)) * m[:, None],
                                   tf.concat([[T * n], shape], 0))
                    i += 1
                else:
                    x = layer(x, training=False)
            return tf.reshape(x, tf.concat([[T, n], tf.shape(x)[1:]], 0))

        return run_rest

    def fill(self, out: np.ndarray, feats: np.ndarray, masks: list[np.ndarray], checkpoint: Callable[[], None]) -> None:
        """out[T, N, C]; masks[0] is the channel dropout's [T, 1, 1, C_in], the others the rest's, in order."""
        T = out.shape[0]
        c_in, c_out = self.in_shape[-1], self.out_shape[-1]
        channel = tf.constant(masks[0].reshape(T, c_in))
        rest_masks = [tf.constant(m) for m in masks[1:]]
        if self.rest is None:
            self.rest = self._compile_rest([m.ndim - 1 for m in masks[1:]])
        conv = self.plan.conv
        bias = conv.bias if conv.bias is not None else tf.zeros([c_out])
        per_point = T * int(np.prod(self.out_shape))
        chunk = max(1, CHUNK_FLOATS // per_point)
        spatial = int(np.prod(self.out_shape[:-1]))
        for start in range(0, len(feats), chunk):
            checkpoint()
            part = self.partials(feats[start : start + chunk])  # [n, h, w, C_in * C_out]
            n = int(part.shape[0])
            # [C_in, n * h * w, C_out] -> the masks' weighted sum over C_in as one GEMM per chunk
            part = tf.transpose(tf.reshape(part, [n * spatial, c_in, c_out]), [1, 0, 2])
            mixed = tf.reshape(channel @ tf.reshape(part, [c_in, -1]), [T, n, -1])
            out[:, start : start + n] = self.rest(mixed, bias, rest_masks).numpy()

    def tracing_counts(self) -> dict[str, int]:
        counts = {"channel_partials": self.partials.experimental_get_tracing_count()}
        if self.rest is not None:
            counts["channel_rest"] = self.rest.experimental_get_tracing_count()
        return counts
