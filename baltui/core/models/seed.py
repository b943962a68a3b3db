"""The seed notebook's CNN: Gal, Islam & Ghahramani (2017)'s MNIST architecture as written in Keras."""

from __future__ import annotations

from typing import Any


def build(input_shape: tuple[int, ...], n_classes: int = 10, dropout: tuple[float, float] = (0.25, 0.5)) -> Any:
    """Conv 32 4x4 (ReLU) x2, max-pool 2, Dropout 0.25, Dense 128 (ReLU), Dropout 0.5, Dense softmax."""
    from baltui.core.tf_setup import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(32, (4, 4), activation="relu"),
            keras.layers.Conv2D(32, (4, 4), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(dropout[0]),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(dropout[1]),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
