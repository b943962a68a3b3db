"""RunTable: one row per run, htop / k9s style, the dashboard's and the watcher's first view when the panels do
not fit. Sortable by any column (`o` or a click on its header; again: reversed), Enter opens the run's panel.

Rows are read from the run panels (their public fields and methods, never set from here) through `RunRow`,
so the table shows what the panels show, ETA included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable

from baltui.core.eta import clock_text
from baltui.runs.aggregate import THRESHOLDS
from baltui.ui.widgets.run_panel import RunPanel

MISSING = "-"
# Problems first when sorted by status: a failed or stalled run is what one looks for among fifty.
STATUS_RANK = {"failed": 0, "stalled": 1, "interrupted": 1, "running": 2, "waiting": 3, "finished": 4}
STATUS_STYLE = {"failed": "bold red", "stalled": "bold yellow", "interrupted": "bold yellow", "finished": "green",
                "waiting": "dim"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    descending: bool = False  # first sort order: best first (highest accuracy, fewest labels to 90%)


COLUMNS = (
    Column("run", "run"),
    Column("status", "status"),
    Column("query", "query", descending=True),
    Column("labels", "labels", descending=True),
    Column("accuracy", "acc", descending=True),
    *(Column(f"to{round(t * 100)}", f"→{t:.0%}") for t in THRESHOLDS),  # labels to reach 90% / 95% accuracy
    Column("pace", "s/query"),
    Column("eta", "ETA"),
)
COLUMN = {c.key: c for c in COLUMNS}


@dataclass(frozen=True)
class RunRow:
    """What the table shows of one run, and the values it sorts by."""

    run_id: str
    order: int  # the run's place on the screen: the table's order before any sort
    status: str  # failed, stalled, interrupted, running, waiting or finished
    phase: str  # what the run is doing, as its panel says
    query: int
    queries: int
    labels: int | None
    accuracy: float | None
    reach: tuple[int | None, ...]  # labels when test accuracy first reached each of THRESHOLDS
    pace: float | None  # seconds per query in this session
    eta: float | None  # seconds left, as the panel's status line says
    colour: str | None = None  # the run's colour on the comparison chart

    def value(self, key: str) -> Any:
        """The value a column sorts by (None: no value yet, always last)."""
        if key == "run":
            return self.order
        if key == "status":
            return STATUS_RANK[self.status]
        if key.startswith("to"):
            return self.reach[[f"to{round(t * 100)}" for t in THRESHOLDS].index(key)]
        return {"query": self.query, "labels": self.labels, "accuracy": self.accuracy, "pace": self.pace,
                "eta": self.eta}[key]

    def cells(self) -> dict[str, Text]:
        def num(value: object) -> Text:
            return Text(MISSING if value is None else str(value), justify="right")

        status = self.phase if self.status == "running" else self.status
        return {
            "run": Text.assemble(("■ ", self.colour or "dim"), self.run_id),
            "status": Text(status, style=STATUS_STYLE.get(self.status, "")),
            "query": Text(f"{self.query}/{self.queries}", justify="right"),
            "labels": num(self.labels),
            "accuracy": num(None if self.accuracy is None else f"{self.accuracy:.4f}"),
            **{f"to{round(t * 100)}": num(r) for t, r in zip(THRESHOLDS, self.reach, strict=True)},
            "pace": num(None if self.pace is None else f"{self.pace:.1f}"),
            "eta": num(None if self.eta is None else clock_text(self.eta)),
        }


def short_phase(phase: str) -> str:
    """A panel's phase in a few words: 'training epoch 2/3' -> 'training 2/3', 'waiting for the other runs' ->
    'waiting' (the table's status column stays narrow)."""
    plain = Content.from_markup(phase).plain
    if plain.startswith("training epoch "):
        return "training " + plain.removeprefix("training epoch ")
    return plain.split(" for ")[0].split(":")[0]


def row_of(panel: RunPanel, order: int, colour: str | None = None) -> RunRow:
    """A run panel as a table row."""
    results = panel.results
    last = results[-1] if results else None
    if panel.error:
        status = "failed"
    elif getattr(panel, "stalled", False):  # a watched run: no row for a while, or its writer gone
        status = "interrupted" if getattr(panel, "interrupted", False) else "stalled"
    elif panel.finished:
        status = "finished"
    elif panel.started is None and not results:
        status = "waiting"
    else:
        status = "running"
    reach = tuple(next((r.n_labelled for r in results if r.accuracy >= t), None) for t in THRESHOLDS)
    return RunRow(
        run_id=panel.run_id, order=order, status=status, phase=short_phase(panel.phase),
        query=max(panel.current_query, 0), queries=panel.queries,
        labels=last.n_labelled if last else None, accuracy=last.accuracy if last else None, reach=reach,
        pace=panel.seconds_per_query(), eta=panel.eta_seconds(), colour=colour)


class RunTable(DataTable):
    """One row per run; the app feeds it `RunRow`s (`show`), it sorts them and says which run Enter opened."""

    DEFAULT_CSS = """
    RunTable {
        height: auto;
        max-height: 70vh;
    }
    """

    class OpenRun(Message):
        """Enter (or a click) on a row: show that run's panel."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_run: dict[str, RunRow] = {}
        self._cell_widths: dict[str, int] = {}  # per column, its widest cell so far
        self.sort_key: str = "run"
        self.sort_reverse = False

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column.label, key=column.key)
        self._show_sort()

    # ---- rows -----------------------------------------------------------------------------------
    def show(self, rows: list[RunRow]) -> None:
        """Add or update these runs' rows, then keep the sort (and the cursor on the same run)."""
        changed = False
        for row in rows:
            old = self.rows_by_run.get(row.run_id)
            if old == row:
                continue
            cells = row.cells()
            widened = self._fit(cells)
            if old is None:
                self.add_row(*(cells[c.key] for c in COLUMNS), key=row.run_id)
            else:
                before = old.cells()
                for key, cell in cells.items():
                    if cell != before[key]:
                        self.update_cell(row.run_id, key, cell, update_width=key in widened)
            changed = changed or old is None or old.value(self.sort_key) != row.value(self.sort_key)
            self.rows_by_run[row.run_id] = row
        if changed:
            self._sort()

    def _fit(self, cells: dict[str, Text]) -> set[str]:
        """Widen the columns for these cells now, before the cells change (the columns that grew).

        DataTable measures updated cells when idle, but caches rendered rows by its update count only: a
        column widened after the last update is drawn at its old width, cutting "finished" to "finishe",
        until the next update. Widening first, the update that follows draws at the new width."""
        widened = set()
        for key, cell in cells.items():
            column = self.columns[key]
            self._cell_widths[key] = max(self._cell_widths.get(key, 0), cell.cell_len)
            if cell.cell_len > column.content_width:
                column.content_width = cell.cell_len
                widened.add(key)
        return widened

    def run_at_cursor(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def order(self) -> list[str]:
        """The run ids as the table lists them, top to bottom."""
        return [row.key.value for row in self.ordered_rows if row.key.value is not None]

    # ---- sorting --------------------------------------------------------------------------------
    def sort_by(self, key: str) -> None:
        """Sort by a column, best first; the same column again: the other way round."""
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self._show_sort()
        self._sort()

    def next_sort(self) -> None:
        """The next column, best first (after the last, the runs' own order)."""
        keys = [c.key for c in COLUMNS]
        self.sort_key, self.sort_reverse = keys[(keys.index(self.sort_key) + 1) % len(keys)], False
        self._show_sort()
        self._sort()

    def _sort(self) -> None:
        column = COLUMN[self.sort_key]
        descending = column.descending != self.sort_reverse
        present = [r for r in self.rows_by_run.values() if r.value(column.key) is not None]
        missing = [r for r in self.rows_by_run.values() if r.value(column.key) is None]
        sign = -1 if descending else 1  # ties keep the runs' own order either way
        present.sort(key=lambda r: (sign * r.value(column.key), r.order))
        rank = {r.run_id: i for i, r in enumerate(present + sorted(missing, key=lambda r: r.order))}
        at_cursor = self.run_at_cursor()
        self.sort("run", key=lambda cell: rank[cell.plain.removeprefix("■ ")])
        if at_cursor is not None:
            self.move_cursor(row=self.get_row_index(at_cursor), animate=False)

    def _show_sort(self) -> None:
        """An arrow after the sorted column's header (▼: largest first); none in the runs' own order. Only that
        header grows by the arrow, so the table stays narrow enough for 80 columns."""
        descending = COLUMN[self.sort_key].descending != self.sort_reverse
        arrow = "" if self.sort_key == "run" and not self.sort_reverse else "▼" if descending else "▲"
        for c in COLUMNS:
            column = self.columns[c.key]
            column.label = Text(c.label + (arrow if c.key == self.sort_key else ""), style="bold" if arrow and
                                c.key == self.sort_key else "")
            column.content_width = max(self._cell_widths.get(c.key, 0), column.label.cell_len)  # the arrow's
            # column is one wider, the one it left narrower again

    # ---- events ---------------------------------------------------------------------------------
    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.OpenRun(event.row_key.value))
