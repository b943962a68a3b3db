"""Plug-ins: acquisition functions, models and data sets from outside baltui, used without editing it.

Wherever a strategy, a model or a data set is named (flags, a preset's TOML, `baltui.run`), besides a
built-in name it may be
- the name of an entry point of an installed distribution, in group `baltui.acquisitions`, `baltui.models` or
  `baltui.datasets` (`baltui --list-strategies`, `--list-models`, `--list-datasets` show them with their package);
- a reference: `module.path:attr` (an importable module) or `path/to/file.py:attr` (a file anywhere).

Each is the interface the built-ins use themselves:
- strategy: a score function `f(P) -> scores`, P the float [T, N, C] MC-dropout probabilities of the N scored
  points, scores [N], higher queried first (the top k); or a `baltui.core.acquisition.Acquisition` declaring
  what else it needs (consistent masks, penultimate features, gradients, the labelled set, EPIG targets). Its
  run name is the entry point's name, else its `name` attribute, else the attribute's own name.
- model: `build(input_shape, n_classes)` returning a keras.Sequential with at least one Dropout layer (MC
  dropout samples from the first one on); optional attributes `regime` (settings applied with `--model`, as
  batchbald2019's ModelSpec declares) and `min_size` (the smallest image side it takes).
- data set: `load()` returning ((x_train, y_train), (x_test, y_test)) or a dict with those four keys.

A bad one is one BaltuiError line before any folder is made: `find_spec` first (a missing module is named,
nothing imported), then the attribute, then whether it is callable with the interface's arguments (a model is
built once for the data by baltui.core.data_checks, before any folder). Loaded plug-ins are kept per
process; a file is read again and re-imported when its bytes change, so what runs is what baltui.runs.provenance
hashes.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from baltui.core.acquisition import STRATEGIES, Acquisition, score_function
from baltui.core.data import DATASETS, DESCRIPTIONS, SPLITS, make_dataset
from baltui.core.dataset import Dataset
from baltui.core.errors import BaltuiError
from baltui.core.models import MODELS, ModelSpec

KINDS = ("strategy", "model", "dataset")
GROUPS = {"strategy": "baltui.acquisitions", "model": "baltui.models", "dataset": "baltui.datasets"}
BUILT_IN = "baltui"  # the package a built-in comes from, as the listings say
# A strategy's name is a run id, a report row and (sanitised) a widget id: no ':' (it would read as a reference),
# no ',' (a list), no space or '/'.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_INTERFACE = {
    "strategy": (1, "a score function f(P) -> scores (P: MC-dropout probabilities [T, N, C]) or an Acquisition"),
    "model": (2, "build(input_shape, n_classes) returning a keras.Sequential with a Dropout layer"),
    "dataset": (0, "load() returning ((x_train, y_train), (x_test, y_test)) or a dict with those keys"),
}
_BALTUI_DIR = Path(__file__).resolve().parents[1]


# ---- names -------------------------------------------------------------------------------------------
def is_reference(token: str) -> bool:
    """`module:attr` or `file.py:attr`, as opposed to a name (built-in or entry point)."""
    return ":" in token


def _split(token: str) -> tuple[str, str]:
    target, _, attr = token.rpartition(":")
    if not target or not _DOTTED.fullmatch(attr):
        raise BaltuiError(f"'{token}' is not a plug-in reference; write module.path:attr or path/to/file.py:attr")
    return target, attr


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def canonical(token: str) -> str:
    """A token as recorded: a file reference with its file's absolute path (a resume or a Ray worker may start
    elsewhere); anything else as given."""
    if not is_reference(token):
        return token
    target, attr = _split(token)
    return f"{Path(target).expanduser().resolve()}:{attr}" if _is_file(target) else token


def short(token: str) -> str:
    """A reference as messages show it: a file by its name, not its whole path."""
    if not is_reference(token):
        return token
    target, attr = token.rpartition(":")[::2]
    return f"{Path(target).name}:{attr}" if _is_file(target) else token


def describe(exc: BaseException) -> str:
    """An exception in the one line a message has room for: its type and its first line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


