"""Checks of a config against its loaded data: run before any folder is made or any model is built.

They need the data (its size, classes, image shape), so they cannot run with the flag checks in config.py;
each raises a one-line BaltuiError saying what to change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baltui.core.config import RunConfig, check_against_data
from baltui.core.errors import BaltuiError


def check_model_fits(config: RunConfig, dataset: Any) -> None:
    """The model's smallest input against the data's image size."""
    from baltui.core.models import MODELS

    spec = MODELS[config.model]
    if min(dataset.input_shape[:2]) < spec.min_size:
        fits = [m.name for m in MODELS.values() if min(dataset.input_shape[:2]) >= m.min_size]
        advice = f"use --model {fits[0]}" if fits else "no model takes images this small: give larger images"
        raise BaltuiError(f"model {spec.name} needs images of at least {spec.min_size}x{spec.min_size}, but the "
                          f"data's are {dataset.input_shape[0]}x{dataset.input_shape[1]}; {advice}")


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
