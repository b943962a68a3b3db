"""The next batch to label, for a labelling tool outside baltui (Label Studio, a spreadsheet): one query, no run.

`next_batch` trains on the labels given and asks a strategy for the next batch: the one active-learning round
(`ActiveLearningLoop`: `start` on the labelled set, then `acquire` from the rest), with a run's random streams
for its `query` (training on stream (seed, query - 1), acquiring on (seed, query)). So given the labelled
indices, in order, that a run had after query q - 1 and their labels, `next_batch(..., query=q)` picks what
that run's query q picked, with the same settings and seed. With no labels yet there is no model to ask: the
batch is drawn at random, as a run's random initial set (`--initial-set random`) of that size is.

The training settings are the settings table's rows with its defaults (a model's regime where it needs no
validation set, as in label mode), checked as a run checks them. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baltui.core.config import RunConfig, validate
from baltui.core.engine import initial_indices
from baltui.core.errors import BaltuiError
from baltui.core.loop import QUERY, TRAIN, ActiveLearningLoop, LoopSettings, stream

# The settings that shape the round (LoopSettings' fields), and image_size for reading an image folder.
ROUND_SETTINGS = tuple(name for name in LoopSettings.__dataclass_fields__ if name != "strategy")
READ_SETTINGS = ("image_size",)


@dataclass(frozen=True)
class NextBatch:
    """The images to label next: their indices into the images given, their scores, their names (a path's)."""

    indices: np.ndarray  # int64 positions in x (for a folder or .npz path: in `items`), in the strategy's order
    scores: np.ndarray | None  # the strategy's score of each (None: uniform, or a first batch drawn at random)
    items: list[str] | None  # each one's file (relative to the folder) or .npz index, when x was a path
    strategy: str
    seed: int
    query: int
    skipped: tuple[str, ...] = ()  # a folder's files that could not be read as images: not among the items

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per image (index, item, score), for CSV or JSON."""
        return [{"index": int(i), "item": None if self.items is None else self.items[int(i)],
                 "score": None if self.scores is None else float(self.scores[k])}
                for k, i in enumerate(self.indices)]


def read_images(x: Any, image_size: int | None = None) -> tuple[np.ndarray, list[str] | None, tuple[str, ...]]:
    """(images as the model takes them, each one's item name or None, the files that could not be read): an
    array, or a path to an image folder or an .npz (its x_train), read as label mode reads its sources."""
    from baltui.core.data import check_images, scale_images
    from baltui.core.images import load_source

    if isinstance(x, str | Path):
        if image_size is not None and not Path(x).is_dir():
            raise BaltuiError(f"image_size is for a folder of images; {x} keeps its own size: leave image_size out")
        source = load_source(str(x), image_size)
        return source.images, source.items, tuple(item for item, _ in source.skipped)
    array = np.asarray(x)
    check_images("x", "the images", array)
    return scale_images(array), None, ()


def class_indices(labels: Sequence[Any], classes: int | Sequence[str] | None) -> tuple[np.ndarray, int]:
    """(each label as a class index, the number of classes). A label is a class index, or a class name: of
    `classes` when it names them, else of the distinct names sorted (names that are all whole numbers, as a
    CSV's "3", are class indices)."""
    names = None if classes is None or isinstance(classes, int) else [str(c) for c in classes]
    if names is not None and len(set(names)) != len(names):
        raise BaltuiError("the class names list a name twice")
    as_text = [isinstance(v, str) for v in labels]
    if any(as_text) and names is None and all(str(v).strip().isdigit() for v in labels):
        labels, as_text = [int(str(v).strip()) for v in labels], [False] * len(labels)
    if any(as_text):
        names = names if names is not None else sorted({str(v) for v in labels if isinstance(v, str)})
        unknown = next((v for v in labels if isinstance(v, str) and v not in names), None)
        if unknown is not None:
            raise BaltuiError(f"label '{unknown}' is not one of the classes {', '.join(names)}")
    y = np.asarray([names.index(v) if isinstance(v, str) else v for v in labels], dtype=object)
    if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in y):
        raise BaltuiError("a label must be a class index (a whole number) or a class name")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise BaltuiError(f"label {int(y.min())} is not a class index; classes count from 0")
    if names is not None:
        n_classes = len(names)
    elif isinstance(classes, int):
        n_classes = classes
    else:
        n_classes = int(y.max()) + 1 if len(y) else 0
    if len(y) and y.max() >= n_classes:
        raise BaltuiError(f"label {int(y.max())} is beyond the {n_classes} classes")
    if len(y) and n_classes < 2:
        raise BaltuiError("the labels name one class; a classifier needs at least two (give the classes)")
    return y, n_classes


def _positions(labelled: Sequence[Any], items: list[str] | None, n: int, skipped: tuple[str, ...] = ()) -> np.ndarray:
    """The labelled images as positions: indices as given, or items (file names) of a path's images."""
    index = {item: i for i, item in enumerate(items)} if items is not None else None
    positions = []
    for value in labelled:
        if isinstance(value, str) and not (index is None and value.strip().isdigit()):
            if value in skipped:
                raise BaltuiError(f"labelled item '{value}' cannot be read as an image; remove its label or the file")
            if index is None or value not in index:
                where = "the images given" if index is None else "the folder (or .npz) given"
                raise BaltuiError(f"labelled item '{value}' is not one of {where}")
            positions.append(index[value])
        elif isinstance(value, bool) or not isinstance(value, int | np.integer | str):
            raise BaltuiError(f"labelled image {value!r} is neither an index nor an item name")
        else:
            positions.append(int(value))
    array = np.asarray(positions, dtype=np.int64)
    if len(array) and (array.min() < 0 or array.max() >= n):
        bad = int(array.min() if array.min() < 0 else array.max())
        raise BaltuiError(f"labelled index {bad} is outside the {n} images (0..{n - 1})")
    if len(np.unique(array)) != len(array):
        raise BaltuiError("an image is labelled twice; give each labelled image once")
    return array


def round_config(strategy: str, instances: int, seed: int, model: str, settings: Mapping[str, Any]) -> RunConfig:
    """A RunConfig of the one strategy and seed: the settings table's defaults, under the model's regime (the
    parts that need no validation set), under the settings given, each checked by its row as a run's are."""
    from baltui.core.models import model_spec
    from baltui.core.models.precision import resolve_train_precision
    from baltui.core.settings import SETTING

    unknown = sorted(set(settings) - set(ROUND_SETTINGS) - set(READ_SETTINGS))
    if unknown:
        raise BaltuiError(f"unknown setting '{unknown[0]}'; next_batch takes {', '.join(ROUND_SETTINGS)}, "
                          f"{', '.join(READ_SETTINGS)}")
    values: dict[str, Any] = {"strategies": [strategy], "seeds": [seed], "instances": instances,
                              "model": SETTING["model"].parse(model)}
    values.update(model_spec(values["model"]).regime_without_validation()[0])
    values.update({k: v for k, v in settings.items() if v is not None})
    values = {k: SETTING[k].parse(v) for k, v in values.items()}
    if values.get("early_stopping") or values.get("weight_decay") == "auto":
        what = "early_stopping" if values.get("early_stopping") else "weight_decay 'auto'"
        raise BaltuiError(f"{what} needs a labelled validation set, which a query for labels has none of; "
                          "leave it out")
    config = RunConfig(name="next", **values)
    validate(config)
    from baltui.core import cpu

    config.train_precision = resolve_train_precision(config.train_precision, cpu.cpu_features())
    return config


def next_batch(x: Any, labelled: Sequence[Any], labels: Sequence[Any], strategy: str = "bald", *,
               instances: int = 10, seed: int = 0, query: int = 1, model: str = "seed",
               classes: int | Sequence[str] | None = None, **settings: Any) -> NextBatch:
    """The next `instances` images to label, by `strategy`, after training on `labels` of the `labelled` images.

    x: images [N, H, W] or [N, H, W, 1 or 3] (uint8 0..255 or floats in 0..1), or a path to a folder of images
    (searched recursively; its files are read as label mode reads them, at `image_size`) or to an .npz (x_train).
    labelled: the labelled images, as indices into x, or (for a path) as items: file paths in the folder.
    labels: their labels, class indices or class names (see `classes`).
    classes: the class names (the labels may then be names), or how many classes there are; by default the
    labels': max index + 1, or the distinct names, sorted.
    settings: the training and sampling settings of a run (epochs, batch_size, mc_samples, subset, beta,
    epig_targets, mc_masks, epoch_draws, train_precision; the settings table's defaults where left out).
    A bad input raises BaltuiError (one line) before anything slow.
    """
    from baltui.core.models import model_spec

    if not isinstance(query, int) or isinstance(query, bool) or query < 1:
        raise BaltuiError(f"query must be a whole number from 1 (the first query after the initial labels), "
                          f"got {query!r}")
    config = round_config(strategy, instances, seed, model, settings)
    if len(labelled) != len(labels):
        raise BaltuiError(f"{len(labelled)} labelled images but {len(labels)} labels; give one label per image")
    y, n_classes = class_indices(labels, classes)
    images, items, skipped = read_images(x, config.image_size if settings.get("image_size") is not None else None)
    positions = _positions(labelled, items, len(images), skipped)
    pool = np.setdiff1d(np.arange(len(images)), positions)
    if instances > len(pool):
        raise BaltuiError(f"{instances} images asked for but only {len(pool)} are unlabelled; lower instances")
    if not len(positions):  # no model to ask yet: a run's random initial set of this size
        chosen = initial_indices(np.zeros(len(images), np.int64), instances, seed, 1, initial_set="random")
        return NextBatch(chosen, None, items, strategy, seed, query, skipped)
    model_spec(config.model).check_fits(images.shape[1:])
    loop = ActiveLearningLoop.build(LoopSettings.from_config(config, strategy), images, n_classes)
    loop.start(positions, stream(seed, query - 1, TRAIN), y)
    acquired = loop.acquire(pool, instances, stream(seed, query, QUERY))
    scores = None if acquired.chosen_scores is None else np.asarray(acquired.chosen_scores, dtype=np.float64)
    return NextBatch(np.asarray(acquired.chosen, dtype=np.int64), scores, items, strategy, seed, query, skipped)
