"""Layer inspection for MC dropout: where the stochastic head starts, and which head shapes the fast samplers handle.

Every layer before the first stochastic layer is deterministic, so MC dropout computes those features
once and samples only the head T times (`split_at_first_dropout`). The fast samplers go further where
the head starts `Dropout -> (Flatten) -> Dense`, as the seed's CNN does (`dropout_dense`): they only
accept layers they can prove compute what Keras computes (Keras's own activations, plain float32
Dense, element-wise Dropout), and leave anything else to the generic TensorFlow head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.mc import sparse_head
from baltui.core.tf_setup import quiet_tensorflow

quiet_tensorflow()  # selects Keras 3 on TensorFlow, quietly, before keras is first imported
import keras  # noqa: E402 - after the quiet TensorFlow import

# Layers that behave differently when training=True: the first of them starts the stochastic head.
STOCHASTIC_LAYERS: tuple[type, ...] = (
    keras.layers.Dropout,  # also SpatialDropout1D/2D/3D
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.AlphaDropout,
)


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


def is_plain_dropout(layer: Any) -> bool:
    """A Dropout whose masks are element-wise (no noise_shape, not a spatial subclass)."""
    return type(layer) is keras.layers.Dropout and layer.noise_shape is None


def activation_name(layer: Any) -> str:
    """"relu", "softmax" or "linear" only for Keras's own functions (a user's function of the same
    name may compute something else), "" for anything else."""
    known = {"relu": keras.activations.relu, "softmax": keras.activations.softmax, "linear": keras.activations.linear}
    if layer.activation is None:
        return "linear"
    return next((name for name, fn in known.items() if layer.activation is fn), "")


def is_plain_dense(layer: Any) -> bool:
    """A float32 Dense computed as x @ kernel + bias: not LoRA, not quantized, not mixed precision."""
    return type(layer) is keras.layers.Dense and not getattr(layer, "lora_enabled", False) and (
        layer.kernel.dtype == "float32" and getattr(layer, "quantization_mode", None) is None
        and layer.compute_dtype == "float32"
    )


def compact_head_start(head_layers: Sequence[Any]) -> int | None:
    """Index of the Dense that a plain Dropout feeds (through at most a Flatten), else None."""
    if not head_layers or not is_plain_dropout(head_layers[0]):
        return None
    i = 1
    if i < len(head_layers) and isinstance(head_layers[i], keras.layers.Flatten):
        if getattr(head_layers[i], "data_format", "channels_last") != "channels_last":
            return None
        i += 1
    if i < len(head_layers) and is_plain_dense(head_layers[i]):
        return i
    return None


def bias_of(layer: Any) -> np.ndarray:
    """A Dense layer's bias as float32 numpy, zeros when it has none."""
    if layer.bias is None:
        return np.zeros(layer.units, dtype=np.float32)
    return layer.bias.numpy()


@dataclass(frozen=True)
class DropoutDense:
    """A head that starts `Dropout -> (Flatten) -> Dense`, in the parts the fast samplers handle themselves.

    The sparse kernel and the consistent numpy head also draw a plain Dropout right after the Dense
    (the seed's 0.5: `out_rate`) and apply the output Dense (`final`) when it is the only layer left
    and a plain Dense with an activation they compute (linear or softmax).
    """

    dropout: Any  # the plain Dropout that starts the head
    dense: Any  # the Dense it feeds
    at: int  # the Dense's index in the head's layers
    rest: list[Any]  # every layer after the Dense
    out_rate: float  # rate of a plain Dropout right after the Dense, 0.0 for none
    after: list[Any]  # the layers after that Dropout (all of `rest` without one)
    final: Any | None  # the output Dense the fast heads apply themselves, if they can

    @property
    def rate(self) -> float:
        return float(self.dropout.rate)


def dropout_dense(head_layers: Sequence[Any]) -> DropoutDense | None:
    """The head's `Dropout -> (Flatten) -> Dense` start and what follows it, or None for other heads."""
    at = compact_head_start(head_layers)
    if at is None:
        return None
    rest = list(head_layers[at + 1 :])
    folded = 1 if rest and is_plain_dropout(rest[0]) else 0
    after = rest[folded:]
    # The seed's head ends Dense(10, softmax): the sparse kernel applies that itself.
    last = after[0] if len(after) == 1 else None
    fusable = last is not None and is_plain_dense(last)
    final = last if fusable and activation_name(last) in sparse_head.FINAL_ACTIVATIONS else None
    return DropoutDense(head_layers[0], head_layers[at], at, rest, float(rest[0].rate) if folded else 0.0, after,
                        final)
