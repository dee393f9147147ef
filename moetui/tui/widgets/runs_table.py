"""The table of runs. Redrawn from `RunRow`s; when the same runs are shown in the same
order only the cells that changed are touched, so the cursor and scroll stay put while
metrics stream in."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from moetui.tui.runs_rows import COLUMNS, RunRow

STATUS_STYLES = {"running": "bold green", "queued": "cyan", "completed": "", "stopped": "yellow",
                 "failed": "bold red", "diverged": "bold red", "crashed": "bold red"}
_STATUS = [key for key, _ in COLUMNS].index("status")


def _cell(i: int, text: str) -> str | Text:
    return Text(text, style=STATUS_STYLES.get(text, "")) if i == _STATUS else text


class RunsTable(DataTable):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: list[RunRow] = []

    def on_mount(self) -> None:
        for key, header in COLUMNS:
            self.add_column(header, key=key)

    @property
    def current_id(self) -> str | None:
        if not self._shown or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row].id

    def show(self, rows: list[RunRow]) -> None:
        if [r.id for r in rows] == [r.id for r in self._shown]:
            for old, new in zip(self._shown, rows):
                for i, (key, _) in enumerate(COLUMNS):
                    if old.cells[i] != new.cells[i]:
                        self.update_cell(new.id, key, _cell(i, new.cells[i]), update_width=True)
            self._shown = rows
            return
        keep = self.current_id
        self.clear()
        for row in rows:
            self.add_row(*(_cell(i, text) for i, text in enumerate(row.cells)), key=row.id)
        self._shown = rows
        ids = [row.id for row in rows]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))
