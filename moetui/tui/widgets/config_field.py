"""One row of the launch form: a schema field's name, editor, unit and bounds, help and rule."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
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


class ConfigField(Vertical):
    """Marked `-changed` when it differs from the preset and `-invalid` with the rule it breaks."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        super().__init__(id=f"field-{spec.section}-{spec.name}")
        self.spec = spec
        self._value = value

    def compose(self) -> ComposeResult:
        with Horizontal(classes="line"):
            yield Label(self.spec.name, classes="name")
            yield make_editor(self.spec, self._value)
        limits = bounds(self.spec)
        yield Static(f"{self.spec.help} [{limits}]" if limits else self.spec.help, classes="help", markup=False)
        yield Static("", classes="rule")

    @property
    def editor(self) -> Widget:
        return self.query_one(f"#edit-{self.spec.section}-{self.spec.name}")

    def show(self, rule: str | None, changed: bool) -> None:
        self.set_class(rule is not None, "-invalid")
        self.set_class(changed, "-changed")
        if rule is not None:
            self.query_one(".rule", Static).update(f"✗ {rule}")
