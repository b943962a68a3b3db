"""Where a run's numbers came from, recorded in config.json beside the settings.

Why: a results table is only as good as what it can be traced back to. The data is identified by
the hash of its arrays (a swapped file, or an image folder whose images changed, is refused on --resume,
and references are matched by content, not name), an image folder also by its class names and the hash
of its files; the versions, the CPU with its bfloat16 features, and the training precision and
evaluation path say what computed the numbers. Nothing here needs TensorFlow imported: versions come
from the installed packages' metadata. A plug-in (baltui.core.plugins) is recorded by its module, its
package's version and the sha256 of its source files, so --resume can refuse code that changed under a run.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from baltui.core import plugins
from baltui.core.errors import BaltuiError
from baltui.version import __version__

PACKAGES = ("tensorflow", "keras", "numba", "modAL-python", "numpy", "scikit-learn")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def relative_data_path(data: str, run_dir: Path) -> str:
    """The data file as recorded: relative to the run folder, so the folder can move with its data
    (or be committed) and be resumed from anywhere; as given where no relative path exists."""
    try:
        return os.path.relpath(Path(data).resolve(), Path(run_dir).resolve())
    except ValueError:  # another drive (Windows)
        return data


def resolve_data_path(data: str, run_dir: Path) -> Path | None:
    """A recorded data path (a file, or an image folder): relative to the run folder first, then to the current
    folder."""
    path = Path(data).expanduser()
    for candidate in ((path,) if path.is_absolute() else (Path(run_dir) / path, path)):
        if candidate.is_file() or candidate.is_dir():
            return candidate
    return None


def _git_commit() -> str | None:
    """The checkout's commit (with "-dirty" when it has changes) when baltui runs from one."""
    here = Path(__file__).resolve().parents[2]
    if not (here / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def collect(dataset: Any, data_file: str | None, train_precision: str) -> dict[str, Any]:
    """The provenance block of config.json for a run on `dataset` (loaded from `data_file`, if any) that trains
    in `train_precision` (resolved): the CPU's bfloat16 features say whether that ran natively. Evaluation is one
    float32 pass (accuracy and the test metrics from the same probabilities); older folders may name the bfloat16
    path."""
    from baltui.core import cpu

    features = cpu.cpu_features()
    block: dict[str, Any] = {
        "data_sha256": dataset.content_sha256,
        "data_name": dataset.name,
        "n_classes": int(dataset.n_classes),
        "input_shape": list(dataset.input_shape),
        "baltui": __version__,
        "git_commit": _git_commit(),
        "versions": _versions(),
        "python": platform.python_version(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "cpu_features": features.to_dict(),
        "training": train_precision,  # bfloat16 without a bfloat16 cpu_feature is emulated (slower, as valid)
        "evaluation": "float32",  # one float32 pass gives accuracy and every test metric (loop.evaluate)
    }
    if getattr(dataset, "recipe", "none") != "none":
        # data_sha256 is then the recipe's arrays' (the report's rows and the papers follow it); this is the
        # data it was made from, so a Repeated MNIST can still be traced to the MNIST it repeats
        block["recipe"] = dataset.recipe
        block["source_sha256"] = dataset.source_sha256
    if getattr(dataset, "class_names", None) is not None:
        block["class_names"] = list(dataset.class_names)
    if getattr(dataset, "folder", None) is not None:  # an image folder: its files' hash and its test split
        block["data_folder"] = dataset.folder.provenance()
    elif data_file:
        path = Path(data_file)
        block["data_file"] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    return block


def check_same_data(provenance: dict[str, Any] | None, dataset: Any, where: str) -> None:
    """Refuse to continue a run on data whose content differs from what it started on."""
    provenance = provenance or {}
    expected = provenance.get("data_sha256")
    if expected and expected != dataset.content_sha256:
        folder = getattr(dataset, "folder", None)
        if folder is None:
            original = "give the original file with --data"
        elif folder.files_sha256 == (provenance.get("data_folder") or {}).get("files_sha256"):
            original = "its files are the same but read differently here (another Pillow?)"
        else:
            original = "its images changed (files added, removed or edited); give the original folder with --data"
        raise BaltuiError(
            f"the data for {where} differs from the data it was started on (sha256 {dataset.content_sha256[:12]} "
            f"vs {expected[:12]}); {original}"
        )
    names = getattr(dataset, "class_names", None)
    recorded = provenance.get("class_names")
    if recorded is not None and names is not None and list(names) != recorded:
        raise BaltuiError(f"the classes of {where}'s data are {', '.join(names)} but it was started on "
                          f"{', '.join(map(str, recorded))}; give the original folder with --data")


# ---- plug-ins ------------------------------------------------------------------------------------------
def recorded_reference(token: str, run_dir: Path) -> str:
    """A plug-in reference as config.json records it: a file relative to the run folder (as the data file is),
    so a folder holds no absolute path and moves with what it ran; anything else as it is."""
    if not plugins.is_file_reference(token):
        return token
    target, _, attr = token.rpartition(":")
    try:
        return f"{os.path.relpath(Path(target).resolve(), Path(run_dir).resolve())}:{attr}"
    except ValueError:  # another drive (Windows)
        return token


def reference_from_folder(token: str, run_dir: Path) -> str:
    """A recorded file reference (relative to its run folder) as an absolute one; anything else as it is."""
    if not plugins.is_file_reference(token):
        return token
    target, _, attr = token.rpartition(":")
    path = Path(target).expanduser()
    return token if path.is_absolute() else f"{(Path(run_dir) / path).resolve()}:{attr}"


def _source_name(path: Path, loaded: plugins.Loaded, run_dir: Path) -> str:
    """A plug-in's source file as provenance names it: inside its package (baltui_example_plugins/scores.py), or
    relative to the run folder (a plug-in file), never an absolute path of this machine."""
    name = getattr(loaded.module, "__name__", "")
    top = sys.modules.get(name.split(".")[0]) if name and not name.startswith("baltui_plugin_") else None
    if top is not None and getattr(top, "__file__", None):
        root = Path(top.__file__).resolve().parent
        root = root.parent if hasattr(top, "__path__") else root
        if root in path.parents:
            return path.relative_to(root).as_posix()
    try:
        return os.path.relpath(path, Path(run_dir).resolve())
    except ValueError:
        return path.name


def plugin_provenance(kind: str, token: str, run_dir: Path, name: str | None = None) -> dict[str, Any] | None:
    """Where a plug-in came from, for config.json: its module, its distribution's version (if installed from
    one) and the sha256 of its source files, as they are now. None for a built-in."""
    loaded = plugins.load(kind, token)
    if loaded is None:
        return None
    dist = loaded.distribution
    reference = recorded_reference(loaded.reference, run_dir)
    from_file = loaded.entry_point is None and plugins.is_file_reference(loaded.reference)
    return {
        "kind": kind,
        "name": name or reference,
        "reference": reference,
        "entry_point": loaded.entry_point.value if loaded.entry_point is not None else None,
        "module": reference.rpartition(":")[0] if from_file else getattr(loaded.module, "__name__", None),
        "distribution": dist[0] if dist else None,
        "version": dist[1] if dist else None,
        "files": {_source_name(path, loaded, run_dir): file_sha256(path) for path in loaded.files()},
    }


def plugins_used(config: Any, run_dir: Path) -> list[dict[str, Any]]:
    """The provenance of every plug-in a RunConfig uses: its strategies (by run name), its model, its data set."""
    found = [plugin_provenance("strategy", config.strategy_references.get(name, name), run_dir, name)
             for name in config.strategies]
    found.append(plugin_provenance("model", config.model, run_dir))
    if config.dataset != "npz":
        found.append(plugin_provenance("dataset", config.dataset, run_dir))
    return [p for p in found if p is not None]


def _files_sha(entry: dict[str, Any]) -> list[str]:
    files = entry.get("files")
    return sorted(files.values()) if isinstance(files, dict) else []


def changed_plugins(saved: list[dict[str, Any]] | None, now: list[dict[str, Any]]) -> list[str]:
    """One phrase per plug-in whose source files differ from those the runs started with (by content: a file
    that moved with the same bytes has not changed), e.g. "strategy margin_score (my_scores.py 1a2b3c4d5e6f -> ...)"."""
    before = {(p.get("kind"), p.get("name")): p for p in saved or [] if isinstance(p, dict)}
    changes = []
    for entry in now:
        old = before.get((entry["kind"], entry["name"]))
        if old is None or _files_sha(old) == _files_sha(entry):
            continue
        old_files, new_files = old.get("files") or {}, entry["files"]
        differing = [Path(f).name for f, sha in new_files.items() if sha not in old_files.values()]
        shown = ", ".join(differing[:2]) or ", ".join(Path(f).name for f in old_files)
        changes.append(f"{entry['kind']} {entry['name']} ({shown})")
    return changes


def accept_plugin_changes(provenance: dict[str, Any], now: list[dict[str, Any]]) -> dict[str, Any]:
    """The provenance block with the plug-ins as they are now; what each was before kept in its `earlier`
    list, so config.json still says which code ran the queries before the change."""
    before = {(p.get("kind"), p.get("name")): p for p in provenance.get("plugins") or [] if isinstance(p, dict)}
    updated = []
    for entry in now:
        old = before.get((entry["kind"], entry["name"]))
        if old is not None and _files_sha(old) != _files_sha(entry):
            earlier = list(old.get("earlier", []))
            earlier.append({k: v for k, v in old.items() if k != "earlier"})
            entry = {**entry, "earlier": earlier}
        elif old is not None and old.get("earlier"):
            entry = {**entry, "earlier": old["earlier"]}
        updated.append(entry)
    return {**provenance, "plugins": updated}
