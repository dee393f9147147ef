"""`e` on a run: its notes and tags, edited in place (what `moetui note` and `moetui tag` do).

What a run was for, or what went wrong with it, is often known only after it ran; the
runs table shows the tags and the note's first line, and its filter finds both. ctrl+s
(or enter in the tags) keeps the change, escape drops it. A tag that cannot be kept is
named under the field, as the launch form does, and nothing is written.
Dismissed with `{"notes": ..., "tags": [...]}`, or None.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static, TextArea

from moetui import notes


class NotesEditor(ModalScreen[dict[str, Any] | None]):
    CSS_PATH = "notes_editor.tcss"
    AUTO_FOCUS = "#notes-text"
    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, note: str | None, tags: list[str]) -> None:
        super().__init__()
        self.run_name, self.note, self.tags = name, note, tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Notes on {self.run_name}", markup=False)
            yield TextArea(self.note or "", id="notes-text", soft_wrap=True)
            yield Label("tags (space-separated; / finds them as #tag)", classes="dim")
            yield Input(" ".join(self.tags), id="notes-tags")
            yield Static("", id="notes-problem", markup=False)
        yield Footer(compact=True)

    @on(Input.Submitted, "#notes-tags")
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        try:
            tags = notes.parse_tags(self.query_one("#notes-tags", Input).value)
        except notes.TagError as error:
            self.query_one("#notes-problem", Static).update(f"✗ {error.message}")
            self.query_one("#notes-tags", Input).focus()
            return
        self.dismiss({"notes": notes.clean_note(self.query_one("#notes-text", TextArea).text), "tags": tags})

    def action_cancel(self) -> None:
        self.dismiss(None)
