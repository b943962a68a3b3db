"""The model registry: one builder per architecture, each with the training regime of its paper.

Adding an architecture is one module with a `build(input_shape, n_classes)` function returning a
keras.Sequential with its Dropout layers in place, plus one `ModelSpec` line below. The registry
itself imports no TensorFlow (builders import Keras when called), so `--help` and flag checks stay
instant. A model from outside baltui is the same `build` function, named by an entry point or a reference
(`--model my_pkg.models:build`); baltui.core.plugins makes its ModelSpec (`builder`, `plugin`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from baltui.core.errors import BaltuiError

# The parts of a regime that need labelled validation images (label mode has none to set aside).
NEEDS_VALIDATION = ("early_stopping", "validation")


@dataclass(frozen=True)
class ModelSpec:
    """An architecture and the settings its paper trained it with (applied by `--model NAME`)."""

    name: str
    module: str  # baltui.core.models.<module>.build(input_shape, n_classes)
    description: str
    regime: dict[str, Any] = field(default_factory=dict)
    min_size: int = 1  # smallest image side the architecture accepts
    builder: Callable[..., Any] | None = None  # a plug-in's build function (then `module` is unused)
    plugin: str = ""  # where a plug-in came from, "" for a built-in

    @property
    def build(self) -> Callable[..., Any]:
        if self.builder is not None:
            return self.builder
        return import_module(f"baltui.core.models.{self.module}").build

    def check_fits(self, input_shape: tuple[int, ...]) -> None:
        """One line (BaltuiError) when images of `input_shape` are too small for the architecture."""
        if min(input_shape[:2]) < self.min_size:
            raise BaltuiError(f"model {self.name} needs images of at least {self.min_size}x{self.min_size}, but the "
                              f"data's are {input_shape[0]}x{input_shape[1]}; use --model seed")

    def regime_without_validation(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the regime's settings that need no validation set, the ones that do)."""
        return ({k: v for k, v in self.regime.items() if k not in NEEDS_VALIDATION},
                {k: v for k, v in self.regime.items() if k in NEEDS_VALIDATION})


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("seed", "seed", "the notebook's CNN (Gal, Islam & Ghahramani 2017): 2 conv 4x4, Dense 128",
                  min_size=8),  # no regime of its own: the preset's (or RunConfig's) settings stand
        ModelSpec("batchbald2019", "batchbald2019",
                  "Kirsch et al. (2019)'s MNIST CNN: conv 5x5 with channel dropout, Dense 128",
                  # BlackHC/BatchBALD: Adam 1e-3, batch 64, an epoch = 5,056 draws with repetition, up to
                  # 30 epochs with early stopping on validation accuracy (patience 3), 1,024 validation points.
                  regime={"epochs": 30, "batch_size": 64, "epoch_draws": 5056, "early_stopping": 3,
                          "validation": 1024}, min_size=28),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The registry's entry, or one line naming the known models."""
    if name not in MODELS:
        raise BaltuiError(f"unknown model '{name}'; known models: {', '.join(MODELS)}")
    return MODELS[name]