# ---- finding and loading -------------------------------------------------------------------------------
def entry_points(kind: str) -> dict[str, metadata.EntryPoint]:
    """The installed entry points of a kind by name (the first found on sys.path wins, as an import would)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=GROUPS[kind]):
        found.setdefault(ep.name, ep)
    return found


@dataclass(frozen=True)
class Loaded:
    """A plug-in's object and where it came from."""

    kind: str
    reference: str  # canonical: an entry point's name, module:attr, or /absolute/file.py:attr
    obj: Any
    attr: str  # the attribute's own name (the last part of attr)
    module: Any  # the module object it was taken from
    entry_point: metadata.EntryPoint | None = None

    @property
    def distribution(self) -> tuple[str, str] | None:
        """(name, version) of the installed distribution it came from, if any."""
        if self.entry_point is not None and self.entry_point.dist is not None:
            return self.entry_point.dist.name, self.entry_point.dist.version
        if is_reference(self.reference) and not _is_file(self.reference.rpartition(":")[0]):
            top = self.module.__name__.split(".")[0]
            for dist in metadata.packages_distributions().get(top, []):
                try:
                    return dist, metadata.version(dist)
                except metadata.PackageNotFoundError:
                    continue
        return None

    @property
    def label(self) -> str:
        """How messages name it: 'NAME (entry point of PACKAGE)' or the reference, a file by its name."""
        if self.entry_point is not None:
            package = f" of {self.distribution[0]}" if self.distribution else ""
            return f"entry point {self.reference}{package}"
        return short(self.reference)

    def files(self) -> list[Path]:
        """Its source files (the module's and those defining it or its score and select), baltui's own left out."""
        found: list[Path] = []
        candidates = [getattr(self.module, "__file__", None)]
        for obj in (self.obj, getattr(self.obj, "score", None), getattr(self.obj, "select", None)):
            try:
                candidates.append(inspect.getsourcefile(obj) if obj is not None else None)
            except TypeError:  # a built-in or an instance: no source file of its own
                pass
        for name in candidates:
            if not name:
                continue
            path = Path(name).resolve()
            if path.is_file() and path not in found and _BALTUI_DIR not in path.parents:
                found.append(path)
        return found


_FILE_MODULES: dict[tuple[str, str], Any] = {}  # (path, sha256 of its bytes) -> the module executed from them
_CACHE: dict[tuple[str, str, str], Any] = {}  # (kind, canonical token, file sha256 or "") -> what it resolved to


def _exec_file(kind: str, token: str, path: Path, source: bytes) -> Any:
    """A .py file run as a module of its own (registered in sys.modules, as dataclasses and pickling need)."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"baltui_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)  # the very bytes that were hashed
    except Exception as exc:  # the plug-in's own code: any error is its failure to import
        sys.modules.pop(name, None)
        raise BaltuiError(f"{kind} plug-in {short(token)}: importing {path.name} failed: {describe(exc)}") from None
    return module


def _import(kind: str, token: str, target: str, attr: str) -> Any:
    if not _DOTTED.fullmatch(target):
        raise BaltuiError(f"{kind} plug-in '{token}': '{target}' is neither a module path (my_pkg.scores) nor a "
                          ".py file (path/to/file.py)")
    try:
        spec = importlib.util.find_spec(target)
    except ModuleNotFoundError:  # a parent package is missing
        spec = None
    except Exception as exc:  # a parent package fails to import
        raise BaltuiError(f"{kind} plug-in {token}: importing {target} failed: {describe(exc)}") from None
    if spec is None:
        leaf = target.rsplit(".", 1)[-1]
        raise BaltuiError(f"{kind} plug-in {token}: no module named '{target}'; install the package that has it "
                          f"(pip install -e DIR), or name its file: path/to/{leaf}.py:{attr}")
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise BaltuiError(f"{kind} plug-in {token}: importing {target} failed: {describe(exc)}") from None


def _attribute(kind: str, token: str, module: Any, attr: str, where: str) -> Any:
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))
                      and not inspect.ismodule(getattr(module, n, None))]
            match = difflib.get_close_matches(attr, public, n=1)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise BaltuiError(f"{kind} plug-in {short(token)}: {where} has no attribute '{attr}'{hint}") from None
    return obj


def _load(kind: str, token: str) -> Loaded | None:
    """The plug-in `token` names, or None when it is neither a reference nor an installed entry point's name."""
    if not is_reference(token):
        ep = entry_points(kind).get(token)
        if ep is None:
            return None
        try:
            obj = ep.load()
        except Exception as exc:
            dist = f" of {ep.dist.name}" if ep.dist is not None else ""
            raise BaltuiError(f"{kind} plug-in {token} (entry point {ep.value}{dist}) failed to load: "
                              f"{describe(exc)}") from None
        module = sys.modules.get(ep.module)
        return Loaded(kind, token, obj, ep.attr.rsplit(".", 1)[-1], module, ep)
    target, attr = _split(token)
    if _is_file(target):
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise BaltuiError(f"{kind} plug-in {short(token)}: there is no file {path}; give an existing .py file "
                              f"(path/to/file.py:{attr})")
        source = path.read_bytes()
        key = (str(path), hashlib.sha256(source).hexdigest())
        if key not in _FILE_MODULES:
            _FILE_MODULES[key] = _exec_file(kind, token, path, source)
        module, where = _FILE_MODULES[key], path.name
    else:
        module, where = _import(kind, token, target, attr), f"module {target}"
    obj = _attribute(kind, token, module, attr, where)
    return Loaded(kind, canonical(token), obj, attr.rsplit(".", 1)[-1], module)


