"""An image folder as a data set: one subfolder per class (torchvision's ImageFolder layout), read into a Dataset.

    DIR/<class>/*.png|jpg|jpeg|bmp          the pool (searched recursively inside each class folder)
    DIR/test/<class>/...                     the test set, if the folder has one
    (or DIR/train/<class>/ beside DIR/test/<class>/)

Without a test/ split, `test_fraction` of every class is held out as the test set: a stratified split drawn
from SPLIT_SEED, recorded in config.json's provenance, so every load of the folder (the run, --resume,
watch) holds out the same images. The images are read by label mode's reader (baltui.core.images): padded to
a square, resized to `image_size`, in colour when any image is, so the model sees what label mode shows.

The classes are the subfolders' names, sorted (as ImageFolder numbers them); the pool is in class order, then
file order. A folder that cannot be read this way is one BaltuiError line, raised before a run folder exists:
no class subfolders, fewer than two classes, a class without images, an image file that cannot be read, a
test/ class the pool does not have, both a test/ split and a test fraction, or neither.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from baltui.core.data import make_dataset
from baltui.core.dataset import Dataset, FolderInfo
from baltui.core.errors import BaltuiError
from baltui.core.images import IMAGE_SUFFIXES, decode_images, image_files

TEST = "test"
TRAIN = "train"
SPLIT_SEED = 1234  # the stratified test split's seed: recorded in provenance, the same for every load
_KINDS = "PNG, JPEG or BMP"


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_files(root: Path, where: str, skip: str | None = None) -> dict[str, list[Path]]:
    """class name -> its image files, for every subfolder of `root` (except `skip`); one line if the layout is off."""
    classes = {p.name: image_files(p) for p in _subfolders(root) if p.name != skip}
    loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not classes:
        found = f"it holds {len(loose)} images but no subfolders" if loose else "it holds no subfolders"
        raise BaltuiError(f"{where} is not a folder of class subfolders ({found}); put each class's images in "
                          f"{where}/<class>/ ({_KINDS})")
    if loose:
        raise BaltuiError(f"{where} holds {len(loose)} image(s) outside its class subfolders (e.g. "
                          f"{sorted(loose)[0]}); move each into {where}/<class>/")
    empty = [name for name, files in classes.items() if not files]
    if empty:
        raise BaltuiError(f"class folder {where}/{empty[0]} holds no images ({_KINDS}); add some or remove it")
    return classes


def _files_sha256(root: Path, files: list[Path]) -> str:
    """sha256 over every file's path (relative to `root`) and bytes: which files a run read, whatever they decode to."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _stratified_test(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A mask of the images held out: round(fraction x n) of every class of n images, at least one and never all."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in range(int(y.max()) + 1):
        members = np.flatnonzero(y == c)
        k = min(len(members) - 1, max(1, round(fraction * len(members))))
        test[rng.permutation(members)[:k]] = True
    return test


def load_image_folder(data: str | Path, image_size: int, test_fraction: float = 0.0) -> Dataset:
    """DIR (class subfolders, and a test/ split or `test_fraction`) as a Dataset of `image_size` squares."""
    folder = Path(data)
    where = str(data)
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise BaltuiError(f"image folder {where} {what}; give a folder with one subfolder of images per class")
    has_test = (folder / TEST).is_dir()
    root = folder / TRAIN if has_test and (folder / TRAIN).is_dir() else folder
    pool_where = str(root) if root != folder else where
    pool = _class_files(root, pool_where, skip=TEST if root == folder else None)
    if len(pool) < 2:
        raise BaltuiError(f"{pool_where} holds one class folder ({next(iter(pool))}); a classifier needs at least "
                          f"two: one subfolder per class")
    names = list(pool)
    if has_test and test_fraction:
        raise BaltuiError(f"{where} has a test/ split and --test-fraction {test_fraction:g} was given; drop "
                          "--test-fraction (or move test/ away to split the pool)")
    if not has_test and not test_fraction:
        raise BaltuiError(f"{where} has no test/ split; give --test-fraction F (say 0.2: a stratified share of "
                          f"every class held out) or add {where}/test/<class>/")
    test = _class_files(folder / TEST, f"{where}/{TEST}") if has_test else {}
    unknown = [name for name in test if name not in pool]
    if unknown:
        raise BaltuiError(f"{where}/{TEST}/{unknown[0]} is a class the pool has no folder for; the pool's classes "
                          f"are {', '.join(names)}")
    files = [f for name in names for f in pool[name]]
    labels = [c for c, name in enumerate(names) for _ in pool[name]]
    files += [f for name in test for f in test[name]]
    labels += [names.index(name) for name in test for _ in test[name]]
    images, _, failed = decode_images(files, image_size)
    if failed:
        bad, why = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise BaltuiError(f"{files[bad]} cannot be read as an image ({why}){more}; remove or replace it")
    assert images is not None  # every file was read
    y = np.asarray(labels, dtype=np.int64)
    relative = [f.relative_to(folder).as_posix() for f in files]
    if has_test:  # the test folder's files come after the pool's
        in_test = np.arange(len(files)) >= sum(len(v) for v in pool.values())
    else:
        in_test = _stratified_test(y, test_fraction, SPLIT_SEED)
    arrays = {"x_train": images[~in_test], "y_train": y[~in_test], "x_test": images[in_test], "y_test": y[in_test]}
    dataset = make_dataset(folder.resolve().name or where, arrays, where)
    dataset.class_names = tuple(names)
    dataset.folder = FolderInfo(
        _files_sha256(folder, files),
        pool_files=tuple(r for r, t in zip(relative, in_test, strict=True) if not t),
        test_files=tuple(r for r, t in zip(relative, in_test, strict=True) if t),
        test="folder" if has_test else "fraction",
        test_fraction=0.0 if has_test else float(test_fraction),
        split_seed=None if has_test else SPLIT_SEED,
    )
    return dataset
