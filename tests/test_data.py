"""Data loading: digits split, npz validation with messages naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from baltui.core.data import DATASETS, load_dataset, load_digits, load_npz, read_npz
from baltui.core.errors import BaltuiError


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
    assert ds.x_pool.max() <= 1.0 and ds.name == "m"  # the file's name, not "mnist" for every 28x28 set


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y_test": None}, "lacks array(s) y_test"),
        ({"x_train": np.zeros((30, 28), np.uint8)}, "x_train has shape (30, 28)"),
        ({"x_train": np.zeros((30, 28, 28, 2), np.uint8)}, "grayscale or (N, H, W, 3) RGB"),
        ({"y_train": np.arange(29) % 10}, "x_train holds 30 images but y_train 29 labels"),
        ({"y_test": np.arange(10) + 5}, "classes 0..14 (max label + 1 = 15) but y_train has no image of class 10"),
        ({"y_train": np.arange(30) % 10 + 1}, "y_train has no image of class 0"),  # 1-based labels
        ({"y_test": -np.ones(10, int)}, "labels outside 0..C-1"),
        ({"y_train": np.arange(30) % 10 + 0.5}, "integer labels 0..C-1"),
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
    with pytest.raises(BaltuiError, match="is not an .npz file"):
        load_npz(corrupt)


def test_classes_come_from_the_labels_and_channels_from_the_images(tmp_path):
    ds = load_npz(_write(tmp_path / "four.npz", y_train=np.arange(30) % 4, y_test=np.arange(10) % 4))
    assert ds.n_classes == 4 and ds.class_counts() == {0: 8, 1: 8, 2: 7, 3: 7}
    rgb = np.random.default_rng(1).integers(0, 256, (30, 9, 7, 3), dtype=np.uint8)
    ds = load_npz(_write(tmp_path / "rgb.npz", x_train=rgb, x_test=rgb[:10]), name="colours")
    assert ds.input_shape == (9, 7, 3) and ds.name == "colours" and ds.n_classes == 10
    assert np.allclose(ds.x_pool * 255, rgb) and ds.x_pool.dtype == np.float32


def test_digits_keep_ten_classes_and_their_content_hash(digits):
    assert digits.n_classes == 10 and digits.class_counts() == {
        c: int((digits.y_pool == c).sum()) for c in range(10)}
    # the digits split's hash before classes came from the data: the same arrays, so resumes still find them
    assert digits.content_sha256 == "44fa2c5c6ab1ecba1f9108da1bbb878241daa5efb41256f906a8e8cab1d32e48"


def test_registry_names_the_datasets_config_accepts(digits):
    from baltui.core.config import DATASETS as CONFIG_DATASETS
    from baltui.core.config import RunConfig, validate

    assert set(DATASETS) >= {"digits", "mnist"} and CONFIG_DATASETS == tuple(DATASETS)
    assert load_dataset(RunConfig(dataset="digits")).content_sha256 == digits.content_sha256
    with pytest.raises(BaltuiError, match="unknown dataset 'cifar'; use one of digits, mnist"):
        validate(RunConfig(dataset="cifar"))
    with pytest.raises(BaltuiError, match="unknown dataset 'cifar'; use one of digits, mnist"):
        load_dataset(RunConfig(dataset="cifar"))


def test_registering_a_dataset_is_one_loader(monkeypatch):
    from baltui.core.data import make_dataset

    def tiny() -> object:
        x = np.arange(6 * 4 * 4 * 3, dtype=np.uint8).reshape(6, 4, 4, 3)
        return make_dataset("tiny", {"x_train": x, "y_train": np.arange(6) % 2, "x_test": x[:2],
                                     "y_test": np.arange(2)})

    monkeypatch.setitem(DATASETS, "tiny", tiny)
    ds = load_dataset(type("Config", (), {"dataset": "tiny", "data": None})())
    assert ds.name == "tiny" and ds.n_classes == 2 and ds.input_shape == (4, 4, 3)


def test_one_npz_reader_for_run_data_and_label_sources(tmp_path):
    from baltui.core.images import load_source

    path = _write(tmp_path / "m.npz", x_train=np.zeros((5, 28, 28, 2), np.uint8))
    with pytest.raises(BaltuiError) as run_error:
        load_npz(path)
    with pytest.raises(BaltuiError) as label_error:
        load_source(str(path))
    assert str(run_error.value) == str(label_error.value)  # one set of checks, one message
    assert "m.npz: x_train has shape (5, 28, 28, 2); expected (N, H, W) or (N, H, W, 1) grayscale or (N, H, W, 3) " \
           "RGB images" in str(run_error.value)
    np.savez(tmp_path / "y.npz", y_train=np.arange(3))
    with pytest.raises(BaltuiError) as run_error:
        read_npz(tmp_path / "y.npz", required=("x_train",))
    with pytest.raises(BaltuiError) as label_error:
        load_source(str(tmp_path / "y.npz"))
    expected = f"{tmp_path / 'y.npz'} lacks array(s) x_train; expected x_train"
    assert str(run_error.value) == str(label_error.value) == expected
