"""Checks of a config against its loaded data: run before any folder is made or any run starts.

They need the data (its size, classes, image shape), so they cannot run with the flag checks in config.py;
each raises a one-line BaltuiError saying what to change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baltui.core import plugins
from baltui.core.config import RunConfig, acquisitions, check_against_data
from baltui.core.errors import BaltuiError
from baltui.core.models import ModelSpec


def check_model_fits(config: RunConfig, dataset: Any) -> None:
    """The model's smallest input against the data's image size; a plug-in model built once for the data."""
    from baltui.core.models import MODELS

    spec = plugins.model(config.model)
    if min(dataset.input_shape[:2]) < spec.min_size:
        fits = [m.name for m in MODELS.values() if min(dataset.input_shape[:2]) >= m.min_size]
        advice = f"use --model {fits[0]}" if fits else "no model takes images this small: give larger images"
        raise BaltuiError(f"model {spec.plugin or spec.name} needs images of at least {spec.min_size}x"
                          f"{spec.min_size}, but the data's are {dataset.input_shape[0]}x{dataset.input_shape[1]}; "
                          f"{advice}")
    if spec.plugin:
        dense_end = any(a.penultimate or a.gradients for a in acquisitions(config).values())
        check_plugin_model(spec, dataset.input_shape, dataset.n_classes, dense_end)


def check_plugin_model(spec: ModelSpec, input_shape: tuple[int, ...], n_classes: int, dense_end: bool = False) -> None:
    """Build a plug-in model once for the data, before any folder: a keras.Sequential with its input, a Dropout
    layer (MC dropout samples from the first one on), n_classes outputs, and (`dense_end`: a strategy reads the
    penultimate features) a last Dense layer. Imports TensorFlow."""
    if not spec.plugin:
        return
    from baltui.core.mc.layers import STOCHASTIC_LAYERS, keras

    shape = tuple(int(s) for s in input_shape)
    try:
        built = spec.build(shape, int(n_classes))
    except Exception as exc:
        raise BaltuiError(f"model plug-in {spec.plugin}: build({shape}, {n_classes}) failed: "
                          f"{plugins.describe(exc)}") from None
    if not isinstance(built, keras.Sequential):
        raise BaltuiError(f"model plug-in {spec.plugin} built a {type(built).__name__}, not a keras.Sequential; MC "
                          "dropout splits a Sequential at its first Dropout: return keras.Sequential([...])")
    if not built.built:
        raise BaltuiError(f"model plug-in {spec.plugin} built a Sequential without its input; start it with "
                          "keras.Input(shape=input_shape)")
    if not any(isinstance(layer, STOCHASTIC_LAYERS) for layer in built.layers):
        raise BaltuiError(f"model plug-in {spec.plugin} has no Dropout layer, so MC dropout would draw T identical "
                          "predictions; add keras.layers.Dropout before its last layers")
    out = tuple(built.output_shape[1:])
    if out != (n_classes,):
        raise BaltuiError(f"model plug-in {spec.plugin} outputs shape {out}, but the data has {n_classes} classes; "
                          "end it with keras.layers.Dense(n_classes, activation='softmax')")
    if dense_end and not isinstance(built.layers[-1], keras.layers.Dense):
        raise BaltuiError(f"model plug-in {spec.plugin} ends in {type(built.layers[-1]).__name__}; BADGE and "
                          "Core-set read the input of a last Dense layer")


def check_validation_leaves_the_initial_set(config: RunConfig, dataset: Any) -> None:
    """The validation images are set aside per seed before the initial set is drawn: every class must keep
    `initial_per_class` images in the pool for every seed (a random initial set asks no class for any)."""
    if not config.validation or config.initial_set != "balanced":
        return
    from baltui.core.engine import validation_indices

    for seed in config.seeds:
        kept = np.delete(dataset.y_pool, validation_indices(len(dataset.y_pool), config.validation, seed))
        counts = np.bincount(kept, minlength=dataset.n_classes)
        short = int(np.argmin(counts))
        if counts[short] < config.initial_per_class:
            raise BaltuiError(f"with {config.validation} validation images set aside (seed {seed}), class {short} "
                              f"keeps {counts[short]} pool images, fewer than initial_per_class="
                              f"{config.initial_per_class}; lower --validation or --initial-per-class")


def check_config_against_data(config: RunConfig, dataset: Any) -> None:
    """Every data-dependent limit: image size, the initial set, the queries, the validation split."""
    check_model_fits(config, dataset)
    check_against_data(config, len(dataset.y_pool), dataset.n_classes, dataset.class_counts())
    check_validation_leaves_the_initial_set(config, dataset)
