"""Data sets: any image classification data, grayscale or RGB, with its classes read from its labels.

Every loader returns a `Dataset` of images scaled to [0, 1] float32 with a channel axis ([N, H, W, 1] or
[N, H, W, 3]) and integer labels 0..C-1, where C (`Dataset.n_classes`) is max(label) + 1 over the train
and test labels; the model and the acquisition code never care where the pixels came from.

Named data sets live in the `DATASETS` registry (name -> loader with no arguments); `--dataset NAME` and
presets look names up there, and config.py takes its list of valid names from it. Adding a data set is one
loader function returning `Dataset` (build it with `make_dataset`, which checks the arrays) and one line in
`DATASETS`. Any .npz in the keras layout (x_train, y_train, x_test, y_test) works without registering,
through `--data FILE.npz`; `read_npz` is the one .npz reader (label mode reads its sources with it too). A
folder of images in one subfolder per class works through `--data DIR` (baltui.core.image_folder).
loader from outside baltui (an entry point in `baltui.datasets`, or `--dataset module:attr`) is a plug-in
(baltui.core.plugins), its arrays checked here by `make_dataset` like any others.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from baltui.core.dataset import Dataset
from baltui.core.errors import BaltuiError

__all__ = ["Dataset"]  # defined in baltui.core.dataset, read here by most callers

SPLITS = ("x_train", "y_train", "x_test", "y_test")
CHANNELS = (1, 3)  # grayscale or RGB
DIGITS_TEST_SIZE = 497  # of 1,797: leaves a pool of 1,300
DIGITS_SPLIT_SEED = 1234


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over x_train, y_train, x_test, y_test as stored (dtype, shape and bytes of each)."""
    h = hashlib.sha256()
    for key in SPLITS:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def scale_images(x: np.ndarray) -> np.ndarray:
    """uint8 (or 0..255 floats) to [0, 1] float32, with a channel axis (kept if there is one)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    scale = 255.0 if (x.dtype == np.uint8 or (x.size and float(x.max()) > 1.0)) else 1.0
    return (x.astype(np.float32) / np.float32(scale)).astype(np.float32)


def check_images(where: str, key: str, x: np.ndarray, channels: tuple[int, ...] = CHANNELS) -> None:
    """Images (N, H, W) or (N, H, W, c) with c in `channels`, not empty, finite real numbers: else one line."""
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in channels) or min(x.shape[1:3], default=0) < 1:
        kinds = " or ".join(["(N, H, W, 1) grayscale" if c == 1 else f"(N, H, W, {c}) RGB" if c == 3
                             else f"(N, H, W, {c})" for c in channels])
        raise BaltuiError(f"{where}: {key} has shape {x.shape}; expected (N, H, W) or {kinds} images")
    if len(x) == 0:
        raise BaltuiError(f"{where}: {key} is empty")
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.complexfloating) or not np.issubdtype(x.dtype, np.number):
        raise BaltuiError(f"{where}: {key} holds {x.dtype} values; expected pixel intensities as real numbers "
                          "(uint8 0..255, or floats in 0..1)")
    if not np.all(np.isfinite(x)):
        raise BaltuiError(f"{where}: {key} holds NaN or infinite pixel values; every pixel must be a finite number")


def check_labels(where: str, key: str, y: np.ndarray, images: int, classes_at_most: int | None = None) -> None:
    """`images` labels 0..C-1 as whole numbers, (N,) shaped. For a data set C is at most `classes_at_most`, its
    training images (every class needs one), which bounds the label values before anything is counted or
    allocated by them."""
    if y.ndim != 1:
        raise BaltuiError(f"{where}: {key} has shape {y.shape}; expected (N,) integer labels")
    if len(y) != images:
        raise BaltuiError(f"{where}: x_{key[2:]} holds {images} images but {key} {len(y)} labels")
    if not np.issubdtype(y.dtype, np.integer):
        floating = np.issubdtype(y.dtype, np.floating)
        if not floating or not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
            extra = " with NaN or infinite values" if floating and not np.all(np.isfinite(y)) else ""
            raise BaltuiError(f"{where}: {key} must hold integer labels 0..C-1, got dtype {y.dtype}{extra}")
    if not len(y):
        return
    if y.min() < 0:
        raise BaltuiError(f"{where}: {key} has labels outside 0..C-1 (min {y.min()}); classes count from 0")
    high = int(y.max())
    if classes_at_most is not None and high >= classes_at_most:
        raise BaltuiError(f"{where}: {key} has label {high}, more classes than its {classes_at_most} training images "
                          "can hold; labels must be the classes 0..C-1, each with training images")


def check_arrays(where: str, arrays: dict[str, np.ndarray]) -> int:
    """The four arrays of a data set checked together; returns the number of classes, max(label) + 1."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        check_images(where, f"x_{split}", x)
        check_labels(where, f"y_{split}", y, len(x), len(arrays["x_train"]))
    train, test = arrays["x_train"], arrays["x_test"]
    if train.shape[1:3] != test.shape[1:3]:
        raise BaltuiError(
            f"{where}: x_train images are {train.shape[1:3]} but x_test images {test.shape[1:3]}; they must match"
        )
    if _channels(train) != _channels(test):
        raise BaltuiError(f"{where}: x_train images have {_channels(train)} channel(s) but x_test images "
                          f"{_channels(test)}; they must match")
    n_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
    if n_classes < 2:
        raise BaltuiError(f"{where}: the labels name only class 0; a classifier needs labels 0..C-1 with C >= 2")
    absent = np.flatnonzero(np.bincount(arrays["y_train"].astype(np.int64), minlength=n_classes) == 0)
    if len(absent):
        shown = ", ".join(str(c) for c in absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise BaltuiError(f"{where}: labels must be the classes 0..{n_classes - 1} (max label + 1 = {n_classes}) "
                          f"but y_train has no image of class {shown}")
    return n_classes


def _channels(x: np.ndarray) -> int:
    return 1 if x.ndim == 3 else int(x.shape[-1])


def make_dataset(name: str, arrays: dict[str, np.ndarray], where: str | None = None) -> Dataset:
    """A Dataset from x_train, y_train, x_test, y_test as stored: checked, scaled, hashed."""
    check_arrays(where or name, arrays)
    return Dataset(name, scale_images(arrays["x_train"]), arrays["y_train"].astype(np.int64),
                   scale_images(arrays["x_test"]), arrays["y_test"].astype(np.int64),
                   content_sha256=content_hash(arrays))


def read_npz(path: str | Path, required: tuple[str, ...] = SPLITS) -> dict[str, np.ndarray]:
    """The `required` arrays of an .npz file, or one line saying why not (missing, unreadable, lacking)."""
    path = Path(path)
    where, expected = str(path), ", ".join(required)
    if not path.is_file():
        raise BaltuiError(f"data file {where} does not exist; give a .npz with {expected}")
    not_npz = npz_problem(path)
    if not_npz:
        raise BaltuiError(f"{where} {not_npz}; give a .npz with {expected} (numpy.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in required if k not in f.files]
            if missing:
                raise BaltuiError(f"{where} lacks array(s) {', '.join(missing)}; expected {expected}")
            return {k: f[k] for k in required}
    except BaltuiError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BaltuiError(f"{where} is not a readable .npz file ({exc})") from None


def npz_problem(path: str | Path) -> str | None:
    """Why a file is not an .npz (numpy's zip of named arrays), said before numpy says it less clearly
    (a text file reads as "pickled data ... allow_pickle"); None when it is a zip archive."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if zipfile.is_zipfile(path):
        return None
    if head == b"\x93NUMPY":
        return "is a single-array .npy file, not an .npz of named arrays"
    return "is not an .npz file (not a zip archive of arrays)" if head else "is empty, not an .npz file"


def load_npz(path: str | Path, name: str | None = None) -> Dataset:
    """An .npz with x_train, y_train, x_test, y_test as keras stores MNIST, named after its file: never after
    its images' shape (a Fashion-MNIST or a user's own 28x28 set is not MNIST; keras's file is mnist.npz)."""
    path = Path(path)
    return make_dataset(name or path.stem, read_npz(path), str(path))


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits, split once with a fixed seed so every run sees the same test set."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y))
    test, pool = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    return make_dataset("digits", {"x_train": x[pool], "y_train": y[pool], "x_test": x[test], "y_test": y[test]})


def load_mnist() -> Dataset:
    """MNIST through keras' cache; offline without a cached copy, point the user at --data."""
    from baltui.core.tf_setup import quiet_tensorflow

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
    return make_dataset("mnist", {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})


# Named data sets: a new one is a loader above and a line here (config.py validates names against it).
DATASETS: dict[str, Callable[[], Dataset]] = {
    "digits": load_digits,
    "mnist": load_mnist,
}
# What `baltui --list-datasets` says of each.
DESCRIPTIONS = {
    "digits": "scikit-learn's bundled 8x8 digits: a pool of 1,300, 497 to test (offline)",
    "mnist": "MNIST 28x28 through keras' download cache (or a local copy: --data FILE.npz)",
}


def load_dataset(config: object) -> Dataset:
    """The data a RunConfig names: `data` (an .npz, or an image folder read at its `image_size` with its
    `test_fraction`) wins over `dataset` (a name in DATASETS); then its
    `recipe`, if any, applied to the scaled arrays (every reader of a folder's data comes through here, so
    the dashboard, watch and --resume all see the recipe's pool, with the same indices)."""
    data = getattr(config, "data", None)
    if data and not Path(data).exists():
        raise BaltuiError(f"data {data} does not exist; give an .npz with x_train, y_train, x_test, y_test or a "
                          "folder of images in one subfolder per class")
    if data and (getattr(config, "dataset", None) == "folder" or Path(data).is_dir()):
        from baltui.core.image_folder import load_image_folder  # reads image files: Pillow, on first use

        loaded = load_image_folder(data, int(getattr(config, "image_size", 28)),
                                   float(getattr(config, "test_fraction", 0.0)))
    elif data:
        loaded = load_npz(data)
    else:
        dataset = getattr(config, "dataset", "digits")
        if dataset in DATASETS:
            loaded = DATASETS[dataset]()
        else:
            from baltui.core import plugins  # it builds on this module's registry and checks

            if not plugins.known("dataset", dataset):
                raise BaltuiError(f"unknown dataset '{dataset}'; use one of {', '.join(DATASETS)} or --data FILE.npz")
            loaded = plugins.load_dataset(dataset)
    recipe = getattr(config, "recipe", "none")
    if not recipe or recipe == "none":
        return loaded
    from baltui.core.recipes import apply_recipe  # it builds on Dataset: imported here, not at the top

    return apply_recipe(loaded, recipe, int(getattr(config, "recipe_seed", 0)))


def preview_images(dataset: Dataset, indices: object) -> np.ndarray:
    """Images by index for previews: [k, H, W] for grayscale, [k, H, W, 3] for colour."""
    images = dataset.x_pool[indices]
    return images[..., 0] if images.shape[-1] == 1 else images
