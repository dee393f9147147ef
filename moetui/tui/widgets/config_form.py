"""The launch form, generated from the config schema: one collapsible section per schema
section, one `ConfigField` per knob. Every edit goes through `FormModel`, so the marks
shown (invalid + rule, changed from the preset) are the launch's own rules."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Collapsible, Input, Select, Switch

from engine.config import Config, iter_fields
from moetui.tui.form_model import FormModel
from moetui.tui.widgets.config_field import ConfigField, set_editor

_OPEN_SECTIONS = ("model", "moe", "train")


class ConfigForm(VerticalScroll):
    can_focus = False  # focus goes to the fields; the form scrolls to follow it

    @dataclass
    class Edited(Message):
        """The edited config or its problems changed."""

        form: "ConfigForm"

    def __init__(self, base: Config, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = FormModel(base)

    def compose(self) -> ComposeResult:
        for section, specs in groupby(iter_fields(), key=lambda spec: spec.section):
            with Collapsible(title=section, collapsed=section not in _OPEN_SECTIONS, id=f"section-{section}"):
                for spec in specs:
                    yield ConfigField(spec, self.model.values[spec.key])

    def load(self, base: Config) -> None:
        """Show another preset: every field back to its value, nothing changed or invalid."""
        self.model = FormModel(base)
        for field in self.query(ConfigField):
            with field.editor.prevent(Input.Changed, Select.Changed, Switch.Changed):
                set_editor(field.editor, self.model.values[field.spec.key])
        self._mark()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _edited(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        event.stop()
        key = event.control.name
        if key is None:
            return
        self.model.set(key, event.value)
        self._mark()

    def _mark(self) -> None:
        problems = self.model.problems()
        changed = {key for key, _, _ in self.model.changes()}
        counts: dict[str, list[int]] = {}
        opened = False
        for field in self.query(ConfigField):
            key = field.spec.key
            field.show(problems.get(key), key in changed)
            tally = counts.setdefault(field.spec.section, [0, 0])
            tally[0] += key in changed
            tally[1] += key in problems
        for section, (n_changed, n_invalid) in counts.items():
            collapsible = self.query_one(f"#section-{section}", Collapsible)
            notes = [f"{n} {what}" for n, what in ((n_changed, "changed"), (n_invalid, "invalid")) if n]
            collapsible.title = f"{section} ({', '.join(notes)})" if notes else section
            if n_invalid and collapsible.collapsed:
                collapsible.collapsed = False  # a rule broken out of sight would block launch silently
                opened = True
        focused = self.app.focused
        if opened and isinstance(focused, Input) and self in focused.ancestors:
            # A section opened above pushes the field being typed in down, out of sight. Its
            # contents are laid out a refresh after it opens: scroll after that one.
            field = focused.query_ancestor(ConfigField)
            self.call_after_refresh(lambda: self.call_after_refresh(self.scroll_to_widget, field, animate=False))
        self.post_message(self.Edited(self))

    def focus_field(self, key: str) -> None:
        section, name = key.split(".", 1)
        self.query_one(f"#section-{section}", Collapsible).collapsed = False
        field = self.query_one(f"#field-{section}-{name}", ConfigField)
        field.editor.focus()
        self.scroll_to_widget(field)
