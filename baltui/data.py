"""Data sets: scikit-learn's bundled digits, MNIST (keras), or any .npz in the keras layout.

Every loader returns images scaled to [0, 1] float32 with a channel axis, so the model and the
acquisition code never care where the pixels came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baltui.errors import BaltuiError

N_CLASSES = 10
DIGITS_TEST_SIZE = 497  # of 1,797: leaves a pool of 1,300
DIGITS_SPLIT_SEED = 1234


@dataclass
class Dataset:
    """A pool to query labels from and a held-out test set."""

    name: str
    x_pool: np.ndarray  # [N, H, W, 1] float32 in [0, 1]
    y_pool: np.ndarray  # [N] int64 in 0..9
    x_test: np.ndarray
    y_test: np.ndarray
    # sha256 of the arrays as stored (`content_hash`): says which data a run used whatever its file is
    # called, so references and resumes follow the content, not a name or a shape.
    content_sha256: str = ""

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_pool.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        return N_CLASSES

    def class_counts(self) -> dict[int, int]:
        counts = np.bincount(self.y_pool, minlength=N_CLASSES)
        return {c: int(n) for c, n in enumerate(counts)}


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over x_train, y_train, x_test, y_test as stored (dtype, shape and bytes of each)."""
    h = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def scale_images(x: np.ndarray) -> np.ndarray:
    """uint8 (or 0..255 floats) to [0, 1] float32, with a channel axis."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    scale = 255.0 if (x.dtype == np.uint8 or (x.size and float(x.max()) > 1.0)) else 1.0
    return (x.astype(np.float32) / np.float32(scale)).astype(np.float32)


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits, split once with a fixed seed so every run sees the same test set."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y))
    test, pool = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    arrays = {"x_train": x[pool], "y_train": y[pool], "x_test": x[test], "y_test": y[test]}
    return Dataset("digits", *arrays.values(), content_sha256=content_hash(arrays))


def _check_arrays(where: str, arrays: dict[str, np.ndarray]) -> None:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 1) or min(x.shape[1:3], default=0) < 1:
            raise BaltuiError(
                f"{where}: x_{split} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1) grayscale images"
            )
        if y.ndim != 1:
            raise BaltuiError(f"{where}: y_{split} has shape {y.shape}; expected (N,) integer labels")
        if len(x) != len(y):
            raise BaltuiError(f"{where}: x_{split} holds {len(x)} images but y_{split} {len(y)} labels")
        if len(x) == 0:
            raise BaltuiError(f"{where}: x_{split} is empty")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.issubdtype(y.dtype, np.floating) or not np.all(np.mod(y, 1) == 0):
                raise BaltuiError(f"{where}: y_{split} must hold integer labels 0..9, got dtype {y.dtype}")
        if y.min() < 0 or y.max() >= N_CLASSES:
            raise BaltuiError(
                f"{where}: y_{split} has labels outside 0..9 (min {y.min()}, max {y.max()})"
            )
        if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
            raise BaltuiError(f"{where}: x_{split} must hold finite numbers")
    if arrays["x_train"].shape[1:3] != arrays["x_test"].shape[1:3]:
        raise BaltuiError(
            f"{where}: x_train images are {arrays['x_train'].shape[1:3]} but x_test images "
            f"{arrays['x_test'].shape[1:3]}; they must match"
        )


def load_npz(path: str | Path, name: str | None = None) -> Dataset:
    """An .npz with x_train, y_train, x_test, y_test as keras stores MNIST."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise BaltuiError(f"data file {where} does not exist; give a .npz with x_train, y_train, x_test, y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
            if missing:
                raise BaltuiError(
                    f"{where} lacks array(s) {', '.join(missing)}; expected x_train, y_train, x_test, y_test"
                )
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except BaltuiError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BaltuiError(f"{where} is not a readable .npz file ({exc})") from None
    _check_arrays(where, arrays)
    return Dataset(
        name or ("mnist" if arrays["x_train"].shape[1:3] == (28, 28) else path.stem),
        scale_images(arrays["x_train"]),
        arrays["y_train"].astype(np.int64),
        scale_images(arrays["x_test"]),
        arrays["y_test"].astype(np.int64),
        content_sha256=content_hash(arrays),
    )


def load_mnist() -> Dataset:
    """MNIST through keras' cache; offline without a cached copy, point the user at --data."""
    from baltui.tf_setup import quiet_tensorflow

    quiet_tensorflow()
    import keras

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # keras prints "Downloading data from ..."
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # keras raises several kinds when offline
        reason = str(exc).splitlines()[0].split(" -- ")[-1][:120] if str(exc) else type(exc).__name__
        raise BaltuiError(
            f"cannot download MNIST and no cached copy ({reason}); use a local copy with --data FILE.npz "
            "(arrays x_train, y_train, x_test, y_test)"
        ) from None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    _check_arrays("mnist", arrays)
    return Dataset("mnist", scale_images(x_train), y_train.astype(np.int64),
                   scale_images(x_test), y_test.astype(np.int64), content_sha256=content_hash(arrays))


def load_dataset(config: object) -> Dataset:
    """The data a RunConfig names: `data` (a file) wins over `dataset`."""
    data = getattr(config, "data", None)
    if data:
        return load_npz(data)
    dataset = getattr(config, "dataset", "digits")
    if dataset == "digits":
        return load_digits()
    if dataset == "mnist":
        return load_mnist()
    raise BaltuiError(f"unknown dataset '{dataset}'; use digits, mnist or --data FILE.npz")
