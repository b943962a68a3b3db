"""LabelApp: one image at a time, one key per label; retraining and acquisition in a thread worker.

Every way out (q, Ctrl+Q, Ctrl+C, the command palette's Quit, SIGINT, SIGTERM, SIGHUP) takes AppBase's one
path: every label is already on disk, a running retrain is stopped, the screen closes at once, and the
process never outlives it by more than the rest of STOP_GRACE_S. The exit code stays 0: a person ends a
session by quitting, and nothing is lost (the same command resumes).

Class keys are read in on_key, before the bindings, from the class names; the key table
(baltui.ui.keys) gives label mode only keys a class key can never be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Key
from textual.message import Message
from textual.widgets import Footer, Header, Static
from textual.worker import Worker

from baltui.commands.label.session import LabelSession, RoundResult
from baltui.commands.label.widgets import BatchStrip, ImageView, bars
from baltui.core.errors import BaltuiError
from baltui.ui import BASE_CSS
from baltui.ui.app_base import AppBase
from baltui.ui.keys import LABEL
from baltui.ui.widgets.histogram import ScoreHistogram, histogram_title
from baltui.ui.widgets.status import SEPARATOR, pack_parts


class RoundDone(Message):
    """Posted by the training worker when the next batch is ready."""

    def __init__(self, result: RoundResult) -> None:
        super().__init__()
        self.result = result


LABEL_HELP = """\
# baltui label

