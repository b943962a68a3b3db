"""`baltui label SOURCE --out DIR`: label your own images; `--oracle` answers for tests and demos.

The oracle answers by item identity (a file's path in the folder, an .npz's index), never by position, so
an unreadable file that is skipped cannot shift the answers of the files after it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import numpy as np

from baltui.commands.label.session import SESSION_FILE, LabelSession, parse_classes, recorded_source
from baltui.commands.parsing import OneLineParser
from baltui.core.errors import BaltuiError, RunCancelled
from baltui.core.images import DEFAULT_SIZE, Source, load_source
from baltui.core.labels_file import read_labels_csv
from baltui.core.stopping import Rule, check_rules, parse_rules
from baltui.ui.leaving import exit_process, run_stoppable

DIGITS = "0,1,2,3,4,5,6,7,8,9"


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui label", description="Label your own images; the model picks which ones.")
    p.add_argument("source", nargs="?", help="a folder of PNG/JPEG/BMP images, or an .npz with x_train "
                   "(to resume, the one --out recorded is the default)")
    p.add_argument("--out", help="session folder (labels.jsonl); the same --out resumes")
    p.add_argument("--classes", help=f"comma list of class names (default {DIGITS}, or the ones --out recorded)")
    p.add_argument("--initial", type=int, default=20, help="first batch, chosen at random")
    p.add_argument("--instances", type=int, default=10, help="images per later batch")
    p.add_argument("--strategy", default="bald", help="acquisition function")
    p.add_argument("--model", help="architecture and the parts of its training regime that need no validation set: "
                   "seed (default) or batchbald2019 (28x28 or larger; resuming keeps the recorded one)")
    p.add_argument("--epochs", type=int, help="training epochs per round (default 50, or the model's)")
    p.add_argument("--batch-size", type=int, dest="batch_size",
                   help="training batch size (default 128, or the model's)")
    p.add_argument("--mc-samples", type=int, default=100, dest="mc_samples")
    p.add_argument("--subset", type=int, default=2000)
    p.add_argument("--beta", type=float, help="power for powerbald/powerentropy (default 1, or the recorded one)")
    p.add_argument("--mc-masks", dest="mc_masks", choices=("auto", "consistent", "independent"),
                   help="MC-dropout masks: one per sample for every point, or per point (default auto: consistent "
                   "where the strategy needs it)")
    p.add_argument("--test", help="an .npz of labelled images (x_test/y_test, or x_train/y_train) for accuracy; "
                   "with --export --format npz: written as x_test, y_test, so --data reads the file")
    p.add_argument("--size", type=int, help=f"square input size a folder's images are resized to (default "
                   f"{DEFAULT_SIZE}); an .npz keeps its own")
    p.add_argument("--oracle", help="answers instead of a person: a labels.csv (item,label, as --export writes), "
                   "an .npz with items and y_train, or, for an .npz source, an .npz with y_train by index")
    p.add_argument("--no-ui", action="store_true", help="headless (needs --oracle): one line per round")
    p.add_argument("--rounds", type=int, help="stop after N more rounds")
    p.add_argument("--stop-when", dest="stop_when", action="append", metavar="RULE",
                   help="say when a stop rule holds after a round (repeatable; the forms of baltui --stop-when, "
                   "judged on this session's rounds): labels>=N, uncertainty<X, stable:X, and with --test "
                   "accuracy>=X and plateau:N,D. The screen tells you and lets you go on; --no-ui stops there")
    p.add_argument("--save-model", help="save the trained model (.keras) when leaving")
    p.add_argument("--export", metavar="DIR", help="write the labelled set of session DIR and exit")
    p.add_argument("--format", choices=("csv", "npz"), default="csv", help="with --export")
    p.add_argument("--to", help="with --export: the file to write (default DIR/labels.csv or .npz)")
    return p


def _labelled_npz(path: str, what: str, classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """--test reads x_test/y_test, else x_train/y_train: images as data.py checks them, and labels that are
    classes of the session (0..classes-1)."""
    from baltui.core.data import check_images, check_labels, npz_problem, scale_images

    splits = ["test", "train"]
    problem = npz_problem(path) if Path(path).is_file() else None
    if problem:
        raise BaltuiError(f"{what} {path} {problem}")
    try:
        with np.load(path, allow_pickle=False) as f:
            for x_key, y_key in ((f"x_{s}", f"y_{s}") for s in splits):
                if x_key in f.files and y_key in f.files:
                    x, y = f[x_key], f[y_key]
                    break
            else:
                raise BaltuiError(f"{what} {path} needs x_test/y_test or x_train/y_train arrays")
    except (OSError, ValueError, EOFError) as exc:
        raise BaltuiError(f"{what} {path} is not a readable .npz ({exc})") from None
    where = f"{what} {path}"
    check_images(where, x_key, x)
    check_labels(where, y_key, y, len(x))
    if classes is not None and int(y.max()) >= classes:
        raise BaltuiError(f"{where}: {y_key} has label {int(y.max())}, beyond the {classes} classes")
    return scale_images(x), y.astype(np.int64)


def load_oracle(path: str, source: Source, classes: list[str]) -> np.ndarray:
    """The oracle's class index for every item of `source`, matched by item name; else one line saying why.

    A labels.csv (item,label: class names, as `--export --format csv` writes), an .npz with `items` beside
    `y_train` (class indices; or the `y`, `classes` and `items` of `--export --format npz`), or, only when the
    source is an .npz itself, an .npz whose `y_train` answers by index.
    """
    what = f"--oracle {path}"
    if path.endswith(".csv"):
        names = read_labels_csv(path, what).labels
        answers: dict[str, int] = {}
        for item, name in names.items():
            if name not in classes:
                raise BaltuiError(f"{what}: item {item} is labelled '{name}', which is not one of the classes "
                                  f"{','.join(classes)}")
            answers[item] = classes.index(name)
    elif path.endswith(".npz"):
        from baltui.core.data import npz_problem

        problem = npz_problem(path) if Path(path).is_file() else None
        if problem:
            raise BaltuiError(f"{what} {problem}")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files if k in ("items", "y_train", "y_test", "y", "classes")}
        except (OSError, ValueError, EOFError) as exc:
            raise BaltuiError(f"{what} is not a readable .npz ({exc})") from None
        if "items" not in arrays:
            return _positional_oracle(arrays, what, source, classes)
        y = arrays.get("y_train", arrays.get("y"))
        items = arrays["items"]
        if y is None or y.ndim != 1 or items.ndim != 1 or len(y) != len(items):
            raise BaltuiError(f"{what}: items needs a y_train of the same length (one label per item)")
        if not np.issubdtype(y.dtype, np.integer):
            raise BaltuiError(f"{what}: y_train must hold integer class indices, got dtype {y.dtype}")
        own = [str(c) for c in arrays["classes"]] if "classes" in arrays else classes
        if len(y) and (y.min() < 0 or y.max() >= len(own)):
            raise BaltuiError(f"{what}: labels go beyond the {len(own)} classes")
        if any(name not in classes for name in own[: int(y.max()) + 1 if len(y) else 0]):
            raise BaltuiError(f"{what} names classes {','.join(own)}; --classes is {','.join(classes)}")
        answers = {str(item): classes.index(own[int(label)]) for item, label in zip(items, y, strict=True)}
    else:
        raise BaltuiError(f"{what}: give a labels.csv (item,label) or an .npz (items and y_train)")
    missing = [item for item in source.items if item not in answers]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise BaltuiError(f"{what} has no label for {len(missing)} item(s) of the source: {shown}")
    return np.asarray([answers[item] for item in source.items], dtype=np.int64)


def _positional_oracle(arrays: dict[str, np.ndarray], what: str, source: Source, classes: list[str]) -> np.ndarray:
    """y_train by index: only an .npz source has indices for items, so a folder's files cannot be matched."""
    if source.kind != "npz":
        raise BaltuiError(f"{what} has labels by position only (no items array); a folder's images are matched "
                          "by name: give the labels.csv of --export, or add an items array of file paths")
    y = arrays.get("y_train", arrays.get("y_test"))
    if y is None or y.ndim != 1:
        raise BaltuiError(f"{what} needs y_train (labels by index of the source's x_train) or items and y_train")
    if not np.issubdtype(y.dtype, np.integer):
        raise BaltuiError(f"{what}: y_train must hold integer class indices, got dtype {y.dtype}")
    if len(y) < len(source.items):
        raise BaltuiError(f"{what} has {len(y)} labels for {len(source.items)} images")
    y = y[: len(source.items)].astype(np.int64)
    if y.min() < 0 or y.max() >= len(classes):
        raise BaltuiError(f"{what}: labels go beyond the {len(classes)} classes")
    return y


