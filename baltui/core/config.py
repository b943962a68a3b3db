"""Experiment configuration: presets (TOML), flag overrides, validation, and old config.json read today.

Everything a user can get wrong is checked here, before TensorFlow is imported, so a typo costs
one clear line and exit code 2 rather than a traceback after a slow start. What each setting is (type,
default, range) is declared once, in the settings table (baltui.core.settings); this module holds what
the table cannot say alone: presets, the rules that tie settings together, and migrate_config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sys
import tomllib
from dataclasses import field
from importlib import resources
from pathlib import Path
from typing import Any

from baltui.core import cpu, plugins
from baltui.core.acquisition import STRATEGIES, Acquisition
from baltui.core.data import DATASETS as DATASET_LOADERS
from baltui.core.errors import BaltuiError
from baltui.core.models.precision import emulation_warning, resolve_train_precision
from baltui.core.recipes import NONE as NO_RECIPE
from baltui.core.recipes import canonical as canonical_recipe
from baltui.core.settings import ALWAYS_SAVED, SETTING, SETTINGS, closest
from baltui.core.settings import EXPERIMENT_KEYS as EXPERIMENT_KEYS  # re-exported: callers import them from here
from baltui.core.settings import MC_MASKS as MC_MASKS
from baltui.core.stopping import check_rules, parse_rules

DATASETS = tuple(DATASET_LOADERS)  # the names data.py's registry loads (it imports only numpy at the top)
FOLDER = "folder"  # the dataset of --data DIR: an image folder (baltui.core.image_folder); "npz": --data FILE.npz
FOLDER_KEYS = ("test_fraction", "image_size")  # the settings only an image folder reads
DEFAULT_PRESET = "quick"
# What "auto" picks for strategies that do not need consistent masks: the faster one (`baltui bench`).
AUTO_MC_MASKS = "independent"


def _to_dict(self: Any) -> dict[str, Any]:
    return dataclasses.asdict(self)


def _run_ids(self: Any) -> list[str]:
    return [run_id(s, seed) for seed in self.seeds for s in self.strategies]


def _field(default: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default))
    return field(default=default)


# One experiment: every (strategy, seed) pair is a run sharing these settings. Its fields are the settings
# table's rows (baltui.core.settings.SETTINGS, in that order, with their defaults) between a name and
# description and the run folder `out`; a dataclass made from the table, so a new row is a new field.
RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [("name", "str", field(default="custom")), ("description", "str", field(default="")),
     *((s.name, s.annotation, _field(s.default)) for s in SETTINGS),
     # The reference (module:attr, /abs/file.py:attr) of each strategy named after one (baltui.core.plugins):
     # `strategies` holds run names, and a run name stands for its reference here, on --resume and in Ray workers.
     ("strategy_references", "dict[str, str]", field(default_factory=dict)),
     ("out", "str | None", field(default=None))],
    namespace={
        "__doc__": "One experiment: every (strategy, seed) pair is a run sharing these settings "
                   "(one field per row of baltui.core.settings.SETTINGS).",
        "to_dict": _to_dict,
        "run_ids": property(_run_ids, doc="The runs' names, seed by seed."),
    },
)
RunConfig.__module__ = __name__  # pickled by reference (Ray tasks), so it must name this module


def mc_masks_for(mode: str, strategy: str | Acquisition) -> str:
    """The mask mode a strategy's runs use: `mode`, with "auto" resolved per strategy (a built-in's name or an
    Acquisition, as a plug-in resolves to)."""
    if mode != "auto":
        return mode
    acquisition = STRATEGIES[strategy] if isinstance(strategy, str) else strategy
    return "consistent" if acquisition.needs_consistent_masks else AUTO_MC_MASKS


def acquisitions(config: RunConfig) -> dict[str, Acquisition]:
    """Each strategy of `config` by run name: a built-in, or the plug-in its name or reference resolves to."""
    return {name: plugins.strategy(config.strategy_references.get(name, name)) for name in config.strategies}


def run_id(strategy: str, seed: int) -> str:
    """A run's name in results, worker names and widget ids (through `safe_id`)."""
    return f"{strategy}-s{seed}"


