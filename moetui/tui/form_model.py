"""The launch form's state without any widget: values typed per field, the rule each one
breaks, the cross-field rule the whole config breaks, and what changed from the preset.

The form widgets call `set` on every keystroke; everything here is plain data over the
one config schema, so the rules a form shows are exactly the rules a launch enforces.
"""

from __future__ import annotations

from typing import Any

from engine.config import Config, ConfigError, check_value, config_diff, field_spec, iter_fields, parse_text, set_value


class FormModel:
    def __init__(self, base: Config) -> None:
        self.base = base
        self.values: dict[str, Any] = {spec.key: base.get(spec.key) for spec in iter_fields()}
        self.field_errors: dict[str, str] = {}
        self.rejected: dict[str, Any] = {}  # what was entered in a field that breaks its rule

    def set(self, key: str, raw: Any) -> str | None:
        """Take what the person entered (text from an input, a bool from a switch, a choice
        from a select); returns the rule it breaks, or None when the value is accepted."""
        spec = field_spec(key)
        try:
            value = parse_text(spec, raw) if isinstance(raw, str) and spec.choices is None else raw
            check_value(spec, value)
        except ConfigError as error:
            self.field_errors[key], self.rejected[key] = error.rule, raw
            return error.rule
        self.field_errors.pop(key, None)
        self.rejected.pop(key, None)
        self.values[key] = value
        return None

    def config(self) -> Config:
        """The config as edited, from the accepted values (a field being fixed keeps its last good value)."""
        config = self.base.copy()
        for key, value in self.values.items():
            set_value(config, key, value)
        return config

    def cross_error(self) -> ConfigError | None:
        """The first cross-field rule the edited config breaks (checked once every field is valid)."""
        if self.field_errors:
            return None
        try:
            self.config().validate()
        except ConfigError as error:
            return error
        return None

    def problems(self) -> dict[str, str]:
        """Every field that blocks a launch, with its rule."""
        problems = dict(self.field_errors)
        cross = self.cross_error()
        if cross is not None:
            problems[cross.key] = cross.rule
        return problems

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(key, preset value, edited value) for every field changed from the preset."""
        return config_diff(self.base, self.config())

    def edits(self) -> list[tuple[str, Any, Any, str | None]]:
        """What the form differs in, for a person reading the diff: (key, preset value, value,
        rule it breaks or None), in schema order. A field that breaks its own rule shows what
        was entered (not the last good value `config()` still holds, which would read as if
        the edit had been taken); a changed value that breaks a cross-field rule carries it."""
        problems = self.problems()
        changed = {key: new for key, _, new in self.changes()}
        return [(spec.key, self.base.get(spec.key), self.rejected.get(spec.key, changed.get(spec.key)),
                 problems.get(spec.key))
                for spec in iter_fields() if spec.key in self.rejected or spec.key in changed]
