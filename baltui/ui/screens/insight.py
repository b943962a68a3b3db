"""The `i` screen: one run's insight beyond its accuracy curve (issue #27, point 3).

Accuracy alone hides what the model learned: whether the labelled set is balanced, which classes it gets
wrong, whether it is calibrated (ECE, NLL, Brier) and how its last fit went. The screen shows these for one
run from the QueryResults its panel already holds, so the dashboard and `baltui watch` (whose panels are
the same RunPanel, fed from results.jsonl) both have it without reading anything again. Records written
before baltui recorded these fields carry None: each part then says "not recorded in this folder".

It is a snapshot of the run's queries so far; it redraws once a second when the run has a new query.
Sections stack vertically in a scroll view so the screen stays readable at 80x24.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from baltui.core.events import QueryResult
from baltui.ui.widgets.run_panel import RunPanel

NOT_RECORDED = "not recorded in this folder (written by an older baltui)"
BAR_WIDTH = 30  # cells of the longest bar: fits 80 columns beside a class name and a number
BAR = "█"


def class_label(index: int, class_names: Sequence[str] | None) -> str:
    """A class by its dataset name where the dataset has names, else by its index."""
    if class_names is not None and index < len(class_names):
        return str(class_names[index])
    return str(index)


def bars(values: Sequence[float | None], class_names: Sequence[str] | None, scale: float,
         fmt: str) -> Text:
    """One line per class: its name, a bar of value/scale of BAR_WIDTH and the value; '-' for None."""
    labels = [class_label(i, class_names) for i in range(len(values))]
    width = min(max((len(s) for s in labels), default=1), 16)
    text = Text()
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if i:
            text.append("\n")
        text.append(f"{label[:width]:>{width}} ")
        if value is None:
            text.append("- (no test images of this class)", style="dim")
            continue
        cells = round(BAR_WIDTH * value / scale) if scale > 0 else 0
        text.append(BAR * cells, style="bold")
        text.append(" " * (BAR_WIDTH - cells + 1))
        text.append(format(value, fmt))
    return text


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def balance_text(last: QueryResult | None, class_names: Sequence[str] | None) -> Text | str:
    """The labelled set's count per class after the last query, as bars scaled to the largest class."""
    if last is None:
        return "no query completed yet"
    counts = last.labelled_per_class
    if counts is None:
        return NOT_RECORDED
    total = sum(counts)
    text = Text(f"{total} labelled images after query {last.query}\n", style="dim")
    return text + bars([float(c) for c in counts], class_names, max(counts, default=0), ".0f")


def class_accuracy_text(last: QueryResult | None, class_names: Sequence[str] | None) -> Text | str:
    """Test accuracy per class of the last query's model, as bars on a 0..1 scale."""
    if last is None:
        return "no query completed yet"
    values = last.class_accuracy
    if values is None:
        return NOT_RECORDED
    return bars([_number(v) for v in values], class_names, 1.0, ".3f")


def calibration_numbers(last: QueryResult | None) -> str:
    """The last query's ECE, NLL and Brier score, in one line."""
    if last is None:
        return "no query completed yet"
    parts = [(name, _number(getattr(last, name))) for name in ("ece", "nll", "brier")]
    if all(v is None for _, v in parts):
        return NOT_RECORDED
    shown = " · ".join(f"{name.upper() if name != 'brier' else 'Brier'} {v:.4f}" if v is not None
                       else f"{name}: -" for name, v in parts)
    return f"query {last.query}: {shown}"


def last_fit(results: Sequence[QueryResult]) -> QueryResult | None:
    """The newest query with a fit on record (a query that trained no new model has none)."""
    for result in reversed(results):
        if isinstance(result.fit, dict) and result.fit.get("loss"):
            return result
    return None


