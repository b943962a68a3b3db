"""The view keys the live dashboard and the watcher share: one definition.

Three views of the same runs, one key (`v`) to go round them: the run table (one row per run), the panels (one
per run), the comparison chart alone. The table comes first when there are more than MAX_PANEL_RUNS runs or their
panels are taller than the screen; else the panels do, until the user picks a view. Enter on a table row opens
that run's panel and Escape goes back to the table. `d` and `c` hide the digit previews and the comparison; `b`,
`r` and `n` change what the comparison draws; `f` shows the focused chart full screen (Escape: back).
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget

from baltui.ui.charts import hex_colour
from baltui.ui.widgets.chart import ChartPlot
from baltui.ui.widgets.comparison import Comparison, ComparisonPlot
from baltui.ui.widgets.digits import DigitPreviews
from baltui.ui.widgets.run_panel import RunPanel
from baltui.ui.widgets.run_table import RunTable, row_of

TABLE, PANELS, COMPARISON = "table", "panels", "comparison"
VIEWS = (TABLE, PANELS, COMPARISON)
MAX_PANEL_RUNS = 4  # more runs than this open on the run table
TABLE_INTERVAL_S = 0.25  # the run table is redrawn at most this often on new results


class ViewToggles:
    """Mixin for the dashboard's and the watcher's App: views by CSS class on the screen (`-view-table`, ...).

    The app composes a RunTable, its panels inside a container of class `panels` in a `#main` scroll, and a
    Comparison; it calls `start_views` once mounted and `refresh_run_table` when its runs change."""

    screen: Any
    view = PANELS
    view_chosen = False  # the user picked a view: no automatic choice from then on
    from_table = False  # the panels were opened from a table row: Escape goes back to the table
    _panels_height: int | None = None  # the panels' height as first laid out (hidden, they measure nothing)
    _table_stale = False

    query: Any
    query_one: Any
    call_after_refresh: Any
    set_interval: Any
    refresh_bindings: Any

    # ---- views ----------------------------------------------------------------------------------
    def start_views(self) -> None:
        """On mount: the panels for now, then, once laid out, the view that fits; the table's refresh timer."""
        self.set_interval(TABLE_INTERVAL_S, self._refresh_stale_table)
        self.show_view(TABLE if len(self.query(RunPanel)) > MAX_PANEL_RUNS else PANELS)
        self.call_after_refresh(self.choose_view)

    def choose_view(self) -> None:
        """The table when the runs are many or their panels do not fit the screen, else the panels."""
        if self.view_chosen:
            return
        main = self.query_one("#main")
        panels = self.query_one(".panels")
        if self._panels_height is None and panels.display and panels.outer_size.height:
            self._panels_height = panels.outer_size.height + self._previews_growth()
        too_tall = self._panels_height is not None and self._panels_height > main.scrollable_content_region.height
        self.show_view(TABLE if len(self.query(RunPanel)) > MAX_PANEL_RUNS or too_tall else PANELS)

    def previews_per_query(self) -> int:
        """How many images a query shows in each panel's previews (the app knows; 0: none)."""
        return 0

    def _previews_growth(self) -> int:
        """How much taller the panels get once the previews of a query are in: the panels are planned at
        their full height, so the view chosen at the start still fits after the first query."""
        count = self.previews_per_query()
        panels = [p for p in self.query(RunPanel) if p.display and p.region.height]
        if not count or not panels:
            return 0
        growth = max(p.query_one(DigitPreviews).height_for(count) - p.query_one(DigitPreviews).outer_size.height
                     for p in panels)
        return max(0, growth) * len({p.region.y for p in panels})  # per row of panels

    def on_resize(self) -> None:
        self.call_after_refresh(self.choose_view)

    def show_view(self, view: str) -> None:
        for name in VIEWS:
            self.screen.set_class(name == view, f"-view-{name}")
        if view == COMPARISON:
            self.screen.remove_class("-hide-comparison")
        if view != PANELS:
            self.from_table = False
        self.view = view
        self._focus_in_view()
        self.refresh_bindings()

    def _focus_in_view(self, panel: RunPanel | None = None) -> None:
        """Focus where the view's keys act: the table, a panel's first chart (Tab: the next), the comparison."""
        if self.view == TABLE:
            self.query_one(RunTable).focus()
        elif self.view == COMPARISON:
            self.query_one(ComparisonPlot).focus()
        else:
            charts = (panel or self.query(RunPanel).first()).query(ChartPlot)
            if charts:
                charts.first().focus(scroll_visible=False)

    def action_cycle_view(self) -> None:
        self.view_chosen = True
        self.show_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def on_run_table_open_run(self, message: RunTable.OpenRun) -> None:
        """Enter on a row: the panels, scrolled to that run's, which stands out."""
        self.view_chosen = True
        self.show_view(PANELS)
        self.from_table = True
        self.refresh_bindings()
        for panel in self.query(RunPanel):
            panel.mark_selected(panel.run_id == message.run_id)
        chosen = next((p for p in self.query(RunPanel) if p.run_id == message.run_id), None)
        if chosen is not None:
            self._focus_in_view(chosen)
            self.call_after_refresh(chosen.scroll_visible, top=True, animate=False)

    def action_back(self) -> None:
        if self.from_table and self.view == PANELS:
            self.show_view(TABLE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.from_table and self.view == PANELS
        return True

    # ---- the run table --------------------------------------------------------------------------
    def run_table_changed(self) -> None:
        """A run changed: its row is redrawn within TABLE_INTERVAL_S (a burst of results costs one redraw)."""
        self._table_stale = True

    def _refresh_stale_table(self) -> None:
        if self._table_stale:
            self.refresh_run_table()

    def refresh_run_table(self) -> None:
        """Every run's row, as its panel shows it now, in its comparison colour.

        A timer can tick while the screen that holds the table is not the one queried (a modal on top, the
        first frame not composed, the app closing): the rows wait, still stale, for the next tick."""
        plots, tables = self.query(ComparisonPlot), self.query(RunTable)
        if not plots or not tables:
            return
        self._table_stale = False
        plot = plots.first()
        rows = []
        for order, panel in enumerate(self.query(RunPanel)):
            colour = hex_colour(plot.slot(plot.series_name(panel.run_id))) if panel.run_id in plot.curves else None
            rows.append(row_of(panel, order, colour))
        tables.first().show(rows)

    def action_sort(self) -> None:
        self.query_one(RunTable).next_sort()

    # ---- the comparison -------------------------------------------------------------------------
    def action_toggle_digits(self) -> None:
        self.screen.toggle_class("-hide-digits")

    def action_toggle_comparison(self) -> None:
        self.screen.toggle_class("-hide-comparison")

    def action_band(self) -> None:
        self.query_one(ComparisonPlot).next_band()

    def action_paper(self) -> None:
        self.query_one(ComparisonPlot).toggle_paper()

    def action_next_strategy(self) -> None:
        self.query_one(ComparisonPlot).next_only()

    def action_fullscreen(self) -> None:
        """The focused chart full screen (the comparison with its legend); no chart focused: the comparison."""
        focused = self.screen.focused
        target: Widget = self.query_one(Comparison)
        if isinstance(focused, ChartPlot) and not isinstance(focused, ComparisonPlot):
            target = focused
        self.screen.remove_class("-hide-comparison")
        self.screen.maximize(target, container=False)
