"""The launch screen's list of presets and studies: keys typed right after enter go where
the pick sends the focus (the form, or the dialog asking to drop edits), not to this list.

The app hands every key typed ahead to the widget focused when it arrives, and enter's pick
is a message the screen handles a moment later: a `down` typed in that moment moved this
list's highlight, and the name typed after it went nowhere. Held from enter until the
screen has handled the pick (`release`), the keys are dispatched again, in order, with the
focus where the pick put it."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import OptionList


class PresetList(OptionList):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[events.Key] | None = None  # None: no enter waiting to be handled

    def _forward_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if self._held is not None:
                self._held.append(event)
                return
            if event.key == "enter":
                self._held = []
        super()._forward_event(event)

    def action_select(self) -> None:
        highlighted = self.highlighted
        if highlighted is None or self.get_option_at_index(highlighted).disabled:
            self.call_later(self.release)  # nothing picked: no screen will release them
        super().action_select()

    async def release(self) -> None:
        """The pick is handled: each held key dispatched again as the app dispatches a key, with
        the focus where it is now: priority bindings first (up and down in the form are such),
        then the focused widget, or the screen (a dialog) when nothing has focus."""
        held, self._held = self._held or [], None
        for key in held:
            if not await self.app._check_bindings(key.key, priority=True):
                screen = self.app.screen
                (screen.focused or screen)._forward_event(key)
