"""One section of the launch form (`model`, `optim`, ...): a Collapsible whose rows are built
the first time it opens, and which brings the field being edited into view when it scrolls.

Built on first opening: some thirty of the form's seventy rows sit in sections that start
closed, and building them was a third of the time ctrl+n took to show the form.

An opening Collapsible scrolls itself into view a refresh later (Textual does so for every
expand). When a section opens because a field in it was asked for (ctrl+g, ctrl+f) or
because a rule broke in it, that scroll raced the form's own scroll to the field: on a busy
machine the section's came last and left the field below the edge, where the next keys
changed it out of sight. Pointing both at the focused field makes the order not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from textual.message import Message
from textual.widget import AwaitMount, Widget
from textual.widgets import Collapsible


class FormSection(Collapsible):
    @dataclass
    class Filled(Message):
        """The rows of a section that started closed are built and mounted."""

        section: "FormSection"

    def __init__(self, *children: Widget, rows: Callable[[], list[Widget]] | None = None, **kwargs: Any) -> None:
        """`rows` builds the section's rows when it first opens (for a section that starts closed)."""
        self._rows = rows  # before Collapsible's init, which sets `collapsed` (see watch_collapsed)
        self._mounting: AwaitMount | None = None
        super().__init__(*children, **kwargs)

    async def fill(self) -> None:
        """Build the rows if they are not yet, and wait until they are mounted."""
        if self._rows is not None:
            rows, self._rows = self._rows, None
            self._mounting = self.query_one(Collapsible.Contents).mount_all(rows())
            await self._mounting
            self.post_message(self.Filled(self))
        elif self._mounting is not None:
            await self._mounting

    def watch_collapsed(self, collapsed: bool) -> None:
        if not collapsed and self._rows is not None and self.is_mounted:
            self.call_later(self.fill)

    def focused_row(self) -> Widget | None:
        """The form row (a ConfigField or the run's notes/tags) holding the focus, if in this section."""
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            return None
        return next((node for node in focused.ancestors_with_self if node.has_class("form-row")), None)

    def scroll_visible(self, *args: Any, **kwargs: Any) -> None:
        row = self.focused_row()
        if row is None:
            super().scroll_visible(*args, **kwargs)
        else:
            self.screen.scroll_to_widget(row, animate=False, center=True)