def _saved(run: Path) -> dict:
    try:
        saved = json.loads((run / SESSION_FILE).read_text(encoding="utf-8"))
    except OSError:
        raise BaltuiError(f"{run} is not a baltui label session (no readable {SESSION_FILE})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BaltuiError(f"{run / SESSION_FILE} is corrupt") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("classes", []), list):
        raise BaltuiError(f"{run / SESSION_FILE} is corrupt (not a session's JSON object)")
    return saved


def _export(args: argparse.Namespace) -> int:
    run = Path(args.export)
    saved = _saved(run)
    session = LabelSession(load_source(recorded_source(run, saved), saved.get("size")), run, saved.get("classes", []),
                           writer=False)
    target = Path(args.to) if args.to else run / f"labels.{args.format}"
    test = None
    if args.test:
        test = _labelled_npz(args.test, "--test", len(session.classes))
        _check_test_shape(test, session.source)
    try:
        n = session.export(args.format, target, test)
    finally:
        session.close()
    print(f"wrote {n} labels to {target}")
    if args.format == "npz" and test is None:
        print("it holds x_train, y_train; for baltui --data it also needs a test split: export again with "
              "--test FILE.npz (written as x_test, y_test)")
    return 0


def _check_test_shape(test: tuple[np.ndarray, np.ndarray], source: Source) -> None:
    if test[0].shape[1:] != source.images.shape[1:]:
        raise BaltuiError(f"--test images are {'x'.join(map(str, test[0].shape[1:]))} but the source's are "
                          f"{'x'.join(map(str, source.images.shape[1:]))} (height x width x channels); "
                          "they must match")


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    session: LabelSession | None = None
    try:
        if args.export:
            return _export(args)
        if not args.out:
            raise BaltuiError("give a SOURCE (folder or .npz) and --out DIR, or --export DIR")
        saved = _saved(Path(args.out)) if (Path(args.out) / SESSION_FILE).is_file() else {}
        if not args.source and not saved:
            raise BaltuiError("give a SOURCE (folder or .npz) and --out DIR, or --export DIR")
        if args.no_ui and not args.oracle:
            raise BaltuiError("--no-ui needs --oracle FILE (labels.csv or .npz) to answer (a person needs the screen)")
        if args.rounds is not None and args.rounds < 1:
            raise BaltuiError("--rounds must be at least 1")
        classes = parse_classes(args.classes or ",".join(saved.get("classes", [])) or DIGITS)
        # Resuming: the source, size and classes the session recorded, unless given (its path is relative to --out)
        source = load_source(args.source or recorded_source(Path(args.out), saved),
                             args.size if args.size is not None else saved.get("size"))
        oracle = load_oracle(args.oracle, source, classes) if args.oracle else None
        test = _labelled_npz(args.test, "--test", len(classes)) if args.test else None
        if test is not None:
            _check_test_shape(test, source)
        rules = _stop_rules(args.stop_when, args.strategy, test is not None)
        session = LabelSession(source, Path(args.out), classes, args.strategy, args.initial, args.instances,
                               args.epochs, args.batch_size, args.mc_samples, args.subset, test=test,
                               model=args.model, beta=args.beta, mc_masks=args.mc_masks, stop_rules=rules)
        for line in _setting_notes(session, args):
            print(line, file=sys.stderr)
        if source.skipped:
            names = ", ".join(f"{item} ({why})" for item, why in source.skipped[:5])
            more = f" and {len(source.skipped) - 5} more" if len(source.skipped) > 5 else ""
            print(f"skipped {len(source.skipped)} unreadable image(s): {names}{more}", file=sys.stderr)
            (Path(args.out) / "skipped.log").write_text(
                "".join(f"{item}\t{why}\n" for item, why in source.skipped), encoding="utf-8")
        if args.no_ui:
            return run_oracle(session, oracle, args.rounds, args.save_model)
        from baltui.commands.label.app import LabelApp
        from baltui.core.tf_setup import load_before_the_screen

        load_before_the_screen()
        app = LabelApp(session, oracle=oracle, rounds=args.rounds, save_model=args.save_model)
        app.run()
        if app.error:
            raise BaltuiError(app.error)
        return 0
    except BaltuiError as exc:
        print(f"baltui label: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if session is not None:
            session.close()  # the folder's lock is released whichever way the session ended


def _stop_rules(texts: list[str] | None, strategy: str, has_test: bool) -> list[Rule]:
    """--stop-when's rules, checked as a run's are (a bad one is one line), plus: those that read test
    accuracy need --test."""
    rules = parse_rules(texts or [])
    check_rules(rules, [strategy], has_test)
    return rules


def _setting_notes(session: LabelSession, args: argparse.Namespace) -> list[str]:
    """One line per setting the session cannot use as given: the model regime's parts that need labelled
    validation images, and a --beta its strategy does not read."""
    from baltui.core.acquisition import STRATEGIES

    notes = []
    if session.regime_not_applied:
        described = {"early_stopping": "early stopping (patience {})", "validation": "validation ({} images)"}
        parts = " and ".join(described.get(key, key.replace("_", " ") + " {}").format(value)
                             for key, value in session.regime_not_applied.items())
        notes.append(f"baltui label: note: model {session.model}'s regime applies without {parts}: they need "
                     "labelled validation images, which label mode does not have")
    if args.beta is not None and not STRATEGIES[session.strategy].uses_beta:
        readers = ", ".join(a.name for a in STRATEGIES.values() if a.uses_beta)
        notes.append(f"baltui label: warning: --beta is read only by {readers}; {session.strategy} does not use it")
    return notes


def run_oracle(session: LabelSession, oracle: np.ndarray, rounds: int | None, save_model: str | None) -> int:
    """The whole loop without a person, in a thread: SIGINT/SIGTERM/SIGHUP stop it (exit code 130).

    Every label is fsynced as it is given, so a stop loses only the retrain in progress; the process
    leaves within STOP_GRACE_S of the stop even if that retrain is inside a phase it cannot leave.
    """

    def on_signal(signum: int) -> None:  # on stdout: fd 2 is /dev/null while TensorFlow is being imported
        _say(f"{signal.Signals(signum).name}: stopping; every label is saved")

    ended, code = run_stoppable(lambda: _oracle_loop(session, oracle, rounds, save_model), session.control,
                                on_signal)
    if not ended:  # the retrain in progress cannot be interrupted; it is not on disk yet
        _say(f"stopped: every label is saved in {session.out_dir}; the same command resumes")
        exit_process(130)
    assert code is not None
    if session.control.stopped:  # a signal: leave now, not after TensorFlow's slow teardown
        exit_process(code)
    return code


def _oracle_loop(session: LabelSession, oracle: np.ndarray, rounds: int | None, save_model: str | None) -> int:
    """The oracle's label for every asked image, then retrain and acquire, round after round."""
    session.start()
    done = 0
    while rounds is None or done < rounds:
        while (item := session.current()) is not None and not session.control.stopped:
            session.label(int(oracle[item]))
        if session.control.stopped:
            return _stopped(session)
        if not len(session.unlabelled) and not session.pending:
            break
        try:
            result = session.train_and_acquire()
        except RunCancelled:
            return _stopped(session)
        done += 1
        acc = f", test accuracy {result.accuracy:.4f}" if result.accuracy is not None else ""
        _say(f"round {result.round}: {result.n_labelled} labels{acc} ({result.seconds:.1f} s)")
        if result.rules_met:  # no person to decide: the oracle stops where the rule says it could
            _say(f"stopped: {' and '.join(result.rules_met)} at round {result.round}")
            break
        if not session.pending:
            break
    if save_model and session.clf is not None:
        session.clf.model.save(save_model)
        _say(f"saved model to {save_model}")
    session.close()
    return 0


def _stopped(session: LabelSession) -> int:
    session.close()
    _say(f"stopped: every label is saved in {session.out_dir}; the same command resumes")
    return 130


def _say(text: str) -> None:
    """One line, flushed; a terminal that was closed (SIGHUP) must not turn a stop into a traceback."""
    try:
        print(text, flush=True)
    except OSError:
        pass
