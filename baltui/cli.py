"""The `baltui` command: flags -> RunConfig -> dashboard or headless run; plus subcommands.

Only the chosen path imports its heavy modules: `--help` and every input error answer at once,
before TensorFlow or Textual are loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from baltui import __version__
from baltui.commands.parsing import OneLineParser
from baltui.core.errors import BaltuiError

SUBCOMMANDS = ("bench", "report", "label", "watch")


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of whole numbers, got '{text}'") from None


def _subset(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'all', got '{text}'") from None


def _str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_experiment_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override a preset; shared by the dashboard and headless paths."""
    g = parser.add_argument_group("experiment (override the preset)")
    g.add_argument("--strategies", type=_str_list, help="comma list, e.g. entropy,bald,uniform")
    g.add_argument("--seeds", type=_int_list, help="comma list of seeds, e.g. 0,1,2")
    g.add_argument("--queries", type=int, help="number of acquisition rounds")
    g.add_argument("--instances", type=int, help="images labelled per query")
    g.add_argument("--initial-per-class", type=int, dest="initial_per_class", help="initial labels per class")
    g.add_argument("--epochs", type=int, help="training epochs per query (from fresh weights)")
    g.add_argument("--batch-size", type=int, dest="batch_size", help="training batch size")
    g.add_argument("--mc-samples", type=int, dest="mc_samples", help="MC dropout samples T")
    g.add_argument("--subset", type=_subset, help="pool points scored per query, or 'all'")
    g.add_argument("--beta", type=float, help="power for powerbald/powerentropy")
    g.add_argument("--mc-masks", dest="mc_masks", choices=("auto", "consistent", "independent"),
                   help="MC-dropout masks: one per sample for all points (consistent), one per point "
                        "(independent), or auto: consistent where the strategy needs it (default)")
    g.add_argument("--model", help="architecture and its training regime: seed (default) or batchbald2019")
    g.add_argument("--weight-decay", dest="weight_decay",
                   help="L2 of C/N on the hidden Dense layers (N: labelled images), or 'auto' to choose C per fit "
                        "on the validation set (default 0)")
    g.add_argument("--validation", type=int, help="pool images set aside per seed for validation (never labelled)")
    g.add_argument("--epoch-draws", type=int, dest="epoch_draws",
                   help="draws with repetition per training epoch (0: one pass over the labelled set)")
    g.add_argument("--early-stopping", type=int, dest="early_stopping", metavar="PATIENCE",
                   help="stop after PATIENCE epochs without better validation accuracy (0: off)")
    g.add_argument("--dataset", help="digits or mnist")
    g.add_argument("--data", help="an .npz with x_train, y_train, x_test, y_test (keras layout)")


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="baltui",
        description="Deep Bayesian active learning (MC dropout + modAL), watched live in the terminal.",
        epilog="subcommands: baltui bench --help | baltui report --help | baltui label --help | baltui watch --help",
    )
    parser.add_argument("--version", action="version", version=f"baltui {__version__}")
    parser.add_argument("--preset", default=None, help="preset name in presets/ or a .toml path (default: quick)")
    parser.add_argument("--no-ui", action="store_true", help="run headless: one line per query, results on disk")
    parser.add_argument("--out", help="run folder (default: runs/<preset>-<timestamp>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run folder")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    g = parser.add_argument_group("where the runs run (the same results at the same threads per run)")
    g.add_argument("--workers", type=int, metavar="N", help="run the grid as Ray tasks, at most N at a time")
    g.add_argument("--address", metavar="ADDR", help="join this Ray cluster (or set RAY_ADDRESS)")
    g.add_argument("--threads-per-run", type=int, dest="threads_per_run", metavar="T",
                   help="TensorFlow/numba threads per run (default: all cores in process; "
                        "cores // N with --workers; 1 on a cluster)")
    add_experiment_flags(parser)
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    from baltui.core.config import EXPERIMENT_KEYS

    return {k: getattr(args, k) for k in EXPERIMENT_KEYS if getattr(args, k, None) is not None}


