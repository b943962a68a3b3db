"""The precision a run trains in (`--train-precision`), and how a bfloat16 one trains while sampling in float32.

Why a second model: Keras fixes a layer's dtype policy when the layer is built, and the classifier's one
float32 model serves prediction, the MC-dropout prefix/head split and the samplers, whose scores and the
recorded accuracy must stay float32's. So a bfloat16 run trains a twin built with the "mixed_bfloat16"
policy (float32 master variables, bfloat16 arithmetic) whose last layer stays float32 (the seed's softmax is
fused into its last Dense, so the probabilities and the loss are float32's), and copies the twin's weights
into the float32 model after each fit: the reverse of `checked_eval`'s twin, which copies float32 weights
into a bfloat16 copy for evaluation. With float32 training the model trains itself and nothing is copied,
so float32 runs compute exactly what they did before this module existed.

bfloat16 keeps float32's exponent range, so unlike float16 it needs no loss scaling. Nothing here imports
TensorFlow at module level: the configuration reads `TRAIN_PRECISIONS` and the rule before anything slow.
"""

from __future__ import annotations

from typing import Any

from baltui.core.cpu import CpuFeatures

TRAIN_PRECISIONS = ("auto", "float32", "bfloat16")
# Whether "auto" trains in bfloat16 on CPUs that multiply it natively; see `resolve_train_precision`.
AUTO_PICKS_BFLOAT16 = False
# The bench ratio (float32 fit time / bfloat16 fit time, through baltui's own step) "auto" needs.
AUTO_MIN_SPEEDUP = 1.2


def resolve_train_precision(setting: str, features: CpuFeatures) -> str:
    """The precision a run trains in: `setting`, with "auto" resolved for a CPU with `features`.

    "auto" picks bfloat16 only on CPUs with native bfloat16 matmuls, and only once both of these hold
    (then `AUTO_PICKS_BFLOAT16` is set): MNIST runs trained in bfloat16 land within seed noise of the
    float32 ones (issue 29: labels to 90% within one seed standard deviation, accuracy at 320 labels within
    the seeds' spread, the same winning strategy), and `baltui bench` measures bfloat16 training at least
    `AUTO_MIN_SPEEDUP` times as fast through baltui's own training step. Until then it is float32. Once it
    picks bfloat16, "auto" gives different (equally valid) numbers on CPUs with and without native bfloat16,
    which is why config.json records the resolved value, never "auto".
    """
    if setting not in TRAIN_PRECISIONS:
        raise ValueError(f"train precision must be one of {', '.join(TRAIN_PRECISIONS)}, got {setting!r}")
    if setting != "auto":
        return setting
    return "bfloat16" if AUTO_PICKS_BFLOAT16 and features.bf16_matmul else "float32"


def emulation_warning(precision: str, features: CpuFeatures) -> str | None:
    """The warning for bfloat16 training on a CPU without native bfloat16 matmuls, else None.

    Allowed, not refused: the numbers are as valid as on a native CPU (TensorFlow emulates bfloat16 by
    converting to and from float32), only slower, and a bfloat16 run folder must stay resumable on
    whatever machine it is continued on.
    """
    if precision != "bfloat16" or features.bf16_matmul:
        return None
    return ("training in bfloat16 on a CPU without native bfloat16 (no avx512_bf16 or amx_bf16 flag): "
            "TensorFlow emulates it, so training is slower than float32 (the results are as valid)")


class TrainingModel:
    """The model `fit` trains: the float32 model itself, or its mixed-bfloat16 twin.

    `model` is what the training step, the optimizer, weight decay and re-initialisation act on; `sync()`
    puts its weights into the float32 model that predicts and samples. Both keep float32 variables, so the
    copy is a plain assign (a few MB for the seed model).
    """

    def __init__(self, float32_model: Any, precision: str) -> None:
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"a model trains in float32 or bfloat16, got {precision!r}")
        self.precision = precision
        self.float32_model = float32_model
        if precision == "float32":
            self.model = float32_model
        else:
            from baltui.core.models.checked_eval import bfloat16_twin

            self.model = bfloat16_twin(float32_model)  # mixed_bfloat16 layers, the last one float32

    @property
    def separate(self) -> bool:
        """Whether training runs on a twin (bfloat16) rather than on the float32 model itself."""
        return self.model is not self.float32_model

    def dropout_layers(self, stochastic: tuple[type, ...]) -> list[Any]:
        """The twin's own stochastic layers, which training needs seeded (none when there is no twin)."""
        return [layer for layer in self.model.layers if isinstance(layer, stochastic)] if self.separate else []

    def sync(self) -> None:
        """Copy the trained weights into the float32 model (nothing to do when training ran on it)."""
        if not self.separate:
            return
        for mine, trained in zip(self.float32_model.weights, self.model.weights, strict=True):
            mine.assign(trained)
