"""The launch form, generated from the config schema: the run's notes and tags, then one
collapsible section per schema section, one `ConfigField` per knob. Every edit goes through
`FormModel`, so the marks shown (invalid + rule, changed from the preset) are the launch's
own rules. Up and down move between rows, as in any form."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Select, Switch

from engine.config import Config, iter_fields
from moetui.tui.form_model import FormModel
from moetui.tui.widgets.config_field import ConfigField, set_editor
from moetui.tui.widgets.form_section import FormSection
from moetui.tui.widgets.run_labels import RunLabels

_OPEN_SECTIONS = ("model", "moe", "train")
_SECTIONS = {section: list(specs) for section, specs in groupby(iter_fields(), key=lambda spec: spec.section)}


class ConfigForm(VerticalScroll):
    can_focus = False  # focus goes to the fields; the form scrolls to follow it
    # Priority: a select would otherwise take up/down to open its list (enter and space still do).
    BINDINGS = [Binding("down", "step(1)", "Next field", show=False, priority=True),
                Binding("up", "step(-1)", "Previous field", show=False, priority=True)]

    @dataclass
    class Edited(Message):
        """The edited config or its problems changed."""

        form: "ConfigForm"

    def __init__(self, base: Config, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = FormModel(base)

    def compose(self) -> ComposeResult:
        with FormSection(title="run", collapsed=False, id="section-run"):
            yield RunLabels()
        for section in _SECTIONS:
            if section in _OPEN_SECTIONS:
                yield FormSection(*self._fields(section), title=section, collapsed=False, id=f"section-{section}")
            else:
                yield FormSection(rows=partial(self._fields, section), title=section, id=f"section-{section}")

    def _fields(self, section: str) -> list[ConfigField]:
        return [ConfigField(spec, self.model.values[spec.key]) for spec in _SECTIONS[section]]

    @property
    def labels(self) -> RunLabels:
        return self.query_one(RunLabels)

    def load(self, base: Config, edits: dict[str, Any] | None = None) -> None:
        """Show another preset, with `edits` (key -> value) typed over it: every other field
        back to the preset's value, nothing invalid."""
        self.model = FormModel(base)
        for key, value in (edits or {}).items():
            self.model.set(key, value)
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
        before = self.model.values[key], self.model.rejected.get(key)
        self.model.set(key, event.value)
        # Each editor reports its first value as it mounts: some forty no-op edits, each of which
        # restyled every field, made up a third of the time the form took to open.
        if (self.model.values[key], self.model.rejected.get(key)) != before:
            self._mark()

    @on(FormSection.Filled)
    def _filled(self) -> None:
        self._mark()  # the new rows show what is changed or invalid in them

    def _mark(self) -> None:
        problems = self.model.problems()
        changed = {key for key, _, _ in self.model.changes()}
        for field in self.query(ConfigField):
            field.show(problems.get(field.spec.key), field.spec.key in changed)
        for section in _SECTIONS:
            n_changed = sum(key.startswith(f"{section}.") for key in changed)
            n_invalid = sum(key.startswith(f"{section}.") for key in problems)
            collapsible = self.query_one(f"#section-{section}", FormSection)
            notes = [f"{n} {what}" for n, what in ((n_changed, "changed"), (n_invalid, "invalid")) if n]
            collapsible.title = f"{section} ({', '.join(notes)})" if notes else section
            if n_invalid and collapsible.collapsed:
                collapsible.collapsed = False  # a rule broken out of sight would block launch silently
        self.post_message(self.Edited(self))

    def on_mount(self) -> None:
        self.screen.screen_layout_refresh_signal.subscribe(self, self._laid_out)

    def _laid_out(self, _screen: object) -> None:
        """After every layout: a section opened above the row being edited (its rows built, a
        rule shown) pushed it down, out of sight; bring it back. (The form's own Resize does
        not come for every such change.)"""
        row = self._focused_row()
        if row is not None and not self.can_view_entire(row):
            self.scroll_to_widget(row, animate=False, center=True)

    def _focused_row(self) -> Widget | None:
        return next((s.focused_row() for s in self.query(FormSection) if s.focused_row() is not None), None)

    async def focus_field(self, key: str) -> None:
        """Open the field's section, focus its editor and bring it into view. The focus is set at
        once (not after a refresh, as `focus()` does), so that the scrolls the opening section
        triggers find it (see FormSection), and so do the keys typed right after."""
        section_name, name = key.split(".", 1)
        section = self.query_one(f"#section-{section_name}", FormSection)
        await section.fill()
        section.collapsed = False
        field = self.query_one(f"#field-{section_name}-{name}", ConfigField)
        self.screen.set_focus(field.editor, scroll_visible=False)
        # Centred: a field jumped to is read with its neighbours, and stays in view if the rows
        # above it settle a line or two later.
        self.scroll_to_widget(field, animate=False, center=True)

    # ---- up and down -------------------------------------------------------------------
    def _rows(self) -> list[Widget]:
        """The focusable widgets of the form in order: section titles and editors."""
        return [widget for widget in self.screen.focus_chain if self in widget.ancestors]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "step":
            return True
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            return False
        # An open select's list takes up and down for itself.
        return not any(isinstance(node, Select) and node.expanded for node in focused.ancestors_with_self)

    def action_step(self, by: int) -> None:
        rows = self._rows()
        focused = self.screen.focused
        if focused in rows:
            target = rows[max(0, min(len(rows) - 1, rows.index(focused) + by))]
            self.screen.set_focus(target)
