"""A labelling session: who is labelled, what is asked next, and everything on disk as it happens.

UI-free on purpose: tests drive it directly, the headless oracle loop drives it, and the Textual
screen only shows it and forwards keys. Every key press is one line appended (and fsynced) to
DIR/labels.jsonl; replaying that file is how a session resumes, so a crash loses nothing.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baltui.core.acquisition import STRATEGIES
from baltui.core.config import MC_MASKS
from baltui.core.control import Control
from baltui.core.errors import BaltuiError
from baltui.core.images import Source
from baltui.core.loop import QUERY, TRAIN, ActiveLearningLoop, LoopSettings, stream
from baltui.core.models import model_spec
from baltui.core.stopping import Measured, Rule, changed_share, stop_set
from baltui.runs.jsonl import Appender, read_jsonl
from baltui.runs.lock import LOCK_FILE, FolderLock, release, take

SESSION_FILE = "session.json"
LABELS_FILE = "labels.jsonl"
RESERVED_KEYS = {"q", "x", "u"}
# Label mode's training when neither a flag nor the model's regime nor a resumed session says otherwise.
DEFAULT_REGIME = {"epochs": 50, "batch_size": 128, "epoch_draws": 0}


def class_keys(classes: list[str]) -> dict[str, int]:
    """Each class gets the first character of its name not already taken (nor reserved for commands)."""
    keys: dict[str, int] = {}
    for i, name in enumerate(classes):
        candidates = [c for c in name.lower() if c.isalnum()] + list("abcdefghijklmnoprstvwyz0123456789")
        key = next((c for c in candidates if c not in keys and c not in RESERVED_KEYS), None)
        if key is None:
            raise BaltuiError(f"no free key for class '{name}'")
        keys[key] = i
    return keys


def recorded_source(out_dir: Path, saved: dict[str, Any]) -> str:
    """The source a session.json names: its path relative to the session folder, else as written."""
    path = str(saved.get("source_path", ""))
    beside = Path(out_dir) / path
    return os.path.normpath(beside) if path and beside.exists() else path


def parse_classes(text: str) -> list[str]:
    classes = [c.strip() for c in text.split(",") if c.strip()]
    if len(classes) < 2:
        raise BaltuiError(f"--classes needs at least two classes, got {classes}")
    if len(set(classes)) != len(classes):
        dup = next(c for c in classes if classes.count(c) > 1)
        raise BaltuiError(f"--classes lists '{dup}' twice")
    return classes


@dataclass
class RoundResult:
    """What one retrain + acquisition produced, for the screen's panels."""

    round: int
    n_labelled: int
    accuracy: float | None
    scores: np.ndarray | None
    predicted_counts: list[int]
    seconds: float
    rules_met: list[str] = field(default_factory=list)  # the stop rules that hold after this round


