"""A plotext chart of one metric for one or more runs (textual-plotext's PlotextPlot).

The screen hands it full series; it downsamples to its width when drawing, so a 10,000
step run costs a few hundred points per redraw, and the stored history is never thinned.
The title and the legend sit on a line of their own above the plot: plotext draws its
legend inside the plot's corner, where it hid data (a short run's only eval point, say).
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual_plotext import PlotextPlot

from moetui.tui.chart_data import Series, drawable, x_ticks
from moetui.tui.downsample import downsample
from moetui.tui.ticks import linear_ticks, log_ticks, short

_MIN_POINTS = 80
_LEGEND_MARK = "━"
_FRAME_ROWS = 4  # the header, the plot's top and bottom borders and the x labels


class MetricChart(PlotextPlot):
    def __init__(self, title: str, *, id: str | None = None, empty: str = "no data yet") -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.empty = empty  # said in the title while nothing can be drawn (e.g. before the first eval)
        self.series: list[Series] = []
        self.log_y = False
        self.x_range: tuple[float, float] | None = None
        self.x_axis = "steps"

    def show(self, series: list[Series], log_y: bool = False, x_range: tuple[float, float] | None = None,
             x_axis: str = "steps") -> None:
        """Draw `series`; `x_range` (the view's shared range) else their own; `x_axis` names
        what x is, for the tick labels."""
        self.series, self.log_y, self.x_range, self.x_axis = series, log_y, x_range, x_axis
        self.refresh()

    def render(self) -> RenderableType:
        # The data go into plotext anew on every render: on a log axis plotext takes the log of
        # the figure's data in place while building it, so a second render of the same figure
        # (a resize, a repaint) would log them twice (negative ticks, then an IndexError).
        width, height = self.size.width, max(1, self.size.height - 1)
        points = self._points()
        if not points:  # no axes to draw: say why, where the plot will be
            return Text.assemble(self._header(points, width), "\n" * (height // 2), (self.empty.center(width), "dim"))
        plt = self.plt
        plt.clear_figure()
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does: plotsize alone does not always take
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        self._draw(points)
        return Text.assemble(self._header(points, width), "\n", Text.from_ansi(plt.build()))

    def _points(self) -> list[tuple[Series, list[float], list[float]]]:
        budget = max(_MIN_POINTS, 2 * self.size.width)
        points = []
        for s in self.series:
            xs, ys = drawable(s.xs, s.ys, self.log_y)
            if xs:
                points.append((s, *downsample(xs, ys, budget)))
        return points

    def _draw(self, points: list[tuple[Series, list[float], list[float]]]) -> None:
        plt = self.plt
        plt.yscale("log" if self.log_y else "linear")
        for s, xs, ys in points:
            if len(xs) == 1:  # one eval so far: a mark a person can see, not an empty line or a braille dot
                plt.scatter(xs, ys, color=s.color, marker="●")
            else:
                plt.plot(xs, ys, color=s.color, marker="braille")
        low, high = self.x_range or (min(min(xs) for _, xs, _ in points), max(max(xs) for _, xs, _ in points))
        if low == high:  # one x (a single eval): plotext divides by the range's width
            low, high = low - 1, high + 1
        # As many ticks as fit: a label every 8 columns, one every other row (plotext drops
        # the ones that would overlap, and the one it drops may be the one a flat line sits on).
        plt.xlim(low, high)
        plt.xticks(*x_ticks(self.x_axis, low, high, max(2, min(5, self.size.width // 8))))
        y_low, y_high = min(min(ys) for _, _, ys in points), max(max(ys) for _, _, ys in points)
        if y_high - y_low <= 1e-9 * max(abs(y_low), abs(y_high)):  # flat (to rounding: a smoothed constant)
            y_low, y_high = _around(y_low, self.log_y)
            plt.ylim(y_low, y_high)
        rows = max(3, min(5, (self.size.height - _FRAME_ROWS) // 2))
        ticks = log_ticks(y_low, y_high, rows) if self.log_y else linear_ticks(y_low, y_high, rows)
        plt.yticks(ticks, [short(t) for t in ticks])

    def _header(self, points: list[tuple[Series, list[float], list[float]]], width: int) -> Text:
        """The title, `(log)` on a log axis, and a legend of the named series drawn."""
        header = Text(self.chart_title + (" (log)" if self.log_y else ""), style="bold", no_wrap=True)
        for s, _, _ in points:
            if s.label:  # a smoothed series' raw values go unnamed
                header.append(" ")
                header.append(_LEGEND_MARK, style=f"rgb({s.color[0]},{s.color[1]},{s.color[2]})")
                header.append(f" {s.label}")
        header.truncate(width, overflow="ellipsis")
        return header


def _around(value: float, log_y: bool) -> tuple[float, float]:
    """A y range for a flat series, with it in the middle: plotext would divide by a zero range."""
    if log_y:
        return value / 2, value * 2
    return (value / 2, value * 3 / 2) if value > 0 else (value * 3 / 2, value / 2) if value < 0 else (-1.0, 1.0)
