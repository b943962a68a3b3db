"""Kirsch, van Amersfoort & Gal (NeurIPS 2019)'s MNIST model (BlackHC/BatchBALD, src/mnist_model.py).

Conv 32 5x5 -> channel dropout 0.5 -> max-pool 2 -> ReLU, Conv 64 5x5 -> channel dropout 0.5 ->
max-pool 2 -> ReLU, Dense 128 -> dropout 0.5 -> ReLU, Dense softmax. Channel dropout is Keras's
SpatialDropout2D (whole feature maps). Its first dropout follows the first convolution, so MC
dropout re-runs almost the whole network per sample: acquisition costs far more than the seed's.
Needs images of at least 28x28 (two 5x5 convolutions and two poolings).
"""

from __future__ import annotations

from typing import Any


def build(input_shape: tuple[int, ...], n_classes: int = 10) -> Any:
    from baltui.core.tf_setup import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(32, (5, 5)),
            keras.layers.SpatialDropout2D(0.5),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.ReLU(),
            keras.layers.Conv2D(64, (5, 5)),
            keras.layers.SpatialDropout2D(0.5),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(128),
            keras.layers.Dropout(0.5),
            keras.layers.ReLU(),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
