"""The run folders a watcher follows: checked before any UI starts, and their data for digit previews.

Nothing here writes: a watcher only reads config.json, results.jsonl and the data the config names.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, build_config, run_id
from baltui.core.errors import BaltuiError
from baltui.runs import provenance
from baltui.runs.results import CONFIG_FILE, RESULTS_FILE

_CONFIG_KEYS = {f.name for f in dataclasses.fields(RunConfig)} - {"out"}


@dataclass
class WatchedFolder:
    """One run folder: its saved config, and how its runs are named on screen."""

    path: Path
    config: dict[str, Any]
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


def _expected_runs(config: dict[str, Any]) -> list[str]:
    strategies, seeds = config.get("strategies"), config.get("seeds")
    if not isinstance(strategies, list) or not isinstance(seeds, list):
        return []
    return [run_id(str(s), seed) for seed in seeds for s in strategies]


def open_folders(paths: list[str]) -> list[WatchedFolder]:
    """Check every folder is a baltui run (config.json); one BaltuiError naming the first that is not."""
    folders: list[WatchedFolder] = []
    seen: set[Path] = set()
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise BaltuiError(f"{text} does not exist; give the run folder a baltui run writes (its --out)")
        if not path.is_dir():
            raise BaltuiError(f"{text} is a file, not a run folder; give the folder holding config.json")
        config_path = path / CONFIG_FILE
        if not config_path.is_file():
            raise BaltuiError(f"{text} holds no baltui run (no {CONFIG_FILE}); give a folder a baltui run writes")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BaltuiError(f"cannot read {config_path}: {exc}") from None
        if not isinstance(config, dict):
            raise BaltuiError(f"{config_path} is not a baltui config (expected a JSON object)")
        resolved = path.resolve()
        if resolved in seen:
            raise BaltuiError(f"{text} is given twice; give each run folder once")
        seen.add(resolved)
        folders.append(WatchedFolder(path, config, resolved.name or str(resolved), run_ids=_expected_runs(config)))
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
    """The saved config as a RunConfig (keys it does not know dropped), with `data` resolved."""
    values = {k: v for k, v in folder.config.items() if k in _CONFIG_KEYS}
    if values.get("data"):
        values["data"] = str(resolve_data_path(str(values["data"]), folder.path))
    return build_config(values)


def load_folder_data(folder: WatchedFolder) -> Any:
    """The run's Dataset (for the queried digits' images); a BaltuiError says why it cannot be had."""
    from baltui.core.data import load_dataset

    return load_dataset(folder_run_config(folder))