One image at a time: press its class's key. The model retrains on every label so far after each batch, in
the background, and picks the next batch (`--strategy`). Every key press is on disk at once; the same
command resumes.
"""


class LabelApp(AppBase):
    """Shows the session and forwards keys to it; all state lives in LabelSession."""

    APP = LABEL
    CSS_PATH = [BASE_CSS, Path(__file__).with_name("label.tcss")]
    TITLE = "baltui label"
    HELP_INTRO = LABEL_HELP
    SCREENSHOT_NAME = "baltui-label"

    def __init__(self, session: LabelSession, oracle: np.ndarray | None = None, rounds: int | None = None,
                 save_model: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.oracle = oracle
        self.rounds = rounds
        self.rounds_done = 0
        self.save_model = save_model
        self.error: str | None = None  # a label that could not be written (a full disk): the command's one line
        self.training = False
        self._model_saved = False
        self.rules_told: set[str] = set()  # stop rules already notified
        keys = "  ".join(f"{k}={session.classes[i]}" for k, i in session.keys.items())
        self.sub_title = f"{session.source.path} -> {session.out_dir} · {session.strategy} · keys: {keys}"

    def help_intro(self) -> str:
        keys = ", ".join(f"`{k}` {self.session.classes[i]}" for k, i in self.session.keys.items())
        return f"{LABEL_HELP}\nClass keys: {keys}.\n"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                yield ImageView(id="image")
                yield Static("", id="state")
                yield BatchStrip(id="batch")
            with Vertical(id="right"):
                yield Static("", id="stats")
                yield ScoreHistogram(histogram_title(self.session.strategy), id="scores")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        """The status line is packed to the width it has: pack it again when that changes."""
        self.call_after_refresh(self.refresh_view)

    def on_mount(self) -> None:
        self.call_after_refresh(self.refresh_view)  # once laid out, so the status line knows its width
        skipped = self.session.source.skipped
        if skipped:
            names = ", ".join(item for item, _ in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            self.notify(f"skipped {len(skipped)} unreadable image(s): {names} (listed in skipped.log)",
                        severity="warning", timeout=15)
        self.session.start()
        if self.session.current() is None:
            self.start_round()
        self.refresh_view()
        if self.oracle is not None:
            self.set_interval(0.05, self.oracle_answer)

    # ---- keys -----------------------------------------------------------------------------------
    def on_key(self, event: Key) -> None:
        if self.screen is not self.screen_stack[0]:  # the help or the palette is open: its keys, not a label
            return
        if event.character and event.character in self.session.keys and not self.training:
            event.stop()
            self._label(self.session.keys[event.character])

    def _label(self, value: int | None) -> None:
        if self.training or self.session.current() is None:
            return
        try:
            self.session.label(value)
        except BaltuiError as exc:
            self._write_failed(exc)
            return
        self.after_label()

    def _write_failed(self, exc: BaltuiError) -> None:
        """A label could not be saved (a full disk): leave; the command says why and how to resume in one line."""
        self.error = str(exc)
        self.session.control.stop()
        self.exit(2, return_code=2)

    def action_accept(self) -> None:
        if self.training or self.session.current() is None:
            return
        if self.session.prediction(self.session.current()) is None:
            self.notify("no prediction yet: press the class key", severity="warning")
            return
        try:
            self.session.accept()
        except BaltuiError as exc:
            self._write_failed(exc)
            return
        self.after_label()

    def action_unusable(self) -> None:
        self._label(None)

    def action_undo(self) -> None:
        try:
            undone = not self.training and self.session.undo()
        except BaltuiError as exc:
            self._write_failed(exc)
            return
        if undone:
            self.refresh_view()

    def stop_work(self) -> None:
        """A running retrain stops at its next epoch; every label is already on disk."""
        self.session.control.stop()

    def quit_started(self) -> None:
        self._save_model()  # before the watchdog starts, so it waits for the save

    def leave(self) -> None:
        """Save the model (--save-model) unless a retrain is running, then close the screen."""
        self._save_model()
        super().leave()

    def _save_model(self) -> None:
        if self._model_saved or not self.save_model or self.session.clf is None or self.training:
            return
        self._model_saved = True
        self.worker_busy.set()  # a quit's watchdog waits for the save as for a retrain
        try:
            self.session.clf.model.save(self.save_model)
        finally:
            self.worker_busy.clear()

    def screenshot_folder(self) -> Path:
        return self.session.out_dir

    def oracle_answer(self) -> None:
        item = self.session.current()
        if item is not None and not self.training:
            self._label(int(self.oracle[item]))

    def after_label(self) -> None:
        if self.session.current() is None:
            self.start_round()
        self.refresh_view()

    # ---- rounds ---------------------------------------------------------------------------------
    def start_round(self) -> None:
        if self.rounds is not None and self.rounds_done >= self.rounds:
            self.leave()
            return
        self.training = True
        self.train_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, name="train")
    def train_worker(self) -> None:
        """Runs in a thread: touches the session only (the UI waits), never a widget."""
        self.worker_busy.set()
        try:
            if self.session.control.stopped:
                return
            self.post_message(RoundDone(self.session.train_and_acquire()))
        finally:
            self.worker_busy.clear()

    @on(RoundDone)
    def round_done(self, message: RoundDone) -> None:
        if self.closing:  # trained while the screen closed: the labels are saved, nothing is left to draw on
            return
        self.training = False
        self.rounds_done += 1
        if message.result.scores is not None:
            self.query_one(ScoreHistogram).show(message.result.scores, None)
        met = [rule for rule in message.result.rules_met if rule not in self.rules_told]
        if met:  # once per rule: the person decides whether to stop
            self.rules_told.update(met)
            self.notify(f"{' and '.join(met)} holds after round {message.result.round}: you may stop here "
                        "(q; every label is saved) or go on labelling", title="stop rule met", timeout=20)
        if not self.session.pending:
            self.notify("every image is labelled", title="done")
        self.refresh_view()
        if self.rounds is not None and self.rounds_done >= self.rounds:
            self.leave()

    def worker_failed(self, worker: Worker, text: str) -> None:
        self.training = False
        self.refresh_view()

    # ---- view -----------------------------------------------------------------------------------
    def refresh_view(self) -> None:
        s = self.session
        item = s.current()
        images = s.source.images
        if self.training:
            caption = f"training round {s.round + 1} on {len(s.usable)} labels and choosing the next batch..."
            self.query_one(ImageView).show(None, caption)
        elif item is None:
            self.query_one(ImageView).show(None, "nothing left to label")
        else:
            pred = s.prediction(item)
            guess = f"model says {s.classes[pred[0]]} ({pred[1]:.0%}), Enter accepts" if pred else "no model yet"
            self.query_one(ImageView).show(images[item], f"{s.source.items[item]} · {guess}")
        batch = s.pending
        captions = []
        for i in batch:
            label = s.labels.get(i, "?")
            captions.append("unusable" if label is None else (s.classes[label] if label != "?" else "?"))
        self.query_one(BatchStrip).show([images[i] for i in batch], captions,
                                        s.position if item is not None else None)
        spl = s.seconds_per_label()
        parts = [f"round {s.round}"]
        if item is not None:
            parts.append(f"image {s.position + 1} of {len(batch)}")
        parts.append(f"{len(s.usable)} labelled")
        parts.append(f"{sum(v is None for v in s.labels.values())} unusable")
        if spl:
            parts.append(f"{spl:.1f} s per label")
        if s.rules_met:
            parts.append(f"stop rule met: {' and '.join(s.rules_met)}")
        state = self.query_one("#state", Static)
        state.update(pack_parts(Content(SEPARATOR.join(parts)), state.content_size.width))
        stats = Text()
        stats.append_text(bars(s.classes, s.class_counts(), "labelled per class"))
        if s.history:
            stats.append_text(bars(s.classes, s.history[-1].predicted_counts, "\nmodel's guesses over the pool"))
            accs = [f"{r.accuracy:.3f}" for r in s.history if r.accuracy is not None]
            if accs:
                stats.append("\ntest accuracy per round: " + " ".join(accs) + "\n")
        self.query_one("#stats", Static).update(stats)
