"""A plotext chart of one metric for one or more runs (textual-plotext's PlotextPlot).

The screen hands it full series; it downsamples to its width when drawing, so a 10,000
step run costs a few hundred points per redraw, and the stored history is never thinned.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from moetui.tui.chart_data import Series, drawable
from moetui.tui.downsample import downsample

_MIN_POINTS = 80


class MetricChart(PlotextPlot):
    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.series: list[Series] = []
        self.log_y = False

    def show(self, series: list[Series], log_y: bool = False) -> None:
        self.series, self.log_y = series, log_y
        plt = self.plt
        plt.clear_data()
        plt.title(self.chart_title + (" (log)" if log_y else ""))
        budget = max(_MIN_POINTS, 2 * self.size.width)
        for s in series:
            xs, ys = drawable(s.xs, s.ys, log_y)
            if not xs:
                continue
            xs, ys = downsample(xs, ys, budget)
            if len(xs) == 1:  # one eval so far: a mark a person can see, not an empty line or a braille dot
                plt.scatter(xs, ys, label=s.label or None, color=s.color, marker="●")
            else:
                plt.plot(xs, ys, label=s.label or None, color=s.color, marker="braille")
        plt.yscale("log" if log_y else "linear")
        self.refresh()
