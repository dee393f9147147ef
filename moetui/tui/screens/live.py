"""Base of the screens that show run state: redraw on a timer, and only when the state moved.

This is the throttle: however many events arrive per second, a screen redraws at most
once per `redraw_interval`, and not at all while it is not the screen on show."""

from __future__ import annotations

from textual.screen import Screen


class LiveScreen(Screen):
    def __init__(self) -> None:
        super().__init__()
        self._drawn_version = -1

    def on_mount(self) -> None:
        self.set_interval(self.app.redraw_interval, self._tick)

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.redraw_now)

    def _tick(self) -> None:
        if self.is_current and self._drawn_version != self.app.state.version:
            self.redraw_now()

    def redraw_now(self) -> None:
        self._drawn_version = self.app.state.version
        self.redraw()

    def redraw(self) -> None:
        """Draw the current `self.app.state`."""
        raise NotImplementedError
