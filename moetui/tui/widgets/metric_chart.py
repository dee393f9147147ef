"""A plotext chart of one metric for one or more runs (textual-plotext's PlotextPlot).

The screen hands it full series; it downsamples to its width when drawing, so a 10,000
step run costs a few hundred points per redraw, and the stored history is never thinned.
"""

from __future__ import annotations

from rich.console import RenderableType
from textual_plotext import PlotextPlot

from moetui.tui.chart_data import Series, drawable, step_ticks
from moetui.tui.downsample import downsample

_MIN_POINTS = 80


class MetricChart(PlotextPlot):
    def __init__(self, title: str, *, id: str | None = None, empty: str = "no data yet") -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.empty = empty  # said in the title while nothing can be drawn (e.g. before the first eval)
        self.series: list[Series] = []
        self.log_y = False

    def show(self, series: list[Series], log_y: bool = False) -> None:
        self.series, self.log_y = series, log_y
        self.refresh()

    def render(self) -> RenderableType:
        # The data go into plotext anew on every render: on a log axis plotext takes the log of
        # the figure's data in place while building it, so a second render of the same figure
        # (a resize, a repaint) would log them twice (negative ticks, then an IndexError).
        self._plot_series()
        return super().render()

    def _plot_series(self) -> None:
        budget = max(_MIN_POINTS, 2 * self.size.width)
        points = []
        for s in self.series:
            xs, ys = drawable(s.xs, s.ys, self.log_y)
            if xs:
                points.append((s, *downsample(xs, ys, budget)))
        plt = self.plt
        plt.clear_data()
        # An empty chart stays linear: plotext cannot place log ticks without data (it raises
        # while rendering, which would take the app down).
        plt.yscale("log" if self.log_y and points else "linear")
        for s, xs, ys in points:
            if len(xs) == 1:  # one eval so far: a mark a person can see, not an empty line or a braille dot
                plt.scatter(xs, ys, label=s.label or None, color=s.color, marker="●")
            else:
                plt.plot(xs, ys, label=s.label or None, color=s.color, marker="braille")
        if points:  # x is a step count: whole-number ticks
            plt.xticks(step_ticks(min(min(xs) for _, xs, _ in points), max(max(xs) for _, xs, _ in points)))
        title = self.chart_title + (" (log)" if self.log_y else "")
        plt.title(title if points else f"{title}: {self.empty}")
