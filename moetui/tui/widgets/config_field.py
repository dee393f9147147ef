"""One row of the launch form: a name, an editor, help (unit and bounds for a schema field)
and the rule the value breaks. `ConfigField` is a schema field's row; the run's notes and
tags (`RunLabels`) are rows of the same shape."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from engine.config import FieldSpec, format_value


def bounds(spec: FieldSpec) -> str:
    """`dims, 8–16384`: what a value may be, after the help text."""
    parts = [spec.unit] if spec.unit else []
    if spec.min is not None or spec.max is not None:
        low = "" if spec.min is None else format_value(spec.min)
        high = "" if spec.max is None else format_value(spec.max)
        parts.append(f"{low}–{high}")
    return ", ".join(parts)


def make_editor(spec: FieldSpec, value: Any) -> Widget:
    """Choices as a select, booleans as a switch, everything else as typed text."""
    ident = f"edit-{spec.section}-{spec.name}"
    if spec.choices is not None:
        return Select([(choice, choice) for choice in spec.choices], value=value, allow_blank=False,
                      compact=True, id=ident, name=spec.key)
    if spec.type is bool:
        return Switch(value=value, id=ident, name=spec.key)
    # Plain text even for numbers: a restricted input would swallow "1e4" or a typo silently,
    # where the form should take it and name the rule it breaks.
    return Input(format_value(value), compact=True, id=ident, name=spec.key, select_on_focus=False)


def set_editor(editor: Widget, value: Any) -> None:
    if isinstance(editor, Input):
        editor.value = format_value(value)
    else:
        editor.value = value  # Select and Switch take the typed value itself


class FormRow(Widget):
    """Marked `-changed` when it differs from the preset and `-invalid` with the rule it breaks.
    Three widgets on a grid (name, editor; help and rule under both): the form holds some
    seventy rows, and the widgets of each are most of what building the launch screen costs."""

    DEFAULT_CLASSES = "form-row"

    def __init__(self, label: str, editor: Widget, help: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label, self.editor, self.help = label, editor, help

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="name")
        yield self.editor
        yield Static(self.help, classes="help", markup=False)

    def show(self, rule: str | None, changed: bool = False) -> None:
        if self.has_class("-invalid") or rule is not None:  # the help line holds the rule, if any
            lines = [self.help] if self.help else []
            if rule is not None:
                lines.append(Content.styled(f"✗ {rule}", "bold $error"))
            self.query_one(".help", Static).update(Content("\n").join(lines))
        self.set_class(rule is not None, "-invalid")
        self.set_class(changed, "-changed")


class ConfigField(FormRow):
    def __init__(self, spec: FieldSpec, value: Any) -> None:
        limits = bounds(spec)
        super().__init__(spec.name, make_editor(spec, value), f"{spec.help} [{limits}]" if limits else spec.help,
                         id=f"field-{spec.section}-{spec.name}")
        self.spec = spec
