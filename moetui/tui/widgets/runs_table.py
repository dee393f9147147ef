"""The table of runs. Redrawn from `RunRow`s; when the same runs are shown in the same
order only the cells that changed are touched, so the cursor and scroll stay put while
metrics stream in. Names and study/variant are shortened to fit the width, so that at
80 columns a study's long run names leave room for status, step and ETA."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import events
from textual.binding import Binding

from moetui.tui.runs_rows import COLUMNS, RunRow, clip, shorten
from moetui.tui.widgets.tables import Table

STATUS_STYLES = {"running": "bold green", "stopping": "green", "stalled": "bold yellow", "queued": "cyan",
                 "completed": "", "stopped": "yellow", "cancelled": "dim", "failed": "bold red", "diverged": "bold red",
                 "crashed": "bold red", "damaged": "bold magenta"}
_KEYS = [key for key, _ in COLUMNS]
_STATUS = _KEYS.index("status")
_SHORTENED = (_KEYS.index("name"), _KEYS.index("group"))
_CLIPPED = _KEYS.index("notes")
# Narrower than this, the study/variant column goes (a study run's name holds both:
# `study-variant-sSEED`), so that val loss and ppl stay on screen at 80 columns.
_GROUP_FROM = 100
# The person's tags and notes come only where the table has room for them (`/` finds them at
# any width, `e` shows them), never as a cut-off header at the edge of an 80-column table.
_NOTES_FROM = 120


class RunsTable(Table):
    # DataTable's own enter binding is hidden; this one puts "open" in the footer.
    BINDINGS = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: list[RunRow] = []
        self._fit = 0  # the widest a name or study/variant cell may be at this width
        self._columns: tuple[int, ...] = ()  # indexes (into COLUMNS) of the columns shown at this width

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        if self._fit_for(width) != self._fit or self._columns_for(width) != self._columns:
            self.show(self._shown, force=True)

    @staticmethod
    def _fit_for(width: int) -> int:
        return max(16, width // 4)

    @staticmethod
    def _columns_for(width: int) -> tuple[int, ...]:
        hidden = {"group": _GROUP_FROM, "notes": _NOTES_FROM}
        return tuple(i for i, key in enumerate(_KEYS) if width >= hidden.get(key, 0))

    @property
    def shown_keys(self) -> list[str]:
        """The columns on screen at this width (the sort key cycles through these alone)."""
        return [_KEYS[i] for i in self._columns_for(self.size.width)]

    def _cell(self, i: int, text: str) -> str | Text:
        if i == _STATUS:
            return Text(text, style=STATUS_STYLES.get(text, ""))
        if i in _SHORTENED:
            text = shorten(text, self._fit)
        elif i == _CLIPPED:
            text = clip(text, self._fit)
        return escape(text)  # DataTable reads a str as markup, and names and notes are the user's text

    @property
    def current_id(self) -> str | None:
        if not self._shown or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row].id

    def show(self, rows: list[RunRow], force: bool = False) -> None:
        fit, columns = self._fit_for(self.size.width), self._columns_for(self.size.width)
        same_layout = fit == self._fit and columns == self._columns
        if not force and same_layout and [r.id for r in rows] == [r.id for r in self._shown]:
            for old, new in zip(self._shown, rows):
                for i in columns:
                    if old.cells[i] != new.cells[i]:
                        self.update_cell(new.id, _KEYS[i], self._cell(i, new.cells[i]), update_width=True)
            self._shown = rows
            return
        self._fit = fit
        keep = self.current_id
        self.clear(columns=columns != self._columns)
        if columns != self._columns:
            self._columns = columns
            for i in columns:
                self.add_column(COLUMNS[i][1], key=_KEYS[i])
        for column in self.columns.values():  # clear() keeps widths; let them shrink to what is shown
            column.content_width = column.label.cell_len
        for row in rows:
            self.add_row(*(self._cell(i, row.cells[i]) for i in columns), key=row.id)
        self._shown = rows
        ids = [row.id for row in rows]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))