def safe_id(name: str) -> str:
    """A name (a run id: a plug-in's name may hold '.') as a Textual widget id or a file name: letters, digits,
    '_' and '-' as they are; anything else '_', with a short hash of the name so two names stay two ids."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe == name:
        return name
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


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
            f"unknown preset '{name_or_path}'{closest(name_or_path, known)}; "
            f"known presets: {', '.join(known)} (or give a path to a .toml file)"
        )
    text = presets_dir().joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    values = _read_toml(text, name_or_path)
    values.setdefault("name", name_or_path)
    return values


def _check_type(key: str, value: Any) -> Any:
    """Coerce and check one value by its row of the settings table; presets come from users, so be strict
    but explain. name, description, out and strategy_references (validate's, from `strategies`) are the only keys
    outside the table."""
    if key in SETTING:
        return SETTING[key].parse(value)
    if key == "strategy_references":  # written by validate (run name -> reference), read back from config.json
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise BaltuiError(f"'strategy_references' must map run names to references, got {value!r}")
        return dict(value)
    if value is not None and not isinstance(value, str):
        raise BaltuiError(f"'{key}' must be a string, got {value!r}")
    return value


# Settings a partial preset on the digits takes from the quick preset, not from RunConfig's MNIST-scale
# defaults (the rows marked digits_from_quick).
DIGITS_DEFAULTS_PRESET = "quick"
_DIGITS_FROM_QUICK = tuple(s.name for s in SETTINGS if s.digits_from_quick)


def build_config(preset: dict[str, Any], overrides: dict[str, Any] | None = None) -> RunConfig:
    """Merge a preset with flag overrides (flags win) and validate the result."""
    values: dict[str, Any] = {}
    for source in (preset, overrides or {}):
        # A saved config's plug-in strategies are run names standing for their references (validate names them).
        refs = _check_type("strategy_references", source.get("strategy_references") or {})
        for key, value in source.items():
            if value is None and key not in ("data", "out"):
                continue
            if key not in _FIELDS:
                raise BaltuiError(f"unknown preset key '{key}'{closest(key, list(_FIELDS))}")
            if key == "strategies" and refs and isinstance(value, list):
                value = [refs.get(v, v) if isinstance(v, str) else v for v in value]
            values[key] = _check_type(key, value)
    # --model brings its paper's training regime (a plug-in's `regime`), under any other flag given.
    if overrides and overrides.get("model"):
        spec = plugins.model(overrides["model"])
        for key, value in spec.regime.items():
            if overrides.get(key) is None:
                values[key] = _regime_value(spec.plugin, key, value) if spec.plugin else value
    # A data file means the npz data set, a data folder an image folder, unless the same source named one.
    for source in (preset, overrides or {}):
        if source.get("data") and "dataset" not in source:
            values["dataset"] = FOLDER if Path(str(source["data"])).is_dir() else "npz"
    if values.get("dataset", SETTING["dataset"].default) == "digits" and values.get("name") != DIGITS_DEFAULTS_PRESET:
        defaults = load_preset(DIGITS_DEFAULTS_PRESET)
        for key in _DIGITS_FROM_QUICK:
            if key not in values and key in defaults:
                values[key] = _check_type(key, defaults[key])
    config = RunConfig(**values)
    validate(config)
    config.train_precision = resolve_train_precision(config.train_precision, cpu.cpu_features())
    return config


# What a model's regime may not set: what the experiment is (strategies, data, length), not how the model trains.
_NOT_REGIME = ("strategies", "seeds", "queries", "model", "dataset", "data", "recipe", "recipe_seed", "initial_set")


def _regime_value(plugin: str, key: str, value: Any) -> Any:
    """A plug-in model's regime value, checked as the setting it sets (a built-in's are right by construction)."""
    if key not in SETTING or key in _NOT_REGIME:
        raise BaltuiError(f"model plug-in {plugin}: its regime sets '{key}', not a training setting; a regime sets "
                          "settings such as epochs, batch_size, epoch_draws, early_stopping, validation, weight_decay")
    try:
        return SETTING[key].parse(value)
    except BaltuiError as exc:
        raise BaltuiError(f"model plug-in {plugin}: its regime: {exc}") from None


def migrate_config(saved: dict[str, Any]) -> dict[str, Any]:
    """A config.json as this version reads it, whatever version wrote it: the one place old configs are read.

    Returns a new dict; `saved` is left as it is. Every setting added after the first config.json gets the
    value runs used before it existed (the rows' `legacy`: mc_masks "independent", model "seed",
    weight_decay 0, validation, epoch_draws and early_stopping 0). `subset` 0, how config.json writes the
    whole pool, becomes "all", the way a user writes it, so the result goes into `build_config` as it is.
    Other keys (provenance, out, ...) are kept unchanged. Nothing is judged here (reading a folder must
    not fail on a setting): `build_config` checks the values. A `saved` that is not a JSON object is the
    one refusal, as a BaltuiError.
    """
    if not isinstance(saved, dict):
        raise BaltuiError(f"a baltui config is a JSON object of settings, not {type(saved).__name__}")
    migrated = dict(saved)
    for s in SETTINGS:
        if s.name not in migrated and s.legacy is not ALWAYS_SAVED:
            migrated[s.name] = s.legacy
    if migrated.get("subset") == 0 and not isinstance(migrated["subset"], bool):
        migrated["subset"] = SETTING["subset"].word
    return migrated


def warn_train_precision(config: RunConfig) -> str | None:
    """One warning line when the run trains in bfloat16 on a CPU that only emulates it; returns it."""
    warning = emulation_warning(config.train_precision, cpu.cpu_features())
    if warning:
        print(f"baltui: warning: {warning}", file=sys.stderr)
    return warning


def warn_unused(config: RunConfig, given: set[str]) -> list[str]:
    """One warning line per setting given that none of the run's strategies reads; returns them."""
    used = list(acquisitions(config).values())
    lines = []
    for key in sorted(given & set(SETTING)):
        read_by = SETTING[key].read_by
        if read_by is not None and not any(read_by(a) for a in used):
            lines.append(f"baltui: warning: {SETTING[key].flag} is read only by {', '.join(SETTING[key].readers())}; "
                         f"none of this run's strategies ({', '.join(config.strategies)}) uses it")
    if "recipe_seed" in given and config.recipe == NO_RECIPE:
        lines.append("baltui: warning: --recipe-seed is read only by a recipe; this run has none (--recipe)")
    for key in FOLDER_KEYS:
        if key in given and config.dataset != FOLDER:
            lines.append(f"baltui: warning: {SETTING[key].flag} is read only for an image folder (--data DIR); "
                         "this run has none")
    for line in lines:
        print(line, file=sys.stderr)
    return lines


