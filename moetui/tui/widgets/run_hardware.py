"""One run's hardware over time, in the run view: its GPUs' utilisation and memory, or for
a run on CPU its engine's CPU and resident memory, as two sparklines with the latest value.

Drawn from the app's per-run usage series (`RunState.usage`), kept only while this TUI
watched the run on this host; a run with none (finished before, or on another host) shows
nothing and takes no room. Like the hardware panel it redraws on its own timer.
"""

from __future__ import annotations

from typing import Callable, Sequence

from rich.text import Text
from textual.widget import Widget

from moetui.hardware import RunUsage
from moetui.tui.widgets.hardware_panel import gib

_BARS = "▁▂▃▄▅▆▇█"  # zero still draws the lowest bar, so an idle stretch is seen, not blank
_LABEL = 12
_VALUE = 18


def spark(values: Sequence[float | None], top: float, width: int) -> str:
    """The last `width` values as bars from 0 to `top`, right-aligned so that now is always
    beside the latest value; a gap where a value is unknown."""
    cells = []
    for value in values[-width:] if width > 0 else []:
        if value is None:
            cells.append(" ")
        else:
            level = max(0.0, min(1.0, value / top)) if top > 0 else 0.0
            cells.append(_BARS[round(level * (len(_BARS) - 1))])
    return "".join(cells).rjust(max(0, width))


def _line(label: str, usage: Sequence[RunUsage], pick: Callable[[RunUsage], float | None], top: float,
          value: str, width: int, style: str) -> Text:
    bars = spark([pick(u) for u in usage], top, width - _LABEL - _VALUE - 2)
    return Text.assemble((f"{label:<{_LABEL}}", "bold"), (bars, style), f"  {value}")


def usage_text(usage: Sequence[RunUsage], width: int) -> Text:
    last = usage[-1]
    if last.gpus:
        name = "GPU " + ",".join(map(str, last.gpus))
        util = f"{last.gpu_util:.0f}%" if last.gpu_util is not None else "–"
        return Text("\n").join([
            _line(f"{name} util", usage, lambda u: u.gpu_util, 100.0, util, width, "cyan"),
            _line(f"{name} mem", usage, lambda u: u.gpu_mem_used, float(last.gpu_mem_total or 0),
                  gib(last.gpu_mem_used, last.gpu_mem_total), width, "green")])
    cpus = [u.cpu_percent for u in usage if u.cpu_percent is not None]
    rss = [u.rss for u in usage if u.rss is not None]
    # Scaled to the run's own peak (at least one core): a one-core engine on a 64-core host
    # would be a flat line against the whole machine.
    return Text("\n").join([
        _line("engine CPU", usage, lambda u: u.cpu_percent, max([100.0, *cpus]),
              f"{last.cpu_percent or 0:.0f}%", width, "cyan"),
        _line("engine RSS", usage, lambda u: u.rss, float(max(rss, default=0)),
              f"{(last.rss or 0) / 2**30:.2f} GiB", width, "green")])


class RunHardware(Widget):
    def __init__(self, run_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id = run_id
        self._drawn = -1

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(self.app.redraw_interval, self._tick)

    def _tick(self) -> None:
        state = self.app.state
        if state.hardware_version != self._drawn and self.screen.is_current:
            self._drawn = state.hardware_version
            self.display = bool(state.usage.get(self.run_id))
            self.refresh()

    def render(self) -> Text:
        usage = self.app.state.usage.get(self.run_id)
        return usage_text(usage, self.size.width) if usage else Text()
