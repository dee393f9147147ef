"""Every run in the store, live: sortable, filterable, and the keys that act on a run."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from moetui.tui.runs_rows import COLUMN_KEYS, HEADERS, run_row, visible_rows
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.hardware_panel import HardwarePanel
from moetui.tui.widgets.runs_table import RunsTable

SORTABLE = COLUMN_KEYS[1:]  # every column but the mark
_SORT = Binding.Group("Sort")  # one footer entry for both keys


class RunsScreen(LiveScreen):
    CSS_PATH = ["runs.tcss", "../widgets/hardware_panel.tcss"]
    TITLE = "Runs"
    # Footer order is priority order: at 80 columns the tail (delete, sort) is cut off, so the
    # ways to the other screens come first and delete is left to the palette.
    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("ctrl+n,f3", "app.switch_mode('launch')", "Launch"),
        Binding("ctrl+t,f4", "app.switch_mode('queue')", "Queue"),
        Binding("m", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("n", "continue", "Continue", show=False),
        Binding("e", "notes", "Notes and tags", show=False),
        Binding("C", "clone", "Clone into the launch form", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("s", "sort", "Sort by next column", group=_SORT),
        Binding("S", "reverse", "Reverse the sort", group=_SORT),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.sort: str | None = None
        self.reverse = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunsTable(id="runs")
        yield Static("", id="runs-empty")
        yield HardwarePanel()
        yield Input(placeholder="filter: words in name, study/variant, status, preset, notes, #tag", id="filter")
        yield Footer(compact=True)

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def redraw(self) -> None:
        state, marked = self.app.state, self.app.marked
        rows = [run_row(record, state.history(record.id), record.id in marked) for record in state.ordered()]
        shown = visible_rows(rows, self.query_text, self.sort, self.reverse)
        self.table.show(shown)
        empty = self.query_one("#runs-empty", Static)
        empty.display = state.loaded and not shown
        if not rows:
            empty.update("No runs yet. Press ctrl+n to pick a preset and launch one.")
        elif not shown:
            empty.update(f"No run matches {self.query_text!r}. Press / to change the filter.")
        matching = f" matching {self.query_text!r}" if self.query_text else ""
        order = f", by {HEADERS[self.sort]} {'↓' if self.reverse else '↑'}" if self.sort else ""
        self.sub_title = f"{len(shown)} of {len(rows)} runs{matching}{order}"

    # ---- selection -----------------------------------------------------------------------
    def _current(self) -> str | None:
        run_id = self.table.current_id
        if run_id is None:
            self.notify("No run selected.", severity="warning")
        return run_id

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if run_id := self._current():
            self.app.open_run(run_id)

    def action_mark(self) -> None:
        if run_id := self._current():
            self.app.toggle_mark(run_id)
            self.redraw_now()

    def action_compare(self) -> None:
        self.app.open_compare()

    def action_stop(self) -> None:
        if run_id := self._current():
            self.app.confirm_stop(run_id)

    def action_resume(self) -> None:
        if run_id := self._current():
            self.app.resume_run(run_id)

    def action_continue(self) -> None:
        if run_id := self._current():
            self.app.continue_run(run_id)

    def action_notes(self) -> None:
        if run_id := self._current():
            self.app.edit_notes(run_id)

    async def action_clone(self) -> None:
        if run_id := self._current():
            await self.app.clone_run(run_id)

    def action_delete(self) -> None:
        if run_id := self._current():
            self.app.confirm_delete(run_id)

    # ---- filter and sort -----------------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.redraw_now()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.table.focus()

    def action_clear_filter(self) -> None:
        """escape: no filter, every run back (from the filter field or the table)."""
        field = self.query_one("#filter", Input)
        field.value = ""  # Input.Changed redraws
        field.display = False
        self.table.focus()

    def action_sort(self) -> None:
        """Cycle the sort column among those on screen (the table's own order after the last
        one): sorting by a column the width hides would reorder the rows for no visible reason."""
        order = [None, *(key for key in SORTABLE if key in self.table.shown_keys)]
        at = order.index(self.sort) if self.sort in order else 0
        self.sort = order[(at + 1) % len(order)]
        self._announce_sort()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._announce_sort()

    def _announce_sort(self) -> None:
        # The order is said in the title ("by val loss ↑"), not in a toast per key press:
        # pressing s six times to reach a column would stack six toasts over the table.
        self.redraw_now()