class InsightScreen(ModalScreen[None]):
    """A modal over the app (the run keeps going underneath); `escape` or `i` closes it."""

    CSS_PATH = Path(__file__).with_name("insight.tcss")
    AUTO_FOCUS = "#insight"
    BINDINGS = [Binding("escape,i,q", "dismiss", "Close", id="close-insight")]

    def __init__(self, panel: RunPanel) -> None:
        super().__init__()
        self.panel = panel
        self.shown = -1  # how many results were drawn

    @property
    def results(self) -> list[QueryResult]:
        return self.panel.results

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="insight") as scroll:
            scroll.border_title = f"insight · {self.panel.strategy} · seed {self.panel.seed}"
            scroll.border_subtitle = "escape / i: close"
            yield Static(classes="heading", id="balance-heading")
            yield Static(id="balance")
            yield Static("[b]test accuracy per class[/b] (last query)", classes="heading")
            yield Static(id="class-accuracy")
            yield Static("[b]calibration[/b] (lower is better)", classes="heading")
            yield Static(id="calibration")
            yield PlotextPlot(id="ece-plot")
            yield Static("[b]last fit[/b]", classes="heading", id="fit-heading")
            yield Static(id="fit-note")
            yield PlotextPlot(id="loss-plot")

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self._follow)

    def _follow(self) -> None:
        if len(self.results) != self.shown:
            self.redraw()

    def redraw(self) -> None:
        """Draw every section from the panel's results (old records: each says what it lacks)."""
        results = self.results
        self.shown = len(results)
        last = results[-1] if results else None
        names = self.panel.class_names
        self.query_one("#balance-heading", Static).update("[b]labelled set: images per class[/b]")
        self.query_one("#balance", Static).update(balance_text(last, names))
        self.query_one("#class-accuracy", Static).update(class_accuracy_text(last, names))
        self.query_one("#calibration", Static).update(calibration_numbers(last))
        self._ece_plot(results)
        self._loss_plot(results)

    def _ece_plot(self, results: Sequence[QueryResult]) -> None:
        plot = self.query_one("#ece-plot", PlotextPlot)
        points = [(r.n_labelled, _number(r.ece)) for r in results]
        kept = [(n, v) for n, v in points if v is not None]
        plot.display = bool(kept)
        plot.plt.clear_data()
        plot.plt.title("ECE over queries")
        plot.plt.xlabel("labelled images")
        if kept:
            plot.plt.plot([n for n, _ in kept], [v for _, v in kept], marker="braille")
        plot.refresh()

    def _loss_plot(self, results: Sequence[QueryResult]) -> None:
        plot = self.query_one("#loss-plot", PlotextPlot)
        note = self.query_one("#fit-note", Static)
        fitted = last_fit(results)
        plot.display = fitted is not None
        plot.plt.clear_data()
        if fitted is None:
            note.update("no query completed yet" if not results else NOT_RECORDED)
            plot.refresh()
            return
        fit = fitted.fit or {}
        loss = [float(v) for v in fit.get("loss", [])]
        epochs = list(range(1, len(loss) + 1))
        accuracy = [float(v) for v in fit.get("accuracy") or []]
        parts = [f"query {fitted.query}", f"{fit.get('epochs', len(loss))} epochs"]
        if loss:
            parts.append(f"final loss {loss[-1]:.4f}")
        if accuracy:
            parts.append(f"train acc {accuracy[-1]:.3f}")
        if fit.get("last_batch") is not None:
            parts.append(f"last batch {fit['last_batch']}")
        note.update(" · ".join(parts))
        plot.plt.title(f"training loss, query {fitted.query}")
        plot.plt.xlabel("epoch")
        plot.plt.plot(epochs, loss, marker="braille")
        if len(epochs) <= 20:  # whole epochs on the axis, not 1.75
            plot.plt.xticks(epochs, [str(e) for e in epochs])
        plot.refresh()


class InsightKey:
    """Mixin for an App with RunPanels: `i` opens the insight screen of the selected run.

    Run panels take no focus, so the selected run is the one whose panel is under the mouse, else the one whose
    panel holds the focus (Tab moves it; showing the panels puts it on the first), else the first on screen. The
    mouse goes first: the focus is placed by the view as well as by the user, the mouse only by the user."""

    screen: Any
    focused: Any
    mouse_over: Any

    def selected_panel(self) -> RunPanel | None:
        panels = list(self.screen.query(RunPanel))
        for widget in (self.mouse_over, self.focused):
            while widget is not None:
                if isinstance(widget, RunPanel):
                    return widget
                widget = widget.parent
        return panels[0] if panels else None

    def action_insight(self) -> None:
        if isinstance(self.screen, InsightScreen):
            return
        panel = self.selected_panel()
        if panel is None:
            self.notify("no run to show yet", title="insight")  # type: ignore[attr-defined]
            return
        self.push_screen(InsightScreen(panel))  # type: ignore[attr-defined]
