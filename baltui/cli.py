"""The `baltui` command: flags -> RunConfig -> dashboard or headless run; plus subcommands.

Only the chosen path imports its heavy modules: `--help` and every input error answer at once,
before TensorFlow or Textual are loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from baltui.commands.parsing import OneLineParser, add_setting_flags, setting_values
from baltui.core.errors import BaltuiError
from baltui.core.settings import EXPERIMENT_KEYS
from baltui.version import __version__

SUBCOMMANDS = ("bench", "report", "label", "watch", "export", "next")
# The plug-in kinds (baltui.core.plugins) and their --list-* flags.
PLUGIN_LISTS = {"strategy": "strategies", "model": "models", "dataset": "datasets"}


def add_experiment_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override a preset, one per row of the settings table; shared by the dashboard and headless
    paths. Their values are parsed and range-checked by `overrides_from`."""
    add_setting_flags(parser.add_argument_group("experiment (override the preset)"), EXPERIMENT_KEYS)


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="baltui",
        description="Deep Bayesian active learning (MC dropout + modAL), watched live in the terminal.",
        epilog="subcommands: baltui bench --help | baltui report --help | baltui label --help | baltui watch --help "
               "| baltui export --help | baltui next --help",
    )
    parser.add_argument("--version", action="version", version=f"baltui {__version__}")
    parser.add_argument("--preset", default=None, help="preset name in presets/ or a .toml path (default: quick)")
    parser.add_argument("--no-ui", action="store_true", help="run headless: one line per query, results on disk")
    parser.add_argument("--out", help="run folder (default: runs/<preset>-<timestamp>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run folder")
    parser.add_argument("--accept-changed-plugins", action="store_true",
                        help="with --resume: continue although a plug-in's code changed since the runs started")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    for many in PLUGIN_LISTS.values():
        parser.add_argument(f"--list-{many}", action="store_true",
                            help=f"list the {many} (built-in and installed plug-ins, with their package) and exit")
    g = parser.add_argument_group("where the runs run (the same results at the same threads per run)")
    g.add_argument("--workers", type=int, metavar="N", help="run the grid as Ray tasks, at most N at a time")
    g.add_argument("--address", metavar="ADDR", help="join this Ray cluster (or set RAY_ADDRESS)")
    g.add_argument("--threads-per-run", type=int, dest="threads_per_run", metavar="T",
                   help="TensorFlow/numba threads per run (default: all cores in process; "
                        "cores // N with --workers; 1 on a cluster)")
    add_experiment_flags(parser)
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The experiment flags given, parsed and checked by the settings table (a BaltuiError if one is bad)."""
    return setting_values(args, EXPERIMENT_KEYS)


def _prepare(args: argparse.Namespace) -> Any:
    """Config, run folder, data and (on --resume) the records so far (baltui.runs.start); a BaltuiError on bad
    input, before anything slow."""
    from baltui.core.config import DEFAULT_PRESET
    from baltui.runs import start

    overrides = overrides_from(args)
    threads = getattr(args, "effective_threads", None)
    if args.resume:
        return start.resume(args.resume, overrides, threads, preset_given=bool(args.preset), out_given=bool(args.out),
                            accept_changed_plugins=args.accept_changed_plugins)
    if args.accept_changed_plugins:
        raise BaltuiError("--accept-changed-plugins goes with --resume RUN_DIR; drop it")
    return start.start(args.preset or DEFAULT_PRESET, overrides, args.out, threads)


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _subcommand(argv[0], argv[1:])
        args = make_parser().parse_args(argv)
        if args.list_presets:
            return _list_presets()
        for kind, many in PLUGIN_LISTS.items():
            if getattr(args, f"list_{many}"):
                return _list_plugins(kind)
        overrides_from(args)  # every experiment flag parsed and range-checked before anything slow (Ray) starts
        use_ray = _check_executor_flags(args)
        from baltui.core.threads import threads_per_run

        joined = bool(args.address or os.environ.get("RAY_ADDRESS"))
        args.effective_threads = threads_per_run(args.threads_per_run, args.workers, joined, use_ray)
        executor = None
        if use_ray:  # ray.init here, on the main thread, before the dashboard starts and before any folder
            from baltui.executors.ray_executor import RayExecutor

            executor = RayExecutor(args.workers, args.address, args.effective_threads)
        prepared = _prepare(args)
        args.folder_lock = prepared
        config, out, dataset, resume = prepared.config, prepared.out, prepared.dataset, prepared.resume
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

    names = preset_names()
    width = max(map(len, names), default=0)
    for name in names:
        values = load_preset(name)
        print(f"{name:{width}s} {values.get('description', '')}")
    return 0


def _list_plugins(kind: str) -> int:
    """The built-ins and the installed plug-ins of a kind: name, package (baltui for a built-in), what it is."""
    from baltui.core.plugins import listing

    rows = listing(kind)
    name_w = max((len(r.name) for r in rows), default=0)
    package_w = max((len(r.package) for r in rows), default=0)
    for row in rows:
        print(f"{row.name:{name_w}s}  {row.package:{package_w}s}  {row.description}")
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
    if name == "export":
        from baltui.commands.export.cli import main as export_main

        return export_main(argv)
    if name == "next":
        from baltui.commands.next import main as next_main

        return next_main(argv)
    from baltui.commands.label.cli import main as label_main

    return label_main(argv)


if __name__ == "__main__":  # `python -m baltui.cli ...` runs the command as `baltui ...` does
    raise SystemExit(main())
