"""Data loading: digits split, npz validation with messages naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from baltui.data import load_digits, load_npz
from baltui.errors import BaltuiError


def test_digits_split_is_fixed_and_scaled(digits):
    again = load_digits()
    assert np.array_equal(digits.y_test, again.y_test)
    assert digits.x_pool.shape == (1300, 8, 8, 1) and digits.x_test.shape == (497, 8, 8, 1)
    assert digits.x_pool.dtype == np.float32 and 0.0 <= digits.x_pool.min() and digits.x_pool.max() <= 1.0
    assert set(np.unique(digits.y_pool)) == set(range(10))


def _write(path, **arrays):
    base = dict(
        x_train=np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=np.arange(30) % 10,
        x_test=np.zeros((10, 28, 28), np.uint8),
        y_test=np.arange(10),
    )
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def test_keras_layout_npz_loads_scaled_with_a_channel_axis(tmp_path):
    ds = load_npz(_write(tmp_path / "m.npz"))
    assert ds.x_pool.shape == (30, 28, 28, 1) and ds.x_pool.dtype == np.float32
    assert ds.x_pool.max() <= 1.0 and ds.name == "mnist"


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y_test": None}, "lacks array(s) y_test"),
        ({"x_train": np.zeros((30, 28), np.uint8)}, "x_train has shape (30, 28)"),
        ({"x_train": np.zeros((30, 28, 28, 3), np.uint8)}, "grayscale"),
        ({"y_train": np.arange(29) % 10}, "x_train holds 30 images but y_train 29 labels"),
        ({"y_train": np.arange(30)}, "labels outside 0..9"),
        ({"y_test": -np.ones(10, int)}, "labels outside 0..9"),
        ({"x_test": np.zeros((10, 14, 14), np.uint8)}, "must match"),
    ],
)
def test_bad_npz_files_get_a_message_naming_file_and_problem(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BaltuiError) as info:
        load_npz(path)
    assert message in str(info.value) and "bad.npz" in str(info.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(BaltuiError, match="does not exist"):
        load_npz(tmp_path / "nope.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(BaltuiError, match="not a readable .npz"):
        load_npz(corrupt)