def load(kind: str, token: str) -> Loaded | None:
    """What a plug-in token names, with where it came from (for provenance); None for a built-in or an unknown
    name. A file is read again, so a changed one is loaded as it is now."""
    if token in {"strategy": STRATEGIES, "model": MODELS, "dataset": DATASETS}[kind]:
        return None
    return _load(kind, canonical(token))


def is_file_reference(token: str) -> bool:
    """A reference to a .py file (path/to/file.py:attr), as opposed to a module or a name."""
    return is_reference(token) and _is_file(token.rpartition(":")[0])


def _resolved(kind: str, token: str, make: Callable[[Loaded], Any]) -> Any:
    """`make` of the plug-in `token` names, kept per process (a file's again when its bytes change)."""
    token = canonical(token)
    digest = ""
    if is_reference(token) and _is_file(token.rpartition(":")[0]):
        path = Path(token.rpartition(":")[0])
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    key = (kind, token, digest)
    if key not in _CACHE:
        loaded = _load(kind, token)
        if loaded is None:
            raise BaltuiError(f"unknown {kind} '{token}': not built in, not an installed plug-in "
                              f"(baltui --list-{_plural(kind)}), not a reference module:attr or file.py:attr")
        _CACHE[key] = make(loaded)
    return _CACHE[key]


def _plural(kind: str) -> str:
    return {"strategy": "strategies", "model": "models", "dataset": "datasets"}[kind]


