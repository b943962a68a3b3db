"""Experiment configuration: presets (TOML), flag overrides and validation.

Everything a user can get wrong is checked here, before TensorFlow is imported, so a typo costs
one clear line and exit code 2 rather than a traceback after a slow start.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from baltui.core import cpu
from baltui.core.acquisition import STRATEGIES
from baltui.core.data import DATASETS as DATASET_LOADERS
from baltui.core.errors import BaltuiError
from baltui.core.models import MODELS
from baltui.core.models.precision import TRAIN_PRECISIONS, emulation_warning, resolve_train_precision

DATASETS = tuple(DATASET_LOADERS)  # the names data.py's registry loads (it imports only numpy at the top)
DEFAULT_PRESET = "quick"

# Keys that change what an experiment computes: refused as overrides on --resume.
EXPERIMENT_KEYS = (
    "dataset", "data", "strategies", "seeds", "queries", "instances", "initial_per_class",
    "epochs", "batch_size", "mc_samples", "subset", "beta", "mc_masks", "model", "weight_decay", "validation",
    "epoch_draws", "early_stopping", "train_precision",
)
MC_MASKS = ("auto", "consistent", "independent")
# What "auto" picks for strategies that do not need consistent masks: the faster one (`baltui bench`).
AUTO_MC_MASKS = "independent"


@dataclass
class RunConfig:
    """One experiment: every (strategy, seed) pair is a run sharing these settings."""

    name: str = "custom"
    description: str = ""
    dataset: str = "digits"
    data: str | None = None
    strategies: list[str] = field(default_factory=lambda: ["entropy", "uniform"])
    seeds: list[int] = field(default_factory=lambda: [0])
    queries: int = 20
    instances: int = 10
    initial_per_class: int = 2
    epochs: int = 50
    batch_size: int = 128
    mc_samples: int = 100
    subset: int = 2000
    beta: float = 1.0
    # MC-dropout masks: "consistent" (one per sample for all points), "independent" (per point), or
    # "auto": consistent where the strategy needs it (batchbald), else the faster of the two.
    mc_masks: str = "auto"
    # The architecture (baltui.core.models registry) and its training regime.
    model: str = "seed"
    # L2 of C/N on the hidden Dense kernels (N: labelled images at that fit), or "auto": C chosen per fit on the
    # validation set (Gal et al. 2017). 0: none, as in the seed notebook.
    weight_decay: float | str = 0.0
    # Pool images set aside (per seed) to validate on: never offered for labelling, never trained on.
    validation: int = 0
    # Draws with repetition per epoch (Kirsch et al. 2019: 5,056); 0: one pass over the labelled set.
    epoch_draws: int = 0
    # Stop training after this many epochs without a better validation accuracy (best weights kept); 0: off.
    early_stopping: int = 0
    # Training arithmetic: "float32", "bfloat16" (mixed: float32 weights, loss and softmax; sampling and evaluation
    # stay float32), or "auto" (resolved for this CPU by build_config, so config.json records what ran).
    train_precision: str = "float32"
    out: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def run_ids(self) -> list[str]:
        return [run_id(s, seed) for seed in self.seeds for s in self.strategies]


def mc_masks_for(mode: str, strategy: str) -> str:
    """The mask mode a strategy's runs use: `mode`, with "auto" resolved per strategy."""
    if mode != "auto":
        return mode
    return "consistent" if STRATEGIES[strategy].needs_consistent_masks else AUTO_MC_MASKS


def run_id(strategy: str, seed: int) -> str:
    """A run's name in results, worker names and widget ids."""
    return f"{strategy}-s{seed}"


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
_INT_KEYS = ("queries", "instances", "initial_per_class", "epochs", "batch_size", "mc_samples", "subset")
# Whole numbers that may be 0 (0 = off / all).
_COUNT_KEYS = ("validation", "epoch_draws", "early_stopping")


def _closest(key: str, known: list[str]) -> str:
    match = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def presets_dir() -> Any:
    """The presets: shipped in the wheel as baltui.presets, or presets/ beside an editable checkout."""
    try:
        return resources.files("baltui.presets")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "presets"


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in presets_dir().iterdir() if p.name.endswith(".toml"))


def _read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BaltuiError(f"preset {where} is not valid TOML: {exc}") from None


