"""Go to a launch form field by typing part of its name: every schema field as a command.

The form has some forty fields in eight sections, so `train.max_steps` sits about thirty
tab presses down; in this palette it is a few letters away. Choosing a field opens its
section and focuses its editor."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.config import iter_fields


class FieldCommands(Provider):
    """Opened from the launch screen (`self.screen`), whose form it moves the focus in."""

    @staticmethod
    def _fields() -> list[tuple[str, str]]:
        """(`section.key — help`, key): the help is searched too, so its words ("learning
        rate", "context") find a field whose name a person does not remember."""
        return [(f"{spec.key} — {spec.help}", spec.key) for spec in iter_fields()]

    def _go(self, key: str) -> None:
        self.screen.form.focus_field(key)

    async def discover(self) -> Hits:
        for text, key in self._fields():
            yield DiscoveryHit(text, partial(self._go, key), text=key)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, key in self._fields():
            # A name match ranks above a help match: "max_steps" is train.max_steps, not the
            # warmup field whose help mentions max_steps.
            score = max(matcher.match(key), matcher.match(text) / 2)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._go, key), text=key)
