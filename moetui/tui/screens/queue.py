"""Runs waiting for a device and runs on one: reorder the waiting ones, cancel any."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from moetui.runs import RunRecord, in_queue_order
from moetui.status import LIVE
from moetui.tui.queue_order import move
from moetui.tui.screens.confirm import Confirm
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.hardware_panel import HardwarePanel
from moetui.tui.widgets.runs_table import STATUS_STYLES
from moetui.tui.widgets.tables import Table

_MOVE = Binding.Group("Move")
COLUMNS = ("#", "name", "study/variant", "status", "where", "step")


class QueueScreen(LiveScreen):
    CSS_PATH = ["queue.tcss", "../widgets/hardware_panel.tcss"]
    TITLE = "Queue"
    BINDINGS = [
        Binding("K,shift+up", "move(-1)", "Move up", group=_MOVE),
        Binding("J,shift+down", "move(1)", "Move down", group=_MOVE),
        Binding("x", "cancel", "Cancel"),
        Binding("enter", "open", "Open"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Table(id="queue", cursor_type="row", zebra_stripes=True)
        yield Static("", id="queue-empty")
        yield HardwarePanel()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).add_columns(*COLUMNS)

    def redraw(self) -> None:
        state = self.app.state
        running = [r for r in state.ordered() if r.status in LIVE]
        rows = running + in_queue_order(state.records.values())
        table = self.query_one(DataTable)
        keep, keep_id = table.cursor_row, self._current()  # the cursor follows its run as the queue moves
        table.clear()
        for place, record in enumerate(rows, 1 - len(running)):
            history = state.history(record.id)
            group = "/".join(p for p in (record.study, record.variant) if p) or "–"
            step = f"{history.last_step}/{history.max_steps}" if history.max_steps else "–"
            table.add_row(str(place) if place > 0 else "▶", escape(record.name), escape(group),
                          Text(record.status, style=STATUS_STYLES[record.status]), escape(where(record)), step,
                          key=record.id)
        self._ids = [r.id for r in rows]
        if rows:
            table.move_cursor(row=self._ids.index(keep_id) if keep_id in self._ids else min(keep, len(rows) - 1))
        empty = self.query_one("#queue-empty", Static)
        empty.display = not rows
        empty.update("Nothing queued or running. Launch a study from ctrl+n to fill the queue.")

    def _current(self) -> str | None:
        row = self.query_one(DataTable).cursor_row
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def action_move(self, offset: int) -> None:
        run_id = self._current()
        queue = in_queue_order(self.app.state.records.values())
        if run_id not in [r.id for r in queue]:
            self.notify("Only waiting runs can be moved.", severity="warning")
            return
        if self.app.state.records[run_id].backend == "slurm":
            self.notify("Slurm orders its own queue (scontrol top, or a job's priority).", severity="warning")
            return
        for moved, order in move(queue, run_id, offset).items():
            self.app.store.update(moved, queue_order=order)
        self.app.rescan()
        # The cursor stays on the run it moved (redraw follows it), also at either end of the
        # queue, where moving it by the key's offset would land on a running run `x` would stop.
        self.redraw_now()

    def action_cancel(self) -> None:
        run_id = self._current()
        record = self.app.state.records.get(run_id) if run_id else None
        if record is None:
            return
        if record.status in LIVE:
            self.app.confirm_stop(run_id)
            return

        def cancel(yes: bool | None) -> None:
            if yes:
                self.app.stop_run(run_id)

        self.app.push_screen(Confirm(f"Take {record.name} off the queue?"), cancel)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # enter on a row: the table's own key, which hides the screen's
        self.action_open()

    def action_open(self) -> None:
        if run_id := self._current():
            self.app.open_run(run_id)


def where(record: RunRecord) -> str:
    """Where a run is or waits: its device here, or its Slurm job in Slurm's words (why it
    waits, which node it runs on)."""
    if record.backend == "slurm":
        if record.status in (*LIVE, "queued") and record.exit_reason:
            return record.exit_reason  # "Slurm job 12 waits: Priority", "... running on node-b"
        return f"Slurm job {record.job_id or '?'}"
    return record.device or (f"gpu {record.gpu}" if record.gpu is not None else "–")
