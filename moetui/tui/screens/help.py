"""`?` / F1: every key of the screen on show, read from its bindings when the help opens, so
it is never out of date and lists what the footer leaves out for room (and the alternate
keys, such as the F-keys a browser leaves to `moetui serve`)."""

from __future__ import annotations

import re
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

SCREEN, EVERYWHERE = "This screen", "Everywhere"
_EVERY_SCREEN = {key for binding in Screen.BINDINGS for key in binding.key.split(",")}


def key_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(keys, what they do)]) for every enabled binding with a description: the
    screen's own first, then those of the focused widget and its containers, then the app's.
    Keys bound to one action are listed together, under the first heading that has it."""
    app = screen.app
    rows: dict[str, dict[str, Any]] = {}  # action -> heading, description, keys
    for active in screen.active_bindings.values():
        binding, node = active.binding, active.node
        if not binding.description or not active.enabled:
            continue
        heading = _heading(binding, node, screen)
        row = rows.setdefault(_action(binding, node, app), {"heading": heading, "what": binding.description, "keys": []})
        key = app.get_key_display(binding)
        if key not in row["keys"]:
            row["keys"].append(key)
    headings = sorted({row["heading"] for row in rows.values()}, key=lambda h: (h == EVERYWHERE, h != SCREEN))
    return [(heading, [(" ".join(row["keys"]), row["what"]) for row in rows.values() if row["heading"] == heading])
            for heading in headings]


def _heading(binding: Binding, node: Any, screen: Screen) -> str:
    """Where a key works: this screen's own keys, a widget's (its HELP_SECTION, else its class
    name in words: "Option list"), or everywhere (the app's, and every Textual screen's: tab, copy)."""
    if node is screen.app or (node is screen and binding.key in _EVERY_SCREEN):
        return EVERYWHERE
    if node is screen:
        return SCREEN
    return getattr(node, "HELP_SECTION", None) or re.sub(r"(?<!^)(?=[A-Z])", " ", type(node).__name__).capitalize()


def _action(binding: Binding, node: Any, app: Any) -> str:
    """The action a binding runs, named so that the screen's `app.switch_mode('launch')` and
    the app's `switch_mode('launch')` are one row."""
    action = binding.action
    return action.removeprefix("app.") if node is app or action.startswith("app.") else f"{id(node)}:{action}"


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.title_text = f"Keys: {screen.title or screen.app.title}"
        self.sections = key_sections(screen)

    def compose(self) -> ComposeResult:
        width = max((len(keys) for _, rows in self.sections for keys, _ in rows), default=0)
        text = Content("\n").join(
            Content.assemble((heading, "bold"), *(Content.assemble("\n  ", (f"{keys:<{width}}", "bold $accent"),
                                                                   "  ", what) for keys, what in rows), "\n")
            for heading, rows in self.sections)
        with Vertical(classes="dialog", id="help"):
            yield Label(Content(self.title_text), id="help-title")
            with VerticalScroll():
                yield Static(text, id="help-keys")
            yield Label("q, escape or ? closes this", classes="dim")
