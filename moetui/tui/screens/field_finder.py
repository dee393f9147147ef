"""`ctrl+g` on the launch form: type part of a field's name or help, enter goes there.

A modal of its own rather than the command palette, which gathers its hits in a worker:
an enter typed right after the letters picked from the list of an earlier letter (or of
none: the first field, model.d_model). Here enter is a priority key: it takes the focus off
the input at once, so that keys typed after it are held (`EarlyKeys`) rather than typed into
a finder that is closing, and picks the best match for what the input holds once the letters
typed before it have reached it. Keys typed before the input had focus are kept for it.
Dismissed with (the field's key or None, the keys typed after enter) so that the form types
those into the field.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from moetui.tui.field_search import search
from moetui.tui.screens.early_keys import EarlyKeys

Found = tuple[str | None, list[events.Key]]
# An enter typed before the app has put the terminal in raw mode (in its first second) reaches
# it as a line feed, ctrl+j: the terminal's own newline translation was still on.
ENTER = ("enter", "ctrl+j")


class FieldFinder(EarlyKeys, ModalScreen[Found]):
    CSS_PATH = "field_finder.tcss"
    AUTO_FOCUS = "#find-query"
    BINDINGS = [
        Binding(",".join(ENTER), "go", "Go", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._moved = False  # up/down chose a hit: enter takes that one, not the best match

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Go to field: part of its name or help, enter to go")
            yield Input(placeholder="e.g. dropout, max_steps, learning rate", id="find-query")
            yield OptionList(*self._options(""), id="find-hits")
        yield Footer(compact=True)

    @staticmethod
    def _options(query: str) -> list[Option]:
        return [Option(text, id=key) for key, text in search(query)]

    @property
    def hits(self) -> OptionList:
        return self.query_one("#find-hits", OptionList)

    @on(Input.Changed, "#find-query")
    def _typed(self, event: Input.Changed) -> None:
        self.hits.set_options(self._options(event.value))
        self.hits.highlighted = 0 if self.hits.option_count else None
        self._moved = False

    @on(OptionList.OptionSelected, "#find-hits")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss((event.option.id, []))

    def replay(self, keys: list[events.Key]) -> None:
        """Keys typed before the input had focus: letters into it, up to an enter, which goes."""
        for i, key in enumerate(keys):
            if key.key in ENTER:
                self.action_go()
                self._early[:0] = keys[i + 1:]
                return
            super().replay([key])

    def action_go(self) -> None:
        query = self.query_one("#find-query", Input)
        self.set_focus(None)  # from now on keys are held for the field (see the module doc)
        query.call_later(self._go, query)  # after the letters already on their way to the input

    def _go(self, query: Input) -> None:
        chosen = self.hits.highlighted_option.id if self._moved and self.hits.highlighted_option else None
        found = search(query.value)
        if chosen is None and not found:
            self.notify(f"No field matches {query.value!r}.", severity="warning", markup=False)
            self.set_focus(query)
            return
        held, self._early = self._early, []
        self.dismiss((chosen or found[0][0], held))

    def action_move(self, by: int) -> None:
        if self.hits.option_count:
            self.hits.highlighted = ((self.hits.highlighted or 0) + by) % self.hits.option_count
            self._moved = True

    def action_cancel(self) -> None:
        self.dismiss((None, []))
