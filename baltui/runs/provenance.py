"""Where a run's numbers came from, recorded in config.json beside the settings.

Why: a results table is only as good as what it can be traced back to. The data is identified by
the hash of its arrays (a swapped file, or an image folder whose images changed, is refused on --resume,
and references are matched by content, not name), an image folder also by its class names and the hash
of its files; the versions, the CPU with its bfloat16 features, and the training precision and
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
