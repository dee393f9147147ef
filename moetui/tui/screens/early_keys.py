"""Keys typed at a screen before it has focused anything reach the first widget it focuses.

Textual sends a key to the focused widget, or, when nothing has focus, to the screen itself
(`App.on_event`), which drops any key it has no binding for. A screen that is still being
built has no focus yet: on a busy machine a person typing ahead (ctrl+n, ctrl+g, `dropout`,
enter, `0.05`) lost letters, and the enter that should have picked `model.dropout` picked
whatever was listed first. Held here instead, the keys are handed over in order the moment a
widget takes focus (`replay`, which a screen may refine), before a later key can overtake them.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen


class EarlyKeys(Screen):
    """Mix in before a Screen class: `class Launch(EarlyKeys, Screen)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._early: list[events.Key] = []

    def _forward_event(self, event: events.Event) -> None:
        # The app forwards a key to the screen itself only when nothing on it has focus.
        if isinstance(event, events.Key) and self.focused is None and not event.is_forwarded:
            self._early.append(event)
            return
        super()._forward_event(event)

    def set_focus(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        super().set_focus(widget, *args, **kwargs)
        if self.focused is not None and self._early:
            early, self._early = self._early, []
            self.replay(early)

    def replay(self, keys: list[events.Key]) -> None:
        """Hand `keys` to the focused widget, as the app would have (its bindings are found on
        the way up). A key that moves the focus does not redirect the ones after it: a screen
        whose keys do so (enter in a finder) handles those itself."""
        for key in keys:
            self.focused._forward_event(key)