def load_preset(name_or_path: str) -> dict[str, Any]:
    """Read a preset by name (a file in presets/) or by path; returns its raw values.

    A path is anything with a path separator or ending in .toml; anything else is a preset name, even
    when a file or folder of that name happens to be in the current folder.
    """
    if name_or_path.endswith(".toml") or "/" in name_or_path or (os.sep != "/" and os.sep in name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise BaltuiError(f"preset file {name_or_path} does not exist (a .toml path was given)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BaltuiError(f"cannot read preset {name_or_path}: {exc}") from None
        values = _read_toml(text, name_or_path)
        values.setdefault("name", path.stem)
        return values
    known = preset_names()
    if name_or_path not in known:
        raise BaltuiError(
            f"unknown preset '{name_or_path}'{_closest(name_or_path, known)}; "
            f"known presets: {', '.join(known)} (or give a path to a .toml file)"
        )
    text = presets_dir().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    values = _read_toml(text, name_or_path)
    values.setdefault("name", name_or_path)
    return values


def _check_type(key: str, value: Any) -> Any:
    """Coerce and type-check one value; presets come from users, so be strict but explain."""
    if key == "subset" and value == "all":
        return 0  # score the whole pool
    if key == "weight_decay":
        if value == "auto":
            return value
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise BaltuiError(f"'weight_decay' must be a number C (L2 of C/N) or 'auto', got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise BaltuiError(f"'weight_decay' must be a number C >= 0 (L2 of C/N) or 'auto', got {value!r}")
        return float(value)
    if key in _COUNT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BaltuiError(f"'{key}' must be a whole number >= 0, got {value!r}")
        return value
    if key in _INT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BaltuiError(f"'{key}' must be a whole number, got {value!r}")
        return value
    if key == "beta":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BaltuiError(f"'beta' must be a number, got {value!r}")
        return float(value)
    if key == "strategies":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BaltuiError(f"'strategies' must be a list of names, got {value!r}")
        return value
    if key == "seeds":
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise BaltuiError(f"'seeds' must be a list of whole numbers, got {value!r}")
        return value
    if key in ("name", "description", "dataset", "data", "out", "mc_masks", "model", "train_precision"):
        if value is not None and not isinstance(value, str):
            raise BaltuiError(f"'{key}' must be a string, got {value!r}")
        return value
    raise AssertionError(key)


# Settings a partial preset on the digits takes from the quick preset, not from RunConfig's MNIST-scale
# defaults (batch 128 on a few dozen 8x8 images is too few steps to learn anything).
DIGITS_DEFAULTS_PRESET = "quick"
_SETTINGS = ("queries", "instances", "initial_per_class", "epochs", "batch_size", "mc_samples", "subset", "beta")


def build_config(preset: dict[str, Any], overrides: dict[str, Any] | None = None) -> RunConfig:
    """Merge a preset with flag overrides (flags win) and validate the result."""
    values: dict[str, Any] = {}
    for source in (preset, overrides or {}):
        for key, value in source.items():
            if value is None and key not in ("data", "out"):
                continue
            if key not in _FIELDS:
                raise BaltuiError(f"unknown preset key '{key}'{_closest(key, list(_FIELDS))}")
            values[key] = _check_type(key, value)
    # --model brings its paper's training regime, under any other flag given.
    if overrides and overrides.get("model") and overrides["model"] in MODELS:
        for key, value in MODELS[overrides["model"]].regime.items():
            if overrides.get(key) is None:
                values[key] = value
    # A data file means the npz data set unless the same source named one.
    for source in (preset, overrides or {}):
        if source.get("data") and "dataset" not in source:
            values["dataset"] = "npz"
    if values.get("dataset", RunConfig.dataset) == "digits" and values.get("name") != DIGITS_DEFAULTS_PRESET:
        defaults = load_preset(DIGITS_DEFAULTS_PRESET)
        for key in _SETTINGS:
            if key not in values and key in defaults:
                values[key] = _check_type(key, defaults[key])
    config = RunConfig(**values)
    validate(config)
    config.train_precision = resolve_train_precision(config.train_precision, cpu.cpu_features())
    return config


def warn_unused(config: RunConfig, given: set[str]) -> list[str]:
    """One warning line per setting given that none of the run's strategies reads; returns them."""
    acquisitions = [STRATEGIES[s] for s in config.strategies]
    uses = {"beta": lambda a: a.uses_beta, "mc_samples": lambda a: a.has_scores,
            "subset": lambda a: a.has_scores, "mc_masks": lambda a: a.has_scores}
    lines = []
    for key in sorted(given & set(uses)):
        if not any(uses[key](a) for a in acquisitions):
            readers = [a.name for a in STRATEGIES.values() if uses[key](a)]
            lines.append(f"baltui: warning: --{key.replace('_', '-')} is read only by {', '.join(readers)}; "
                         f"none of this run's strategies ({', '.join(config.strategies)}) uses it")
    for line in lines:
        print(line, file=sys.stderr)
    return lines


def warn_train_precision(config: RunConfig) -> str | None:
    """One warning line when the run trains in bfloat16 on a CPU that only emulates it; returns it."""
    warning = emulation_warning(config.train_precision, cpu.cpu_features())
    if warning:
        print(f"baltui: warning: {warning}", file=sys.stderr)
    return warning


def validate(config: RunConfig) -> None:
    """Refuse impossible settings; data-dependent limits are checked once the data is loaded."""
    for key in _INT_KEYS:
        if key == "subset" and config.subset == 0:
            continue  # "all"
        if getattr(config, key) < 1:
            if key == "subset":
                raise BaltuiError(f"'subset' must be at least 1, or 'all' for the whole pool; got {config.subset}")
            raise BaltuiError(f"'{key}' must be at least 1, got {getattr(config, key)}")
    if config.queries < 1:
        raise BaltuiError("'queries' must be at least 1")
    if config.beta <= 0:
        raise BaltuiError(f"'beta' must be positive, got {config.beta}")
    if not config.strategies:
        raise BaltuiError("no strategies given; known strategies: " + ", ".join(STRATEGIES))
    for name in config.strategies:
        if name not in STRATEGIES:
            raise BaltuiError(
                f"unknown strategy '{name}'{_closest(name, list(STRATEGIES))}; known strategies: "
                + ", ".join(STRATEGIES)
            )
    if len(set(config.strategies)) != len(config.strategies):
        raise BaltuiError("a strategy is listed twice in 'strategies'")
    if config.mc_masks not in MC_MASKS:
        raise BaltuiError(f"'mc_masks' must be one of {', '.join(MC_MASKS)}, got '{config.mc_masks}'")
    if config.mc_masks == "independent":
        needing = [s for s in config.strategies if STRATEGIES[s].needs_consistent_masks]
        if needing:
            raise BaltuiError(
                f"{needing[0]} needs consistent MC-dropout masks (its joint over the batch is wrong with "
                "independent ones); drop --mc-masks independent or run it separately"
            )
    if config.train_precision not in TRAIN_PRECISIONS:
        raise BaltuiError(f"'train_precision' must be one of {', '.join(TRAIN_PRECISIONS)}, "
                          f"got '{config.train_precision}'")
    if config.model not in MODELS:
        raise BaltuiError(f"unknown model '{config.model}'{_closest(config.model, list(MODELS))}; known models: "
                          + ", ".join(MODELS))
    if (config.weight_decay == "auto" or config.early_stopping) and not config.validation:
        what = "--weight-decay auto" if config.weight_decay == "auto" else "--early-stopping"
        raise BaltuiError(f"{what} needs a validation set: give --validation N (pool images set aside)")
    if not config.seeds:
        raise BaltuiError("no seeds given")
    if any(s < 0 for s in config.seeds):
        raise BaltuiError("seeds must be 0 or more")
    if len(set(config.seeds)) != len(config.seeds):
        raise BaltuiError("a seed is listed twice in 'seeds'")
    if config.dataset == "npz":
        if not config.data:
            raise BaltuiError("dataset 'npz' needs a file: give --data FILE.npz")
    elif config.dataset not in DATASETS:
        raise BaltuiError(
            f"unknown dataset '{config.dataset}'; use one of {', '.join(DATASETS)} or --data FILE.npz"
        )
    elif config.data:
        raise BaltuiError(f"--data cannot be combined with dataset '{config.dataset}'; choose one")


def check_against_data(config: RunConfig, pool_size: int, n_classes: int, per_class: dict[int, int]) -> None:
    """Limits that depend on the data: the initial set and all queries must fit in the pool."""
    short = [c for c, n in per_class.items() if n < config.initial_per_class]
    if short:
        raise BaltuiError(
            f"initial_per_class={config.initial_per_class} but class {short[0]} has only "
            f"{per_class[short[0]]} images in the pool; lower --initial-per-class"
        )
    initial = config.initial_per_class * n_classes
    needed = initial + config.queries * config.instances + config.validation
    if needed > pool_size:
        raise BaltuiError(
            f"{config.queries} queries of {config.instances} after {initial} initial labels"
            + (f" and {config.validation} validation images" if config.validation else "")
            + f" need {needed} images but the pool holds {pool_size}; lower --queries or --instances"
        )


def migrate_config(saved: dict[str, Any]) -> dict[str, Any]:
    """A config.json as written by any earlier baltui, in today's keys: the one place old folders are migrated.

    Keys added since keep today's defaults (what those folders ran with), except:
    - `mc_masks`: folders from before mask modes drew independent masks for every strategy.
    - `train_precision`: folders from before it trained in float32 (today's default too, spelled out).
    """
    config = dict(saved)
    config.pop("out", None)  # written by the first versions: the folder itself, an absolute path
    if "mc_masks" not in config:
        config["mc_masks"] = "independent"
    config.setdefault("train_precision", "float32")
    return config
