"""Where a run's numbers came from, recorded in config.json beside the settings.

Why: a results table is only as good as what it can be traced back to. The data is identified by
the hash of its arrays (a swapped file is refused on --resume, and references are matched by
content, not name); the versions, the CPU with its bfloat16 features, and the training precision and
evaluation path say what computed the numbers. Nothing here needs TensorFlow imported: versions come
from the installed packages' metadata.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

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
    """A recorded data path: relative to the run folder first, then to the current folder."""
    path = Path(data).expanduser()
    for candidate in ((path,) if path.is_absolute() else (Path(run_dir) / path, path)):
        if candidate.is_file():
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
    in `train_precision` (resolved): the CPU's bfloat16 features say whether that and the evaluation ran natively."""
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
        "evaluation": "bfloat16 with float32 rechecks" if cpu.amx_native() else "float32",
    }
    if getattr(dataset, "recipe", "none") != "none":
        # data_sha256 is then the recipe's arrays' (the report's rows and the papers follow it); this is the
        # data it was made from, so a Repeated MNIST can still be traced to the MNIST it repeats
        block["recipe"] = dataset.recipe
        block["source_sha256"] = dataset.source_sha256
    if data_file:
        path = Path(data_file)
        block["data_file"] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    return block


def check_same_data(provenance: dict[str, Any] | None, dataset: Any, where: str) -> None:
    """Refuse to continue a run on data whose content differs from what it started on."""
    expected = (provenance or {}).get("data_sha256")
    if expected and expected != dataset.content_sha256:
        raise BaltuiError(
            f"the data for {where} differs from the data it was started on (sha256 {dataset.content_sha256[:12]} "
            f"vs {expected[:12]}); give the original file with --data"
        )


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
