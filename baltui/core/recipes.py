"""Pool recipes: the benchmark variants of a data set where acquisition functions part ways.

On clean, balanced MNIST every Bayesian acquisition function reaches 95% within a few dozen labels of
the others; the papers that tell them apart built variants of it, and a recipe rebuilds one from the loaded
data (`--recipe NAME[:VALUES]`):

- `repeated` (Kirsch, van Amersfoort & Gal 2019; BlackHC/batchbald_redux `repeated_mnist.py`): every pool
  image `copies` times, each copy with its own Gaussian noise, drawn once for the data set. The reference adds
  N(0, 0.1) after normalising with MNIST's std 0.3081, i.e. 0.03081 on [0, 1] pixels: `noise` is in those
  units. `base=N` first keeps N random originals (whole-pool scoring of 60,000 x 3 is hours on a CPU).
- `unbalanced` (Bickford Smith et al. 2023; fbickfordsmith/epig `config/data/mnist/pool/unbalanced.yaml`,
  `target/unbalanced.yaml`): a pool of `low` images of each class in the lower half (digits 0-4) and `high`
  of each class in the upper half (5-9), a target set of `target_low` / `target_high` per class from the rest
  of the pool split, the test set untouched (balanced).
- `redundant` (the same repository, `image_redundant_test.yaml`): a pool of `pool` images of every class,
  labels mapped 1 -> 0, 7 -> 1, every other class -> 2 ("other"); the test set only the test split's 1s and
  7s; a target set of `target` 1s and `target` 7s from the rest of the pool split.

A recipe is applied to the loaded, scaled data (`data.load_dataset`) and never passed through
`data.scale_images` again, which would divide a noisy pool whose pixels exceed 1 by 255. Values are not
clipped to [0, 1], as in the reference. Every random choice comes from one generator seeded by the folder's
`recipe_seed`, so each load of a folder's data (resume, watch, the dashboard) gives the same arrays; their
sha256 (`recipe_hash`) becomes the Dataset's `content_sha256`, so provenance, the report's rows and the
papers' references follow the recipe, and a recipe's data never has plain MNIST's hash.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from baltui.core.dataset import Dataset
from baltui.core.errors import BaltuiError

NONE = "none"
# N(0, 0.1) after Normalize((0.1307,), (0.3081,)) in repeated_mnist.py, in units of [0, 1] pixels.
MNIST_STD = 0.3081
REPEATED_NOISE = round(0.1 * MNIST_STD, 10)
# EPIG's redundant protocol: the two classes the test set asks about, and the class every other one becomes.
REDUNDANT_KEPT = (1, 7)


@dataclass(frozen=True)
class Param:
    """One value of a recipe: positional in the order given, or `name=value`."""

    name: str
    kind: type  # int or float
    default: int | float | None  # None: derived from the others (`RecipeSpec.complete`)
    minimum: int | float = 0
    all_is_zero: bool = False  # "all" is accepted and means 0

    def convert(self, recipe: str, text: str) -> int | float:
        if self.all_is_zero and text == "all":
            return 0
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        what = "a whole number" if self.kind is int else "a number"
        extra = " (or 'all')" if self.all_is_zero else ""
        if value is None or (self.kind is float and not math.isfinite(value)) or value < self.minimum:
            raise BaltuiError(f"recipe {recipe}: {self.name} must be {what} >= {self.minimum}{extra}, got '{text}'")
        return value

    def shown(self, value: int | float) -> str:
        if self.all_is_zero and value == 0:
            return "all"
        return repr(value)  # floats round-trip exactly, so the canonical text rebuilds the same data


@dataclass(frozen=True)
class RecipeSpec:
    """A recipe: its values and how it builds a Dataset from the loaded one."""

    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[[Dataset, dict[str, int | float], np.random.Generator], Dataset]
    complete: Callable[[dict[str, int | float]], None] = lambda values: None

    @property
    def usage(self) -> str:
        return f"{self.name}:{','.join(p.name.upper() for p in self.params)}"


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe with every value filled in; `text` is its canonical form, as config.json records it."""

    name: str
    values: tuple[tuple[str, int | float], ...] = ()

    @property
    def text(self) -> str:
        if self.name == NONE:
            return NONE
        spec = RECIPES[self.name]
        params = {p.name: p for p in spec.params}
        return f"{self.name}:" + ",".join(f"{k}={params[k].shown(v)}" for k, v in self.values)