class LabelSession:
    """The labelled set, the pending batch, undo, and resume, backed by DIR/labels.jsonl.

    `model`, `beta`, `mc_masks`, `epochs` and `batch_size` left None mean: what a resumed session recorded,
    else the model's regime (epochs, batch size, epoch draws: the parts that need no labelled validation
    set; `regime_not_applied` holds the others), else label mode's defaults.
    """

    def __init__(
        self,
        source: Source,
        out_dir: Path,
        classes: list[str],
        strategy: str = "bald",
        initial: int = 20,
        instances: int = 10,
        epochs: int | None = None,
        batch_size: int | None = None,
        mc_samples: int = 100,
        subset: int = 2000,
        seed: int = 0,
        test: tuple[np.ndarray, np.ndarray] | None = None,
        control: Control | None = None,
        model: str | None = None,
        beta: float | None = None,
        mc_masks: str | None = None,
        writer: bool = True,
        stop_rules: list[Rule] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise BaltuiError(f"unknown strategy '{strategy}'; known strategies: {', '.join(STRATEGIES)}")
        for name, value in (("initial", initial), ("instances", instances), ("epochs", epochs),
                            ("batch-size", batch_size), ("mc-samples", mc_samples), ("subset", subset)):
            if value is not None and value < 1:
                raise BaltuiError(f"--{name} must be at least 1, got {value}")
        if beta is not None and not beta > 0:
            raise BaltuiError(f"--beta must be positive, got {beta}")
        if mc_masks is not None and mc_masks not in MC_MASKS:
            raise BaltuiError(f"--mc-masks must be one of {', '.join(MC_MASKS)}, got '{mc_masks}'")
        self.source = source
        self.out_dir = Path(out_dir)
        self.classes = classes
        self.keys = class_keys(classes)
        self.strategy = strategy
        self.initial, self.instances = initial, instances
        self.mc_samples, self.subset = mc_samples, subset
        self.seed = seed
        self.test = test
        self.control = control or Control()
        self.labels: dict[int, int | None] = {}  # item index -> class index, or None for unusable
        self.pending: list[int] = []
        self.position = 0
        self.round = 0
        self.loop: ActiveLearningLoop | None = None
        self._given = {"model": model, "beta": beta, "mc_masks": mc_masks, "epochs": epochs, "batch_size": batch_size}
        self._resolve({})  # the settings without a recorded session; _open resolves again from session.json
        self.probs: np.ndarray | None = None  # predictions over all items from the latest model
        self.history: list[RoundResult] = []
        # Stop rules (--stop-when), judged after every round of this session as the engine judges a run's
        # queries; label mode only says when one holds: the person decides whether to stop.
        self.stop_rules = list(stop_rules or [])
        self.measured: list[Measured] = []
        self.rules_met: list[str] = []  # those that hold after the latest round
        self._stop_items: np.ndarray | None = None
        self._stop_predictions: np.ndarray | None = None
        self.label_times: list[float] = []
        self._index = {item: i for i, item in enumerate(source.items)}
        self.writer = writer  # False: read the session only (--export), never lock or append
        self._lock: FolderLock | None = None
        self._labels_file: Appender | None = None
        self._open()

    def _resolve(self, saved: dict[str, Any]) -> None:
        """Model, beta, masks and training regime: given > recorded in session.json > the model's > defaults."""
        given = self._given
        recorded_model = saved.get("model", "seed" if saved else None)
        if given["model"] and recorded_model and given["model"] != recorded_model:
            raise BaltuiError(f"--out {self.out_dir} was labelled with model {recorded_model}; resume it with "
                              f"--model {recorded_model} (or no --model), or use another --out")
        spec = model_spec(given["model"] or recorded_model or "seed")
        spec.check_fits(self.source.images.shape[1:])
        applicable, self.regime_not_applied = spec.regime_without_validation()
        recorded = saved.get("regime", {})
        regime = {key: default if given.get(key) is None else given[key] for key, default in
                  ({**DEFAULT_REGIME, **applicable, **recorded}).items() if key in DEFAULT_REGIME}
        self.model = spec.name
        self.epochs, self.batch_size, self.epoch_draws = regime["epochs"], regime["batch_size"], regime["epoch_draws"]
        self.beta = float(given["beta"] if given["beta"] is not None else saved.get("beta", 1.0))
        self.mc_masks = given["mc_masks"] or saved.get("mc_masks", "auto")
        if self.mc_masks == "independent" and STRATEGIES[self.strategy].needs_consistent_masks:
            fix = "drop --mc-masks independent" if given["mc_masks"] else \
                "the session recorded --mc-masks independent: give --mc-masks auto"
            raise BaltuiError(f"{self.strategy} needs consistent MC-dropout masks (its joint over the batch is wrong "
                              f"with independent ones); {fix}")

    @property
    def regime(self) -> dict[str, int]:
        """The training regime this session applies (recorded in session.json)."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "epoch_draws": self.epoch_draws}

    @property
    def settings(self) -> LoopSettings:
        return LoopSettings(strategy=self.strategy, model=self.model, epochs=self.epochs, batch_size=self.batch_size,
                            epoch_draws=self.epoch_draws, mc_samples=self.mc_samples, subset=self.subset,
                            beta=self.beta, mc_masks=self.mc_masks)

    @property
    def clf(self) -> Any:
        """The classifier of the latest round (None before the first)."""
        return None if self.loop is None else self.loop.classifier

    # ---- files ----------------------------------------------------------------------------------
    def _open(self) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise BaltuiError(f"--out {self.out_dir} is a file, not a folder")
        session = self.out_dir / SESSION_FILE
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            saved = None
            if session.exists():
                saved = json.loads(session.read_text(encoding="utf-8"))
                if not isinstance(saved, dict):
                    raise BaltuiError(f"{session} is corrupt (not a JSON object)")
                if saved.get("source") not in (self.source.identity, *self.source.aliases):
                    raise BaltuiError(
                        f"--out {self.out_dir} holds labels of another source "
                        f"({recorded_source(self.out_dir, saved)}); choose another --out")
                if saved.get("classes") != self.classes:
                    raise BaltuiError(f"--out {self.out_dir} was labelled with classes {saved.get('classes')}; "
                                      "use the same --classes or another --out")
                self._resolve(saved)
            elif any(p.name != LOCK_FILE and not (p.name == LABELS_FILE and not p.stat().st_size)
                     for p in self.out_dir.iterdir()):
                raise BaltuiError(f"--out {self.out_dir} is not empty and is not a baltui label session")
            if self.writer:  # one writer per folder; it mends a last line cut short before anything is read
                self._lock = take(self.out_dir, "label session")
                after = "every label before it is saved: free some space, then the same command resumes"
                self._labels_file = Appender(self.out_dir / LABELS_FILE, after)
            if saved is not None:
                self.round = int(saved.get("round", 0))
                self._replay()
                self.pending = [i for i in saved.get("pending", []) if i not in self.labels]
        except OSError as exc:
            self.close()
            raise BaltuiError(f"cannot write to {self.out_dir}: {exc.strerror or exc}") from None
        except json.JSONDecodeError:
            self.close()
            raise BaltuiError(f"{session} is corrupt") from None
        except BaseException:
            self.close()
            raise

    def _replay(self) -> None:
        path = self.out_dir / LABELS_FILE
        if not path.exists():
            return
        contents = read_jsonl(path)  # a torn last line (a hard kill) is left out: that key press only
        for record, line in zip(contents.records, contents.lines, strict=True):
            if "item" not in record or not isinstance(record.get("label"), (str, type(None))):
                raise BaltuiError(f"{path} line {line} is not a label record (item and label); the file is "
                                  "corrupt there: remove or mend that line")
            index = self._index.get(str(record["item"]))
            if index is None:
                continue
            if record.get("undone"):
                self.labels.pop(index, None)
            elif record["label"] is None:
                self.labels[index] = None
            elif record["label"] in self.classes:
                self.labels[index] = self.classes.index(record["label"])

    def _save_session(self) -> None:
        # The source's path relative to this folder (as run folders record their data), so a session moved
        # along with its images, or resumed from another directory, still finds them.
        try:
            source_path = os.path.relpath(Path(self.source.path).resolve(), self.out_dir.resolve())
        except ValueError:  # another drive (Windows): no relative path exists
            source_path = str(Path(self.source.path).resolve())
        state = {"source": self.source.identity, "classes": self.classes, "round": self.round,
                 "pending": self.pending, "strategy": self.strategy,
                 "source_path": Path(source_path).as_posix(), "size": self.source.size,
                 "model": self.model, "beta": self.beta, "mc_masks": self.mc_masks, "regime": self.regime,
                 "regime_not_applied": self.regime_not_applied}
        tmp = self.out_dir / (SESSION_FILE + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.out_dir / SESSION_FILE)

    def _append(self, index: int, label: int | None, undone: bool = False) -> None:
        record: dict[str, Any] = {"item": self.source.items[index],
                                  "label": None if label is None else self.classes[label],
                                  "round": self.round, "time": round(time.time(), 3)}
        if undone:
            record["undone"] = True
        if self._labels_file is None:
            raise BaltuiError(f"{self.out_dir} was opened to read only")
        self._labels_file.append(record)

    def close(self) -> None:
        """Stop writing: the labels file is closed and the folder's lock released (closing twice is harmless)."""
        if self._labels_file is not None:
            self._labels_file.close()
            self._labels_file = None
        lock, self._lock = self._lock, None
        release(lock)

    # ---- the batch ------------------------------------------------------------------------------
    @property
    def unlabelled(self) -> np.ndarray:
        mask = np.ones(len(self.source.items), dtype=bool)
        mask[list(self.labels)] = False
        return np.flatnonzero(mask)

    @property
    def usable(self) -> list[int]:
        return [i for i, c in self.labels.items() if c is not None]

    def current(self) -> int | None:
        """The item to label now, or None when the batch is done (time to retrain)."""
        while self.position < len(self.pending) and self.pending[self.position] in self.labels:
            self.position += 1
        return self.pending[self.position] if self.position < len(self.pending) else None

    def label(self, value: int | None) -> None:
        """Label the current item (a class index, or None: unusable, never asked again)."""
        item = self.current()
        if item is None:
            raise BaltuiError("no image is waiting for a label")
        self._append(item, value)
        self.labels[item] = value
        self.label_times.append(time.monotonic())
        self.position += 1

    def accept(self) -> None:
        """Enter: take the model's prediction as the label (no prediction before the first model)."""
        item = self.current()
        predicted = self.prediction(item) if item is not None else None
        if predicted is None:
            raise BaltuiError("no prediction yet: label this one with its key")
        self.label(predicted[0])

    def undo(self) -> bool:
        """Backspace: go back one image of this batch and forget its label."""
        if self.position == 0:
            return False
        self.position -= 1
        item = self.pending[self.position]
        if item in self.labels:
            self._append(item, self.labels[item], undone=True)
            del self.labels[item]
        return True

    def prediction(self, item: int) -> tuple[int, float] | None:
        if self.probs is None:
            return None
        p = self.probs[item]
        return int(p.argmax()), float(p.max())

    def seconds_per_label(self) -> float | None:
        t = self.label_times
        return (t[-1] - t[0]) / (len(t) - 1) if len(t) >= 2 else None

    # ---- training and acquisition ---------------------------------------------------------------
    def start(self) -> None:
        """Choose the first batch at random when there is none yet (no labels: no model to ask)."""
        if self.pending and self.current() is not None:
            return
        if not self.usable:
            rng = np.random.default_rng([self.seed, self.round, 0])
            pool = self.unlabelled
            self.pending = [int(i) for i in rng.choice(pool, size=min(self.initial, len(pool)), replace=False)]
            self.position = 0
            self._save_session()

    def train_and_acquire(self) -> RoundResult:
        """Retrain from fresh weights on every usable label, then pick the next batch. Runs in a worker.

        One round of the engine's loop (`baltui.core.loop`), with this round's streams of randomness.
        """
        started = time.perf_counter()
        images = self.source.images
        if self.loop is None:
            self.loop = ActiveLearningLoop.build(self.settings, images, len(self.classes), control=self.control)
        usable = self.usable
        if not usable:
            raise BaltuiError("nothing to train on: every labelled image was marked unusable")
        y = np.asarray([self.labels[i] for i in usable], dtype=np.int64)
        self.loop.start(np.asarray(usable, dtype=np.int64), stream(self.seed, self.round, TRAIN), y)
        pool = self.unlabelled
        n = min(self.instances, len(pool))
        chosen: list[int] = []
        scores = None
        if n:
            acquired = self.loop.acquire(pool, n, stream(self.seed, self.round, QUERY))
            chosen, scores = [int(i) for i in acquired.chosen], acquired.scores
        self.probs = self.loop.classifier.predict_proba(images)
        accuracy = None
        if self.test is not None:
            accuracy = self.loop.evaluate(*self.test)[0]
        predicted = np.bincount(self.probs[pool].argmax(axis=1), minlength=len(self.classes)) if len(pool) else \
            np.zeros(len(self.classes), int)
        self.round += 1
        self.pending, self.position = chosen, 0
        self._save_session()
        result = RoundResult(self.round, len(usable), accuracy, scores, predicted.tolist(),
                             time.perf_counter() - started, self._judge(len(usable), accuracy, scores))
        self.history.append(result)
        return result

    def _judge(self, n_labelled: int, accuracy: float | None, scores: np.ndarray | None) -> list[str]:
        """The stop rules that hold after this round (the session's rounds so far are the history): the same
        measures as a run's, `stable` on a fixed sample of the source's images (their predictions are made
        every round anyway)."""
        if not self.stop_rules:
            return []
        changed = None
        if any(rule.needs_predictions for rule in self.stop_rules) and self.probs is not None:
            if self._stop_items is None:
                self._stop_items = stop_set(np.arange(len(self.source.items)), self.seed)
            current = self.probs[self._stop_items].argmax(axis=1)
            if self._stop_predictions is not None:
                changed = changed_share(self._stop_predictions, current)
            self._stop_predictions = current
        mean = float(np.mean(np.asarray(scores, dtype=np.float64))) if scores is not None and len(scores) else None
        self.measured.append(Measured(self.round, n_labelled, accuracy, mean, changed))
        self.rules_met = [rule.text for rule in self.stop_rules if rule.met(self.measured)]
        return self.rules_met

    def class_counts(self) -> list[int]:
        counts = [0] * len(self.classes)
        for c in self.labels.values():
            if c is not None:
                counts[c] += 1
        return counts

    # ---- export ---------------------------------------------------------------------------------
    def export(self, fmt: str, target: Path, test: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Write the usable labels: csv (item,label, what --oracle reads back) or npz. The npz holds the keras
        layout `x_train, y_train` (and `x_test, y_test` from `test`, if given: then `baltui --data` reads the
        file as a data set) beside `x, y, classes, items` (`y` indexes `classes`; items name the source's images)."""
        usable = sorted(self.usable)
        if test is not None and fmt != "npz":
            raise BaltuiError("--test with --export goes into an .npz: add --format npz")
        if fmt == "csv":  # the form --oracle reads back: item (path or npz index), label (class name)
            with open(target, "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(["item", "label"])
                writer.writerows([self.source.items[i], self.classes[self.labels[i]]] for i in usable)
        elif fmt == "npz":
            x = _keras_images(self.source.images[usable])
            y = np.asarray([self.labels[i] for i in usable], dtype=np.int64)
            arrays = {"x": x, "y": y, "classes": np.asarray(self.classes),
                      "items": np.asarray([self.source.items[i] for i in usable]), "x_train": x, "y_train": y}
            if test is not None:
                arrays |= {"x_test": _keras_images(test[0]), "y_test": np.asarray(test[1], dtype=np.int64)}
            np.savez(target, **arrays)
        else:
            raise BaltuiError(f"unknown export format '{fmt}'; use csv or npz")
        return len(usable)


def _keras_images(x: np.ndarray) -> np.ndarray:
    """Grayscale as [N, H, W] (as keras stores MNIST), colour as [N, H, W, 3]."""
    return x[..., 0] if x.shape[-1] == 1 else x
