"""`baltui label SOURCE --out DIR`: label your own images; `--oracle` answers for tests and demos."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import numpy as np

from baltui.control import exit_process, run_stoppable
from baltui.errors import BaltuiError, RunCancelled
from baltui.label.session import SESSION_FILE, LabelSession, parse_classes
from baltui.label.sources import load_source


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="baltui label", description="Label your own images; the model picks which ones.")
    p.add_argument("source", nargs="?", help="a folder of PNG/JPEG/BMP images, or an .npz with x_train")
    p.add_argument("--out", help="session folder (labels.jsonl); the same --out resumes")
    p.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9", help="comma list of class names")
    p.add_argument("--initial", type=int, default=20, help="first batch, chosen at random")
    p.add_argument("--instances", type=int, default=10, help="images per later batch")
    p.add_argument("--strategy", default="bald", help="acquisition function")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128, dest="batch_size")
    p.add_argument("--mc-samples", type=int, default=100, dest="mc_samples")
    p.add_argument("--subset", type=int, default=2000)
    p.add_argument("--test", help="an .npz of labelled images (x_test/y_test, or x_train/y_train) for accuracy")
    p.add_argument("--oracle", help="an .npz whose y_train answers instead of a person")
    p.add_argument("--no-ui", action="store_true", help="headless (needs --oracle): one line per round")
    p.add_argument("--rounds", type=int, help="stop after N more rounds")
    p.add_argument("--save-model", help="save the trained model (.keras) when leaving")
    p.add_argument("--export", metavar="DIR", help="write the labelled set of session DIR and exit")
    p.add_argument("--format", choices=("csv", "npz"), default="csv", help="with --export")
    p.add_argument("--to", help="with --export: the file to write (default DIR/labels.csv or .npz)")
    return p


def _labelled_npz(path: str, what: str, prefer: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """--test reads x_test/y_test (else x_train/y_train); --oracle answers from y_train, like the source."""
    from baltui.data import scale_images

    splits = ["test", "train"] if prefer == "test" else ["train", "test"]
    try:
        with np.load(path, allow_pickle=False) as f:
            for x_key, y_key in ((f"x_{s}", f"y_{s}") for s in splits):
                if x_key in f.files and y_key in f.files:
                    return scale_images(f[x_key]), f[y_key].astype(np.int64)
    except (OSError, ValueError, EOFError) as exc:
        raise BaltuiError(f"{what} {path} is not a readable .npz ({exc})") from None
    raise BaltuiError(f"{what} {path} needs x_test/y_test or x_train/y_train arrays")


def _export(args: argparse.Namespace) -> int:
    run = Path(args.export)
    try:
        saved = json.loads((run / SESSION_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise BaltuiError(f"{run} is not a baltui label session (no readable {SESSION_FILE})") from None
    session = LabelSession(load_source(saved["source_path"]), run, saved["classes"])
    target = Path(args.to) if args.to else run / f"labels.{args.format}"
    n = session.export(args.format, target)
    session.close()
    print(f"wrote {n} labels to {target}")
    return 0


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.export:
            return _export(args)
        if not args.source or not args.out:
            raise BaltuiError("give a SOURCE (folder or .npz) and --out DIR, or --export DIR")
        if args.no_ui and not args.oracle:
            raise BaltuiError("--no-ui needs --oracle FILE.npz to answer (a person needs the screen)")
        if args.rounds is not None and args.rounds < 1:
            raise BaltuiError("--rounds must be at least 1")
        classes = parse_classes(args.classes)
        source = load_source(args.source)
        oracle = None
        if args.oracle:
            _, oracle = _labelled_npz(args.oracle, "--oracle", prefer="train")
            if len(oracle) < len(source.items):
                raise BaltuiError(f"--oracle has {len(oracle)} labels for {len(source.items)} images")
            if oracle[: len(source.items)].max() >= len(classes) or oracle.min() < 0:
                raise BaltuiError(f"--oracle labels go beyond the {len(classes)} classes")
        test = _labelled_npz(args.test, "--test") if args.test else None
        if test is not None and test[0].shape[1:] != source.images.shape[1:]:
            raise BaltuiError(f"--test images are {test[0].shape[1:3]} but the source's are "
                              f"{source.images.shape[1:3]}; they must match")
        session = LabelSession(source, Path(args.out), classes, args.strategy, args.initial, args.instances,
                               args.epochs, args.batch_size, args.mc_samples, args.subset, test=test)
        if source.skipped:
            names = ", ".join(f"{item} ({why})" for item, why in source.skipped[:5])
            more = f" and {len(source.skipped) - 5} more" if len(source.skipped) > 5 else ""
            print(f"skipped {len(source.skipped)} unreadable image(s): {names}{more}", file=sys.stderr)
            (Path(args.out) / "skipped.log").write_text(
                "".join(f"{item}\t{why}\n" for item, why in source.skipped), encoding="utf-8")
        if args.no_ui:
            return run_oracle(session, oracle, args.rounds, args.save_model)
        from baltui.label.app import LabelApp

        from baltui.tf_setup import load_before_the_screen

        load_before_the_screen()
        app = LabelApp(session, oracle=oracle, rounds=args.rounds, save_model=args.save_model)
        app.run()
        return 0
    except BaltuiError as exc:
        print(f"baltui label: error: {exc}", file=sys.stderr)
        return 2


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