def _closest(name: str, known: list[str]) -> str:
    match = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def parse_recipe(text: str) -> Recipe:
    """`NAME[:V1,V2,...,key=value]` to a Recipe, or one line saying what is wrong and what is accepted."""
    name, _, rest = str(text).strip().partition(":")
    name = name.strip()
    if name == NONE:
        if rest.strip():
            raise BaltuiError(f"recipe none takes no values, got '{text}'")
        return Recipe(NONE)
    if name not in RECIPES:
        known = [NONE, *RECIPES]
        raise BaltuiError(f"unknown recipe '{name}'{_closest(name, known)}; known recipes: {', '.join(known)} "
                          "(e.g. --recipe repeated:3,noise=0.05)")
    spec = RECIPES[name]
    params = {p.name: p for p in spec.params}
    values: dict[str, int | float] = {}
    keyword_seen = False
    items = [item.strip() for item in rest.split(",")] if rest.strip() else []
    for position, item in enumerate(items):
        if "=" in item:
            key, _, value = (part.strip() for part in item.partition("="))
            if key not in params:
                raise BaltuiError(f"recipe {name}: unknown value '{key}'{_closest(key, list(params))}; it takes "
                                  f"{', '.join(params)} ({spec.usage})")
            keyword_seen = True
        else:
            if not item:
                raise BaltuiError(f"recipe {name}: an empty value in '{text}' ({spec.usage})")
            if keyword_seen:
                raise BaltuiError(f"recipe {name}: '{item}' without a name after a name=value ({spec.usage})")
            if position >= len(spec.params):
                raise BaltuiError(f"recipe {name} takes at most {len(spec.params)} values, got {len(items)} "
                                  f"({spec.usage})")
            key, value = spec.params[position].name, item
        if key in values:
            raise BaltuiError(f"recipe {name}: {key} is given twice")
        values[key] = params[key].convert(name, value)
    for p in spec.params:
        if p.default is not None:
            values.setdefault(p.name, p.default)
    spec.complete(values)
    return Recipe(name, tuple((p.name, values[p.name]) for p in spec.params))


def canonical(text: str) -> str:
    """The recipe as config.json records it: every value named, defaults filled in."""
    return parse_recipe(text).text


def apply_recipe(dataset: Dataset, text: str, seed: int) -> Dataset:
    """The recipe's data, built from the loaded (scaled) `dataset` with the folder's recipe seed, and hashed."""
    recipe = parse_recipe(text)
    if recipe.name == NONE:
        return dataset
    built = RECIPES[recipe.name].build(dataset, dict(recipe.values), np.random.default_rng(seed))
    built = dataclasses.replace(built, recipe=recipe.text, source_sha256=dataset.content_sha256)
    built.content_sha256 = recipe_hash(built, seed)
    return built


def recipe_hash(dataset: Dataset, seed: int) -> str:
    """sha256 over what the recipe produced (every array, dtype and shape included), the recipe, its seed
    and the data it was made from: a different recipe, value or seed is different data, and the prefix keeps
    it apart from any loaded data's `content_hash` (a recipe's MNIST never carries MNIST's references)."""
    h = hashlib.sha256(f"baltui recipe {dataset.recipe} seed {seed} of {dataset.source_sha256}\n".encode())
    for key in ("x_pool", "y_pool", "x_test", "y_test", "pool_origin", "x_target", "y_target", "target_origin"):
        a = getattr(dataset, key)
        if a is None:
            h.update(f"{key}:none".encode())
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---- the recipes ---------------------------------------------------------------------------------------


def _repeated(data: Dataset, values: dict[str, int | float], rng: np.random.Generator) -> Dataset:
    """copies x (base originals), each copy with its own noise: [all originals + noise, all originals + noise, ...]
    as ConcatDataset lays them out in the reference."""
    n, base, copies = len(data.y_pool), int(values["base"]), int(values["copies"])
    if base > n:
        raise BaltuiError(f"recipe repeated: base={base} but the pool holds {n} images; lower base (or base=all)")
    originals = np.arange(n) if base == 0 else np.sort(rng.choice(n, size=base, replace=False))
    origin = np.tile(originals, copies)
    x = data.x_pool[origin]  # a copy: the loaded pool is never changed
    if values["noise"]:
        x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(values["noise"])
    return Dataset(data.name, x, data.y_pool[origin], data.x_test, data.y_test, pool_origin=origin)


def _draw(y: np.ndarray, counts: dict[int, tuple[int, int]], rng: np.random.Generator,
          recipe: str) -> tuple[np.ndarray, np.ndarray]:
    """Per class c, counts[c] = (pool, target) distinct images of the pool split: sorted pool and target indices."""
    pool, target = [], []
    for c, (n_pool, n_target) in counts.items():
        where = np.flatnonzero(y == c)
        if len(where) < n_pool + n_target:
            raise BaltuiError(f"recipe {recipe}: class {c} has {len(where)} images in the data's pool split, "
                              f"fewer than the {n_pool} pool + {n_target} target images it asks for; lower its "
                              f"counts (--recipe {RECIPES[recipe].usage})")
        picked = rng.choice(where, size=n_pool + n_target, replace=False)
        pool.append(picked[:n_pool])
        target.append(picked[n_pool:])
    return np.sort(np.concatenate(pool)), np.sort(np.concatenate(target))