def _check_callable(loaded: Loaded, fn: Any = None, args: int | None = None, what: str | None = None) -> None:
    """Callable with the interface's arguments, or one line saying what it takes and what it must be."""
    n, interface = _INTERFACE[loaded.kind]
    fn = loaded.obj if fn is None else fn
    args = n if args is None else args
    what = interface if what is None else what
    if not callable(fn):
        raise BaltuiError(f"{loaded.kind} plug-in {loaded.label} is a {type(fn).__name__}, not callable; it must be "
                          f"{what}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read (a C function): calling it will tell
        return
    try:
        signature.bind(*range(args))
    except TypeError:
        params = ", ".join(str(p.replace(annotation=inspect.Parameter.empty)) for p in signature.parameters.values())
        raise BaltuiError(f"{loaded.kind} plug-in {loaded.label} takes ({params}); it must be {what}") from None


# ---- strategies --------------------------------------------------------------------------------------
def _strategy_name(loaded: Loaded) -> str:
    if loaded.entry_point is not None:
        name = loaded.reference
    else:
        declared = getattr(loaded.obj, "name", None)
        name = declared if isinstance(declared, str) and declared else loaded.attr
    if not NAME.fullmatch(name):
        raise BaltuiError(f"strategy plug-in {loaded.label} is named {name!r}; a strategy's name is up to 40 "
                          "letters, digits, '_', '.' or '-': give it a short `name` attribute (f.name = 'mine')")
    if name in STRATEGIES:
        raise BaltuiError(f"strategy plug-in {loaded.label} is named '{name}', as a built-in strategy is; give it "
                          "another name (its `name` attribute, f.name = 'my_" + name + "')")
    return name


def _acquisition(loaded: Loaded) -> Acquisition:
    name = _strategy_name(loaded)
    plugin = f"{name} ({loaded.label})" if name != loaded.reference else loaded.label
    obj = loaded.obj
    if isinstance(obj, Acquisition):
        if obj.score is not None:
            _check_callable(loaded, obj.score, 1, "an Acquisition whose score takes QueryInputs")
        _check_callable(loaded, obj.select, 5, "an Acquisition whose select takes (inputs, scores, k, rng, beta)")
        return replace(obj, name=name, plugin=plugin)
    _check_callable(loaded)
    return score_function(name, _summary(obj) or f"plug-in {loaded.label}", obj, plugin=plugin)


def strategy(token: str) -> Acquisition:
    """The Acquisition a strategy token names: a built-in, an installed plug-in's name, or a reference."""
    if token in STRATEGIES:
        return STRATEGIES[token]
    return _resolved("strategy", token, _acquisition)


def name_strategies(tokens: list[str], references: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The run names of `tokens` (a run name in `references` stands for its reference), and the reference of
    each name that came from one. Two strategies of one name are refused: their runs would be one run."""
    names: list[str] = []
    refs: dict[str, str] = {}
    for token in tokens:
        ref = references.get(token, token)
        acquisition = strategy(ref)
        if acquisition.name in names:
            raise BaltuiError(f"two strategies are named '{acquisition.name}' ({short(ref)} is one); give one of "
                              "them another name (its `name` attribute)")
        names.append(acquisition.name)
        if is_reference(ref):
            refs[acquisition.name] = canonical(ref)
    return names, refs


# ---- models ------------------------------------------------------------------------------------------
def _model_spec(loaded: Loaded) -> ModelSpec:
    _check_callable(loaded)
    regime = getattr(loaded.obj, "regime", {})
    if not isinstance(regime, dict) or not all(isinstance(k, str) for k in regime):
        raise BaltuiError(f"model plug-in {loaded.label}: its `regime` must be a dict of settings "
                          "({'epochs': 30, 'batch_size': 64}), not " + type(regime).__name__)
    min_size = getattr(loaded.obj, "min_size", 1)
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise BaltuiError(f"model plug-in {loaded.label}: its `min_size` must be a whole number of pixels >= 1, "
                          f"not {min_size!r}")
    return ModelSpec(loaded.reference, "", _summary(loaded.obj) or f"plug-in {loaded.label}", dict(regime),
                     min_size, builder=loaded.obj, plugin=loaded.label)


def model(token: str) -> ModelSpec:
    """The ModelSpec a model token names: a built-in, an installed plug-in's name, or a reference."""
    if token in MODELS:
        return MODELS[token]
    return _resolved("model", token, _model_spec)


# ---- data sets ---------------------------------------------------------------------------------------
def _loader(loaded: Loaded) -> Loaded:
    _check_callable(loaded)
    return loaded


def _arrays(value: Any) -> dict[str, np.ndarray] | None:
    """The keras layout as four named arrays, or None when `value` is not in it."""
    if isinstance(value, dict):
        return {k: np.asarray(value[k]) for k in SPLITS} if all(k in value for k in SPLITS) else None
    try:
        (x_train, y_train), (x_test, y_test) = value
    except (TypeError, ValueError):
        return None
    return dict(zip(SPLITS, (np.asarray(x_train), np.asarray(y_train), np.asarray(x_test), np.asarray(y_test)),
                    strict=True))


def load_dataset(token: str) -> Dataset:
    """The data a data-set plug-in returns, checked as any data (baltui.core.data.make_dataset)."""
    loaded = _resolved("dataset", token, _loader)
    try:
        value = loaded.obj()
    except BaltuiError:
        raise
    except Exception as exc:
        raise BaltuiError(f"dataset plug-in {loaded.label} failed: {describe(exc)}") from None
    arrays = _arrays(value)
    if arrays is None:
        raise BaltuiError(f"dataset plug-in {loaded.label} returned a {type(value).__name__}; expected "
                          "((x_train, y_train), (x_test, y_test)) or a dict with x_train, y_train, x_test, y_test")
    declared = getattr(loaded.obj, "name", None)
    name = declared if isinstance(declared, str) and declared else (
        loaded.reference if loaded.entry_point is not None else loaded.attr)
    return make_dataset(name, arrays, where=f"dataset plug-in {loaded.label}")


def known(kind: str, token: str) -> bool:
    """Whether `token` names a plug-in of `kind`: False when it is neither a reference nor an installed entry
    point's name; a reference or entry point that is there but unusable is a BaltuiError saying why."""
    if not is_reference(token) and token not in entry_points(kind):
        return False
    {"strategy": strategy, "model": model, "dataset": lambda t: _resolved("dataset", t, _loader)}[kind](token)
    return True


# ---- what --list-* print -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    name: str
    package: str
    description: str


def _built_ins(kind: str) -> dict[str, str]:
    if kind == "strategy":
        return {a.name: a.description for a in STRATEGIES.values()}
    if kind == "model":
        return {m.name: m.description for m in MODELS.values()}
    return {name: DESCRIPTIONS.get(name) or _summary(load) for name, load in DATASETS.items()}


def listing(kind: str) -> list[Listed]:
    """The built-ins (package 'baltui'), then each installed plug-in with its package and what it is (or why
    it cannot be used)."""
    built_in = _built_ins(kind)
    rows = [Listed(name, BUILT_IN, text) for name, text in built_in.items()]
    for name, ep in sorted(entry_points(kind).items()):
        package = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "?"
        if name in built_in:
            rows.append(Listed(name, package, f"hidden by the built-in {name}: rename the entry point"))
            continue
        try:
            if kind == "strategy":
                text = strategy(name).description
            elif kind == "model":
                text = model(name).description
            else:
                text = _summary(_resolved("dataset", name, _loader).obj) or f"plug-in {ep.value}"
        except BaltuiError as exc:
            text = f"cannot be used: {exc}"
        rows.append(Listed(name, package, text))
    return rows
