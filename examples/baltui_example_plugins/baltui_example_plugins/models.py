"""A model plug-in: build(input_shape, n_classes) returning a keras.Sequential with Dropout layers.

MC dropout keeps the layers before the first Dropout deterministic (computed once per query) and samples
the rest T times, so the cheaper the layers after the first Dropout, the faster acquisition is.
"""

from __future__ import annotations

from typing import Any


def build(input_shape: tuple[int, ...], n_classes: int) -> Any:
    """A small CNN: conv 16 3x3, max-pool 2, Dropout 0.25, Dense 64, Dropout 0.5, Dense softmax."""
    import keras  # here, not at the top: listing plug-ins or checking flags loads no TensorFlow

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(16, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


# Optional: the smallest image side it takes (a 3x3 convolution and a 2x2 pooling need 4 pixels).
build.min_size = 4
# Optional: a training regime applied with --model small_cnn under any flag given, as batchbald2019's is, e.g.
# build.regime = {"epochs": 30, "batch_size": 64}