def _unbalanced(data: Dataset, values: dict[str, int | float], rng: np.random.Generator) -> Dataset:
    """EPIG's unbalanced pool and target: classes below n_classes // 2 rare, the others common."""
    half = data.n_classes // 2
    counts = {c: (int(values["low"]), int(values["target_low"])) if c < half
              else (int(values["high"]), int(values["target_high"])) for c in range(data.n_classes)}
    pool, target = _draw(data.y_pool, counts, rng, "unbalanced")
    return Dataset(data.name, data.x_pool[pool], data.y_pool[pool], data.x_test, data.y_test, pool_origin=pool,
                   x_target=data.x_pool[target], y_target=data.y_pool[target], target_origin=target)


def redundant_class_map(n_classes: int) -> np.ndarray:
    """New label of each class: 1 -> 0, 7 -> 1, every other class -> 2 (EPIG's `test/redundant.yaml`)."""
    mapped = np.full(n_classes, len(REDUNDANT_KEPT), dtype=np.int64)
    for new, old in enumerate(REDUNDANT_KEPT):
        mapped[old] = new
    return mapped


def _redundant(data: Dataset, values: dict[str, int | float], rng: np.random.Generator) -> Dataset:
    """EPIG's redundant_test: a balanced pool of every class, the test set and target only 1s and 7s."""
    if data.n_classes <= max(REDUNDANT_KEPT):
        raise BaltuiError(f"recipe redundant keeps classes {REDUNDANT_KEPT[0]} and {REDUNDANT_KEPT[1]} (MNIST's 1s "
                          f"and 7s) but the data has only classes 0..{data.n_classes - 1}")
    mapped = redundant_class_map(data.n_classes)
    n_pool, n_target = int(values["pool"]), int(values["target"])
    counts = {c: (n_pool, n_target if c in REDUNDANT_KEPT else 0) for c in range(data.n_classes)}
    pool, target = _draw(data.y_pool, counts, rng, "redundant")
    test = np.flatnonzero(np.isin(data.y_test, REDUNDANT_KEPT))
    return Dataset(data.name, data.x_pool[pool], mapped[data.y_pool[pool]], data.x_test[test],
                   mapped[data.y_test[test]], pool_origin=pool, x_target=data.x_pool[target],
                   y_target=mapped[data.y_pool[target]], target_origin=target)


def _quarter(pool_key: str, target_key: str) -> Callable[[dict[str, int | float]], None]:
    """A target count not given is a quarter of the pool count, as EPIG's 100 / 1,000 are of 400 / 4,000."""
    def complete(values: dict[str, int | float]) -> None:
        values.setdefault(target_key, int(values[pool_key]) // 4)
    return complete


def _both(*steps: Callable[[dict[str, int | float]], None]) -> Callable[[dict[str, int | float]], None]:
    def complete(values: dict[str, int | float]) -> None:
        for step in steps:
            step(values)
    return complete


RECIPES: dict[str, RecipeSpec] = {
    spec.name: spec for spec in (
        RecipeSpec("repeated", "every pool image COPIES times, each copy with Gaussian noise of std NOISE on [0, 1] "
                               "pixels (Repeated MNIST)",
                   (Param("copies", int, 3, minimum=1), Param("noise", float, REPEATED_NOISE),
                    Param("base", int, 0, all_is_zero=True)),
                   _repeated),
        RecipeSpec("unbalanced", "a pool of LOW images of each class 0..C/2-1 and HIGH of the others, a target set of "
                                 "TARGET_LOW / TARGET_HIGH per class (EPIG's unbalanced MNIST)",
                   (Param("low", int, 400, minimum=1), Param("high", int, 4000, minimum=1),
                    Param("target_low", int, None), Param("target_high", int, None)),
                   _unbalanced, _both(_quarter("low", "target_low"), _quarter("high", "target_high"))),
        RecipeSpec("redundant", "a pool of POOL images of each class, labels 1 -> 0, 7 -> 1, others -> 2; test set "
                                "and TARGET-per-class target set only 1s and 7s (EPIG's redundant MNIST)",
                   (Param("pool", int, 4000, minimum=1), Param("target", int, None)),
                   _redundant, _quarter("pool", "target")),
    )
}
