"""The table every screen uses: a DataTable with the keys of the terminal tools people live in
(less, vim, k9s, lazygit): j/k move the cursor, g/Home the first row, G/End the last.

DataTable's own Home/End scroll sideways, which a row-cursor table hardly needs; moving to
the first and last row is what a person reaching for them expects."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class Table(DataTable):
    HELP_SECTION = "Table"  # the help screen's heading for these keys
    BINDINGS = [
        Binding("j", "cursor_down", "Cursor down", show=False),
        Binding("k", "cursor_up", "Cursor up", show=False),
        Binding("g,home", "scroll_top", "First row", show=False),
        Binding("G,end", "scroll_bottom", "Last row", show=False),
    ]
