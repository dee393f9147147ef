"""The chart keys every screen with charts shares: `s` smoothing, `+`/`-` its strength, `l` log
scale, `a` the x axis (steps, tokens, time).

The settings are the app's, not a screen's: the run view, the next run opened and the
comparison of runs all draw with them, and they are saved for the next TUI (chart_settings)."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from moetui.tui import chart_settings
from moetui.tui.chart_data import X_AXES
from moetui.tui.chart_settings import STRENGTHS, ChartSettings

_STRENGTH = Binding.Group("EMA")  # short words: the footer must hold every key at 80 columns

CHART_BINDINGS = [
    Binding("s", "smoothing", "Smooth"),
    Binding("plus,equals_sign", "strength(1)", "Smoother", group=_STRENGTH),
    Binding("minus", "strength(-1)", "Rougher", group=_STRENGTH),
    Binding("l", "log_scale", "Log y"),
    Binding("a", "x_axis", "Axis"),
]


def settings_label(settings: ChartSettings, title: str = "Charts") -> str:
    """`Charts · x steps · EMA 0.9 · log y`: the settings in the charts' tab, no row of their own."""
    s = settings
    return " · ".join([title, f"x {s.x_axis}", f"EMA {s.strength:g}" if s.smoothing else "raw",
                       *["log y"] * s.log_y])


class ChartKeys(Screen):
    """Mixed into a LiveScreen; `settings_changed` redraws with the new settings."""

    @property
    def settings(self) -> ChartSettings:
        return self.app.chart_settings

    def action_smoothing(self) -> None:
        self._change(smoothing=not self.settings.smoothing)

    def action_strength(self, direction: int) -> None:
        i = STRENGTHS.index(self.settings.strength) + direction
        self._change(strength=STRENGTHS[max(0, min(len(STRENGTHS) - 1, i))], smoothing=True)

    def action_log_scale(self) -> None:
        self._change(log_y=not self.settings.log_y)

    def action_x_axis(self) -> None:
        """Steps, then tokens seen, then training time, then steps again."""
        self._change(x_axis=X_AXES[(X_AXES.index(self.settings.x_axis) + 1) % len(X_AXES)])

    def _change(self, **changes: object) -> None:
        self.app.chart_settings = self.settings.replace(**changes)
        chart_settings.save(self.app.chart_settings)  # a home it cannot write: remembered for this session
        self.settings_changed()

    def settings_changed(self) -> None:
        raise NotImplementedError
