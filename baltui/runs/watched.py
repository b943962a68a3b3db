"""The run folders a watcher follows: checked before any UI starts, and their data for digit previews.

Nothing here writes: a watcher only reads config.json, results.jsonl and the data the config names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, build_config
from baltui.core.errors import BaltuiError
from baltui.runs import provenance
from baltui.runs.folder import RunFolder
from baltui.runs.results import RESULTS_FILE

# What a watcher rebuilds a RunConfig from: the data settings only (an image folder's split and size
# included). It needs the run's data (for the digit previews), and the other settings of a folder another
# version wrote may not pass today's checks.
_DATA_KEYS = ("dataset", "data", "test_fraction", "image_size")


@dataclass
class WatchedFolder:
    """One run folder: its saved config, and how its runs are named on screen."""

    path: Path
    config: dict[str, Any]  # config.json as migrate_config reads it
    label: str  # the folder's name, shown in panel titles when several folders are watched
    prefix: str = ""  # put before run ids (widget-id safe) when several folders are watched
    run_ids: list[str] = field(default_factory=list)  # the runs config.json promises, unprefixed

    @property
    def results(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def queries(self) -> int:
        q = self.config.get("queries")
        return q if isinstance(q, int) and not isinstance(q, bool) else 0

    def screen_id(self, rid: str) -> str:
        """The run id on screen: prefixed with the folder when several folders are watched."""
        return f"{self.prefix}-{rid}" if self.prefix else rid


def open_folders(paths: list[str]) -> list[WatchedFolder]:
    """Check every folder is a baltui run (config.json); one BaltuiError naming the first that is not."""
    folders: list[WatchedFolder] = []
    seen: set[Path] = set()
    for text in paths:
        path = Path(text)
        run_folder = RunFolder.open(path)  # one set of errors for a folder that is not a run; config migrated
        resolved = path.resolve()
        if resolved in seen:
            raise BaltuiError(f"{text} is given twice; give each run folder once")
        seen.add(resolved)
        folders.append(WatchedFolder(path, run_folder.config, resolved.name or str(resolved),
                                     run_ids=run_folder.run_ids))
    if len(folders) > 1:
        used: set[str] = set()
        for folder in folders:
            base = re.sub(r"[^A-Za-z0-9_-]", "_", folder.label) or "run"
            prefix, n = base, 1
            while prefix in used:
                n += 1
                prefix = f"{base}-{n}"
            used.add(prefix)
            folder.prefix = prefix
    return folders


def resolve_data_path(data: str, run_dir: Path) -> Path:
    """A saved `data` path, found as --resume finds it (`provenance.resolve_data_path`), or one line why not."""
    found = provenance.resolve_data_path(data, run_dir)
    if found is None:
        raise BaltuiError(f"data file {data} not found (looked in {run_dir} and in {Path.cwd()})")
    return found


def folder_run_config(folder: WatchedFolder) -> RunConfig:
    """The saved config's data settings as a RunConfig (enough to load its data), with `data` resolved."""
    values = {k: v for k, v in folder.config.items() if k in _DATA_KEYS}
    if values.get("data"):
        values["data"] = str(resolve_data_path(str(values["data"]), folder.path))
    if isinstance(values.get("dataset"), str):  # a data-set plug-in's file, recorded relative to the folder
        values["dataset"] = provenance.reference_from_folder(values["dataset"], folder.path)
    return build_config(values)


def load_folder_data(folder: WatchedFolder) -> Any:
    """The run's Dataset (for the queried digits' images); a BaltuiError says why it cannot be had."""
    from baltui.core.data import load_dataset

    return load_dataset(folder_run_config(folder))
