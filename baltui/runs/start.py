"""Starting and resuming an experiment's run folder: every check, provenance and the folder itself.

The command line (baltui/cli.py) only parses flags and calls these, so every way of starting a run (the
CLI, the screenshots script, tests) goes through the same checks, in the same order: the config, then the
data, and only then a folder on disk.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from baltui.core.config import (
    EXPERIMENT_KEYS,
    RunConfig,
    build_config,
    load_preset,
    validate,
    warn_train_precision,
    warn_unused,
)
from baltui.core.data_checks import check_config_against_data
from baltui.core.errors import BaltuiError
from baltui.core.settings import RESUME_MAY_CHANGE
from baltui.core.stopping import describe
from baltui.runs.folder import RunFolder
from baltui.runs.jsonl import heal
from baltui.runs.lock import FolderLock, release, take
from baltui.runs.provenance import (
    accept_plugin_changes,
    changed_plugins,
    check_same_data,
    collect,
    plugins_used,
    recorded_reference,
    relative_data_path,
    resolve_data_path,
)
from baltui.runs.recorder import run_complete, stopped_by
from baltui.runs.results import check_known_keys, prepare_out_dir


@dataclass
class Prepared:
    """What a command needs to run an experiment: the config, its folder, the data, the records so far."""

    config: RunConfig
    folder: RunFolder
    dataset: Any
    resume: dict[str, list[dict[str, Any]]] | None = None
    lock: FolderLock | None = None  # this process is the folder's one writer until release()

    def release(self) -> None:
        """Give up the folder (the kernel does it too when the process ends, however it ends)."""
        release(self.lock)
        self.lock = None

    @property
    def out(self) -> Path:
        return self.folder.path


def default_out(name: str) -> Path:
    """runs/<name>-<timestamp>, numbered when two start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{name}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{name}-{stamp}-{n}"
    return out


def load_data(config: RunConfig) -> Any:
    from baltui.core.data import load_dataset

    return load_dataset(config)


def start(preset: str, overrides: dict[str, Any], out: str | None = None, threads: int | None = None) -> Prepared:
    """A new experiment: the preset with the overrides, checked against its data, then its folder made."""
    config = build_config(load_preset(preset), overrides)
    warn_unused(config, set(overrides))
    warn_train_precision(config)
    return start_config(config, out, threads)


def start_config(config: RunConfig, out: str | Path | None = None, threads: int | None = None) -> Prepared:
    """A new experiment from a built config (flags, preset or a Python caller)."""
    validate(config)  # a RunConfig made by hand gets the flags' checks too, and its plug-in strategies their names
    path = Path(out) if out else default_out(config.name)
    config.out = str(path)
    dataset = load_data(config)  # bad data fails before a folder is made for it
    check_config_against_data(config, dataset)
    saved = config.to_dict()
    saved.pop("out")  # the folder itself: an absolute path here would tie it to this machine
    if config.data:
        saved["data"] = relative_data_path(config.data, path)
    # Plug-in files relative to the folder too: config.json holds no absolute path of this machine.
    saved["model"], saved["dataset"] = recorded_reference(config.model, path), recorded_reference(config.dataset, path)
    saved["strategy_references"] = {name: recorded_reference(ref, path)
                                     for name, ref in config.strategy_references.items()}
    saved["provenance"] = collect(dataset, config.data, config.train_precision)
    saved["provenance"]["threads_per_run"] = threads  # results depend on it (TensorFlow's arithmetic)
    used = plugins_used(config, path)
    if used:  # each plug-in's module, version and source hashes: --resume refuses changed code
        saved["provenance"]["plugins"] = used
    folder = RunFolder.create(path, saved)
    return Prepared(config, folder, dataset, lock=take(folder.path, "run"))


def resume(run_dir: str | Path, overrides: dict[str, Any], threads: int | None = None,
           preset_given: bool = False, out_given: bool = False, accept_changed_plugins: bool = False) -> Prepared:
    """Continue RUN_DIR: unfinished and failed runs, plus any queries or seeds added by the overrides, and the
    runs stopped by a stop rule the overrides drop.

    A plug-in whose source changed since the runs started is refused unless `accept_changed_plugins`."""
    changed = [k for k in overrides if k in EXPERIMENT_KEYS and k not in RESUME_MAY_CHANGE]
    if changed or preset_given:
        flags = ", ".join("--" + k.replace("_", "-") for k in changed) or "--preset"
        raise BaltuiError(f"--resume continues the saved experiment; {flags} would change it (drop the flag; "
                          "--queries and --seeds may extend it)")
    if out_given:
        raise BaltuiError("--resume writes into RUN_DIR itself; drop --out")
    folder = RunFolder.open(run_dir)
    check_known_keys(folder.saved_config(), folder.path)
    # One writer per folder, taken before the records are read (a writer still at it would add to them); the
    # writer mends a last line cut short, so it is named once and the records are read without it.
    lock = take(folder.path, "resume")
    try:
        heal(folder.results_path)
        return _resume(folder, overrides, threads, lock, accept_changed_plugins)
    except BaseException:
        release(lock)
        raise