def validate(config: RunConfig) -> None:
    """Refuse impossible settings: each value by its row of the settings table, then the rules that tie
    settings together; data-dependent limits are checked once the data is loaded (check_against_data)."""
    refs = _check_type("strategy_references", config.strategy_references)
    for s in SETTINGS:
        value = getattr(config, s.name)
        s.check([refs.get(v, v) for v in value] if s.name == "strategies" and isinstance(value, list) else value)
    # Plug-ins by reference: strategies become run names (their references kept beside them), file paths absolute.
    config.strategies, config.strategy_references = plugins.name_strategies(config.strategies, refs)
    config.model = plugins.canonical(config.model)
    config.dataset = plugins.canonical(config.dataset)
    if config.subset and config.subset < config.instances:
        raise BaltuiError(f"'subset' ({config.subset}) is below 'instances' ({config.instances}): a query labels "
                          "its instances out of the subset of the pool it scores; raise --subset (or give all) "
                          "or lower --instances")
    if config.mc_masks == "independent":
        needing = [name for name, a in acquisitions(config).items() if a.needs_consistent_masks]
        if needing:
            raise BaltuiError(
                f"{needing[0]} needs consistent MC-dropout masks (its joint over points is wrong with "
                "independent ones); drop --mc-masks independent or run it separately"
            )
    check_rules(parse_rules(config.stop_when), config.strategies)
    config.recipe = canonical_recipe(config.recipe)  # a bad recipe is one line here, before any data is loaded
    if (config.weight_decay == "auto" or config.early_stopping) and not config.validation:
        what = "--weight-decay auto" if config.weight_decay == "auto" else "--early-stopping"
        raise BaltuiError(f"{what} needs a validation set: give --validation N (pool images set aside)")
    if config.dataset in ("npz", FOLDER):
        if not config.data:
            raise BaltuiError(f"dataset '{config.dataset}' needs its data: give --data "
                              + ("DIR" if config.dataset == FOLDER else "FILE.npz"))
    elif config.dataset not in DATASETS and not plugins.known("dataset", config.dataset):
        installed = "".join(f", {name}" for name in plugins.entry_points("dataset") if name not in DATASETS)
        raise BaltuiError(
            f"unknown dataset '{config.dataset}'; use one of {', '.join(DATASETS)}{installed} or --data FILE.npz "
            "or DIR, "
            "or a plug-in's loader module:attr or path/to/file.py:attr (baltui --list-datasets)"
        )
    elif config.data:
        raise BaltuiError(f"--data cannot be combined with dataset '{config.dataset}'; choose one")


def check_against_data(config: RunConfig, pool_size: int, n_classes: int, per_class: dict[int, int]) -> None:
    """Limits that depend on the data: the initial set and all queries must fit in the pool (a random initial
    set takes no class into account, so only its size must fit)."""
    balanced = config.initial_set == "balanced"
    short = [c for c, n in per_class.items() if n < config.initial_per_class] if balanced else []
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