def default_out(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{name}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{name}-{stamp}-{n}"
    return out


def _prepare(args: argparse.Namespace) -> tuple[Any, Path, Any, dict[str, list[dict[str, Any]]] | None]:
    """Config, run folder, data and (on --resume) the records so far; fails fast with a BaltuiError."""
    from baltui.core.config import DEFAULT_PRESET, build_config, check_against_data, load_preset, warn_unused
    from baltui.runs.lock import take
    from baltui.runs.provenance import collect, relative_data_path
    from baltui.runs.results import prepare_out_dir

    overrides = overrides_from(args)
    if args.resume:
        return _prepare_resume(args, overrides)
    preset = load_preset(args.preset or DEFAULT_PRESET)
    config = build_config(preset, overrides)
    warn_unused(config, set(overrides))
    out = Path(args.out) if args.out else default_out(config.name)
    config.out = str(out)
    # Fail on bad data before creating a folder for it.
    dataset = _load_data(config)
    _check_model_fits(config, dataset)
    check_against_data(config, len(dataset.y_pool), dataset.n_classes, dataset.class_counts())
    _check_validation_leaves_the_initial_set(config, dataset)
    saved = config.to_dict()
    saved.pop("out")  # the folder itself: an absolute path here would tie it to this machine
    if config.data:
        saved["data"] = relative_data_path(config.data, out)
    saved["provenance"] = collect(dataset, config.data)
    threads = getattr(args, "effective_threads", None)
    saved["provenance"]["threads_per_run"] = threads  # results depend on it (TensorFlow's arithmetic)
    prepare_out_dir(out, saved)
    args.folder_lock = take(out, "run")  # one writer per folder; main releases it
    return config, out, dataset, None


def _check_model_fits(config: Any, dataset: Any) -> None:
    from baltui.core.models import MODELS

    spec = MODELS[config.model]
    if min(dataset.input_shape[:2]) < spec.min_size:
        fits = [m.name for m in MODELS.values() if min(dataset.input_shape[:2]) >= m.min_size]
        advice = f"use --model {fits[0]}" if fits else "no model takes images this small: give larger images"
        raise BaltuiError(f"model {spec.name} needs images of at least {spec.min_size}x{spec.min_size}, but the "
                          f"data's are {dataset.input_shape[0]}x{dataset.input_shape[1]}; {advice}")


def _check_validation_leaves_the_initial_set(config: Any, dataset: Any) -> None:
    """The validation images are set aside per seed before the initial set is drawn: every class must keep
    `initial_per_class` images in the pool for every seed."""
    if not config.validation:
        return
    import numpy as np

    from baltui.core.engine import validation_indices

    for seed in config.seeds:
        kept = np.delete(dataset.y_pool, validation_indices(len(dataset.y_pool), config.validation, seed))
        counts = np.bincount(kept, minlength=dataset.n_classes)
        short = int(np.argmin(counts))
        if counts[short] < config.initial_per_class:
            raise BaltuiError(f"with {config.validation} validation images set aside (seed {seed}), class {short} "
                              f"keeps {counts[short]} pool images, fewer than initial_per_class="
                              f"{config.initial_per_class}; lower --validation or --initial-per-class")


# Settings --resume may change: more queries or more seeds extend the experiment, exactly as if they had
# been asked for from the start; --data only says where the (same) data file is now.
RESUME_MAY_CHANGE = ("queries", "seeds", "data")


def _prepare_resume(args: argparse.Namespace, overrides: dict[str, Any]):
    """Continue RUN_DIR: unfinished and failed runs, plus any queries or seeds added by the flags."""
    from baltui.core.acquisition import STRATEGIES
    from baltui.core.config import EXPERIMENT_KEYS, build_config, check_against_data
    from baltui.executors.local import run_complete
    from baltui.runs.jsonl import heal
    from baltui.runs.lock import take
    from baltui.runs.provenance import check_same_data, relative_data_path, resolve_data_path
    from baltui.runs.results import (
        RESULTS_FILE,
        check_known_keys,
        prepare_out_dir,
        read_config,
        read_records,
        write_config,
    )

    changed = [k for k in overrides if k in EXPERIMENT_KEYS and k not in RESUME_MAY_CHANGE]
    if changed or args.preset:
        flags = ", ".join("--" + k.replace("_", "-") for k in changed) or "--preset"
        raise BaltuiError(f"--resume continues the saved experiment; {flags} would change it (drop the flag; "
                          "--queries and --seeds may extend it)")
    if args.out:
        raise BaltuiError("--resume writes into RUN_DIR itself; drop --out")
    run_dir = Path(args.resume)
    saved = read_config(run_dir)
    check_known_keys(saved, run_dir)
    # One writer per folder, taken before the records are read (a writer still at it would add to them);
    # the writer mends a last line cut short, so it is named once and the records are read without it.
    args.folder_lock = take(run_dir, "resume")
    heal(run_dir / RESULTS_FILE)
    saved.pop("out", None)
    provenance = saved.pop("provenance", None)
    if "mc_masks" not in saved:  # written before mask modes existed: every strategy drew independent masks
        needing = [name for name in saved.get("strategies", []) if name in STRATEGIES
                   and STRATEGIES[name].needs_consistent_masks]
        if needing:
            raise BaltuiError(f"{run_dir} ran {needing[0]} on independent masks, before consistent masks existed; "
                              "its runs cannot continue the same way: start them again in a new folder")
        saved["mc_masks"] = "independent"
    if saved.get("data"):
        found = Path(overrides["data"]) if overrides.get("data") else resolve_data_path(saved["data"], run_dir)
        if found is None or not found.is_file():
            raise BaltuiError(f"the data file of {run_dir} ({saved['data']}, relative to the run folder) is not "
                              "there; give its current place with --data FILE.npz")
        saved["data"] = str(found)
    elif overrides.get("data"):
        raise BaltuiError(f"{run_dir} did not run on a data file; drop --data")
    if "seeds" in overrides and not set(saved.get("seeds", [])) <= set(overrides["seeds"]):
        raise BaltuiError("--seeds on --resume may only add seeds; list the saved ones too "
                          f"({','.join(map(str, saved.get('seeds', [])))})")
    if overrides.get("queries", saved.get("queries", 0)) < saved.get("queries", 0):
        raise BaltuiError(f"--queries on --resume may only extend the runs (saved: {saved.get('queries')})")
    config = build_config(saved, {k: overrides[k] for k in ("queries", "seeds") if k in overrides})
    config.out = str(run_dir)
    dataset = _load_data(config)
    check_same_data(provenance, dataset, str(run_dir))
    started = (provenance or {}).get("threads_per_run")
    threads = getattr(args, "effective_threads", None)
    if started is not None and threads is not None and started != threads:
        print(f"baltui: warning: {run_dir} was started with {started} thread(s) per run and continues with "
              f"{threads}: TensorFlow's arithmetic depends on the thread count, so the results will no longer "
              f"match an uninterrupted run's (--threads-per-run {started} keeps them)", file=sys.stderr)
    check_against_data(config, len(dataset.y_pool), dataset.n_classes, dataset.class_counts())
    records = read_records(run_dir, resume=True)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_run.setdefault(r["run_id"], []).append(r)
    if all(run_complete(by_run.get(rid, []), config.queries) for rid in config.run_ids):
        raise BaltuiError(f"every run in {run_dir} has already finished; nothing to resume "
                          "(--queries N or --seeds extend it)")
    prepare_out_dir(run_dir, {}, resume=True)  # checks the folder is writable
    if "queries" in overrides or "seeds" in overrides or "data" in overrides:
        updated = read_config(run_dir)
        updated.update({"queries": config.queries, "seeds": config.seeds})
        if "data" in overrides:  # where the data is now, so later resumes need no --data
            updated["data"] = relative_data_path(config.data, run_dir)
        write_config(run_dir, updated)
    return config, run_dir, dataset, by_run


def _check_executor_flags(args: argparse.Namespace) -> bool:
    """True when the runs go to Ray (--workers, --address or $RAY_ADDRESS); else applies --threads-per-run
    here, before TensorFlow starts. Fails fast on bad values or a missing Ray, before anything slow."""
    import importlib.util

    for flag, value in (("--workers", args.workers), ("--threads-per-run", args.threads_per_run)):
        if value is not None and value < 1:
            raise BaltuiError(f"{flag} must be at least 1, got {value}")
    use_ray = args.workers is not None or bool(args.address) or bool(os.environ.get("RAY_ADDRESS"))
    if use_ray and importlib.util.find_spec("ray") is None:
        raise BaltuiError("--workers / --address need Ray, which is not installed: pip install 'baltui[ray]'")
    if not use_ray and args.threads_per_run is not None:
        from baltui.core.threads import apply_threads

        apply_threads(args.threads_per_run)
    return use_ray


def _load_data(config):
    from baltui.core.data import load_dataset

    return load_dataset(config)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _subcommand(argv[0], argv[1:])
        args = make_parser().parse_args(argv)
        if args.list_presets:
            return _list_presets()
        use_ray = _check_executor_flags(args)
        from baltui.core.threads import threads_per_run

        joined = bool(args.address or os.environ.get("RAY_ADDRESS"))
        args.effective_threads = threads_per_run(args.threads_per_run, args.workers, joined, use_ray)
        executor = None
        if use_ray:  # ray.init here, on the main thread, before the dashboard starts and before any folder
            from baltui.executors.ray_executor import RayExecutor

            executor = RayExecutor(args.workers, args.address, args.effective_threads)
        config, out, dataset, resume = _prepare(args)
        if args.no_ui:
            from baltui.commands.run.headless import run_headless

            if executor is not None:
                print(executor.describe(), flush=True)
            code = run_headless(config, dataset, out, resume, executor=executor)
            if executor is not None and executor.started:
                print(executor.placement(), flush=True)
            return code
        from baltui.commands.run import make_app
        from baltui.core.tf_setup import load_before_the_screen

        load_before_the_screen()
        app = make_app(config, out, dataset=dataset, resume=resume, executor=executor)
        result = app.run()
        return result if isinstance(result, int) else app.exit_code
    except BaltuiError as exc:
        print(f"baltui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("baltui: interrupted", file=sys.stderr)
        return 130
    finally:
        if getattr(args, "folder_lock", None) is not None:
            args.folder_lock.release()  # type: ignore[union-attr]


def _list_presets() -> int:
    from baltui.core.config import load_preset, preset_names

    for name in preset_names():
        values = load_preset(name)
        print(f"{name:14s} {values.get('description', '')}")
    return 0


def _subcommand(name: str, argv: list[str]) -> int:
    if name == "report":
        from baltui.commands.report import main as report_main

        return report_main(argv)
    if name == "bench":
        from baltui.commands.bench import main as bench_main

        return bench_main(argv)
    if name == "watch":
        from baltui.commands.watch.cli import main as watch_main

        return watch_main(argv)
    from baltui.commands.label.cli import main as label_main

    return label_main(argv)