def _resume(folder: RunFolder, overrides: dict[str, Any], threads: int | None, lock: FolderLock,
            accept_changed_plugins: bool = False) -> Prepared:
    run_dir = folder.path
    saved = dict(folder.config)
    provenance = saved.pop("provenance", None)
    _refuse_what_cannot_continue(folder, saved)
    data = None
    if saved.get("data"):
        found = Path(overrides["data"]) if overrides.get("data") else resolve_data_path(saved["data"], folder.path)
        if found is None or not found.exists():
            raise BaltuiError(f"the data of {run_dir} ({saved['data']}, relative to the run folder) is not "
                              "there; give its current place with --data FILE.npz (or DIR)")
        data = str(found)
    elif overrides.get("data"):
        raise BaltuiError(f"{run_dir} did not run on a data file; drop --data")
    if "seeds" in overrides and not set(saved.get("seeds", [])) <= set(overrides["seeds"]):
        raise BaltuiError("--seeds on --resume may only add seeds; list the saved ones too "
                          f"({','.join(map(str, saved.get('seeds', [])))})")
    if overrides.get("queries", saved.get("queries", 0)) < saved.get("queries", 0):
        raise BaltuiError(f"--queries on --resume may only extend the runs (saved: {saved.get('queries')})")
    saved_rules = list(saved.get("stop_when") or [])
    added = [rule for rule in overrides.get("stop_when", []) if rule not in saved_rules]
    if added:
        raise BaltuiError(f"--stop-when on --resume may only drop rules (saved: {describe(saved_rules)}); "
                          f"'{added[0]}' would stop runs the saved rules let go on (--stop-when none drops them all)")
    config = folder.run_config(data, {k: overrides[k] for k in ("queries", "seeds", "stop_when") if k in overrides})
    config.out = str(folder.path)
    used = plugins_used(config, folder.path)
    changed = changed_plugins((provenance or {}).get("plugins"), used)
    if changed and not accept_changed_plugins:
        raise BaltuiError(f"plug-in code changed since the runs of {run_dir} started: {'; '.join(changed)}; its runs "
                          "would go on with other code: restore it, or give --accept-changed-plugins to continue "
                          "(config.json keeps what ran before)")
    warn_train_precision(config)  # this machine may lack what the one it started on had
    dataset = load_data(config)
    check_same_data(provenance, dataset, str(folder.path))
    started = (provenance or {}).get("threads_per_run")
    if started is not None and threads is not None and started != threads:
        print(f"baltui: warning: {folder.path} was started with {started} thread(s) per run and continues with "
              f"{threads}: TensorFlow's arithmetic depends on the thread count, so the results will no longer "
              f"match an uninterrupted run's (--threads-per-run {started} keeps them)", file=sys.stderr)
    check_config_against_data(config, dataset)
    by_run = folder.records_by_run(resume=True)
    _refuse_runs_the_config_does_not_hold(folder, by_run)
    if all(run_complete(by_run.get(rid, []), config.queries, config.stop_when) for rid in config.run_ids):
        stopped = sorted({stop[0] for rid in config.run_ids if (stop := stopped_by(by_run.get(rid, [])))})
        if stopped:
            raise BaltuiError(f"every run in {folder.path} has already finished, some stopped by --stop-when "
                              f"{' / '.join(stopped)}; nothing to resume (a stopped run goes on only once its rule "
                              f"is dropped: --resume {folder.path} --stop-when none)")
        raise BaltuiError(f"every run in {folder.path} has already finished; nothing to resume "
                          "(--queries N or --seeds extend it)")
    kept = [rid for rid in config.run_ids if (stop := stopped_by(by_run.get(rid, []))) and stop[0] in config.stop_when]
    if kept:
        print(f"baltui: note: {len(kept)} run(s) stopped by a --stop-when rule stay stopped ({', '.join(kept[:4])}"
              f"{', ...' if len(kept) > 4 else ''}); to continue them, drop the rule (--stop-when none drops all)",
              file=sys.stderr)
    prepare_out_dir(folder.path, {}, resume=True)  # checks the folder is writable
    if changed:
        print(f"baltui: warning: continuing {run_dir} with changed plug-in code ({'; '.join(changed)}); config.json "
              "records both", file=sys.stderr)
        updated = folder.saved_config()
        updated["provenance"] = accept_plugin_changes(updated.get("provenance") or {}, used)
        folder.write_config(updated)
    if {"queries", "seeds", "data", "stop_when"} & set(overrides):
        updated = folder.saved_config()
        updated.update({"queries": config.queries, "seeds": config.seeds, "stop_when": config.stop_when})
        if "data" in overrides:  # where the data is now, so later resumes need no --data
            updated["data"] = relative_data_path(config.data, folder.path)
        folder.write_config(updated)
    return Prepared(config, folder, dataset, by_run, lock)


def _refuse_what_cannot_continue(folder: RunFolder, saved: dict[str, Any]) -> None:
    """A folder from before consistent masks ran BatchBALD on independent ones: it cannot continue the same way."""
    from baltui.core.acquisition import STRATEGIES

    if saved.get("mc_masks") != "independent":
        return
    needing = [name for name in saved.get("strategies", []) if name in STRATEGIES
               and STRATEGIES[name].needs_consistent_masks]
    if needing:
        raise BaltuiError(f"{folder.path} ran {needing[0]} on independent masks, before consistent masks existed; "
                          "its runs cannot continue the same way: start them again in a new folder")


def _refuse_runs_the_config_does_not_hold(folder: RunFolder, by_run: dict[str, list[dict[str, Any]]]) -> None:
    """results.jsonl holds runs config.json no longer lists: its strategies or seeds were edited by hand."""
    stray = sorted(set(by_run) - set(folder.run_ids))
    if stray:
        raise BaltuiError(f"{folder.path / 'results.jsonl'} holds runs that config.json does not list "
                          f"({', '.join(stray[:4])}{', ...' if len(stray) > 4 else ''}): its strategies or seeds "
                          "were changed; restore them (--seeds on --resume may only add seeds)")
