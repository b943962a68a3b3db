"""The Dataset: a pool to query labels from and a held-out test set, as every loader and recipe returns it.

A module of its own so the loaders (baltui.core.data) and the pool recipes (baltui.core.recipes), which
build one from another, both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FolderInfo:
    """Where an image folder's arrays came from (config.json's provenance records it as `data_folder`): its
    files, so a run's queried indices can be traced to file names, and how its test set was chosen."""

    files_sha256: str  # sha256 over every image file read (relative path and bytes), in the order read
    pool_files: tuple[str, ...]  # the file of each pool image, relative to the folder
    test_files: tuple[str, ...]
    test: str  # "folder": DIR/test/<class>/; "fraction": a stratified share of every class
    test_fraction: float = 0.0
    split_seed: int | None = None

    def provenance(self) -> dict[str, Any]:
        block: dict[str, Any] = {"files_sha256": self.files_sha256,
                                 "files": len(self.pool_files) + len(self.test_files),
                                 "pool": len(self.pool_files), "test": self.test}
        if self.test == "fraction":
            block.update(test_fraction=self.test_fraction, split_seed=self.split_seed)
        return block


@dataclass
class Dataset:
    """A pool to query labels from and a held-out test set."""

    name: str
    x_pool: np.ndarray  # [N, H, W, 1 or 3] float32 in [0, 1]
    y_pool: np.ndarray  # [N] int64 in 0..n_classes-1
    x_test: np.ndarray
    y_test: np.ndarray
    # sha256 of the arrays as stored (`content_hash`): says which data a run used whatever its file is
    # called, so references and resumes follow the content, not a name or a shape. For a recipe's data
    # (baltui.core.recipes) the hash of the arrays the recipe produced, never the loaded data's.
    content_sha256: str = ""
    # What a recipe made of the loaded data ("none": the data as loaded, and the fields below unset).
    recipe: str = "none"
    source_sha256: str = ""  # the loaded data's content_sha256, when a recipe made this data from it
    # Index into the loaded pool of each pool image: a copy or a sample is traced to its original.
    pool_origin: np.ndarray | None = None
    # The recipe's target distribution (EPIG's target inputs): pool-split images in neither pool nor test.
    x_target: np.ndarray | None = None
    y_target: np.ndarray | None = None
    target_origin: np.ndarray | None = None
    # The classes' names by label (an image folder's subfolders); None: a class is known by its index only.
    class_names: tuple[str, ...] | None = None
    folder: FolderInfo | None = None  # an image folder's files and split; None for arrays

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_pool.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        """max(label) + 1 over the pool and the test set: the labels are the classes 0..C-1."""
        return max((int(y.max()) for y in (self.y_pool, self.y_test) if len(y)), default=-1) + 1

    def class_counts(self) -> dict[int, int]:
        counts = np.bincount(self.y_pool, minlength=self.n_classes)
        return {c: int(n) for c, n in enumerate(counts)}
