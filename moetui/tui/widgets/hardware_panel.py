"""The hardware panel under the runs and queue tables, like nvitop's bottom panel but a
line per device: the host's CPU and RAM, then each GPU's utilisation, memory, temperature,
power and the runs on it.

It redraws itself when a new sample is in (its own timer on the state's
`hardware_version`), so a screen only mounts it, and hardware moving every two seconds
never redraws the table above. Until the first sample it takes no room.
"""

from __future__ import annotations

from typing import Mapping

from rich.text import Text
from textual.widget import Widget

from moetui.hardware import GpuUsage, HostUsage, Sample

_EIGHTHS = " ▏▎▍▌▋▊▉"
_WIDE = 100  # from this many columns: meters long enough to read a few percent, and power limits


def gib(used: int | None, total: int | None) -> str:
    """` 40.1/139.8 GiB` (used padded, so that a column of them lines up); `–` when unknown."""
    if used is None or total is None:
        return "–"
    return f"{used / 2**30:5.1f}/{total / 2**30:.1f} GiB"


def meter(fraction: float | None, width: int, style: str) -> Text:
    """A bar `width` cells long, to an eighth of a cell; a dotted track where it is empty."""
    if fraction is None:
        return Text("·" * width, style="dim")
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return Text.assemble((bar, style), ("·" * (width - len(bar)), "dim"))


def _level(fraction: float | None) -> str:
    """Memory and CPU colour: filling up is what a person must notice (an OOM is next)."""
    if fraction is None or fraction < 0.7:
        return "green"
    return "yellow" if fraction < 0.9 else "bold red"


def _meter_width(wide: bool) -> int:
    return 10 if wide else 6


def _share(used: float | None, total: float | None) -> float | None:
    return used / total if used is not None and total else None


def _host_line(host: HostUsage, label: int, wide: bool) -> Text:
    width = _meter_width(wide)
    cpu, ram = host.cpu_percent / 100, _share(host.mem_used, host.mem_total)
    return Text.assemble((f"{'CPU':<{label}} ", "bold"), meter(cpu, width, _level(cpu)), f" {host.cpu_percent:3.0f}%  ",
                         ("RAM ", "bold"), meter(ram, width, _level(ram)), f" {gib(host.mem_used, host.mem_total)}",
                         (f"  {host.cpus} cores", "dim"))


def _gpu_line(gpu: GpuUsage, runs: list[str], label: int, wide: bool) -> Text:
    width = _meter_width(wide)
    util = gpu.util / 100 if gpu.util is not None else None
    mem = _share(gpu.mem_used, gpu.mem_total)
    percent = f"{gpu.util:3.0f}%" if gpu.util is not None else "   –"
    temperature = f"{gpu.temperature:2.0f}°C" if gpu.temperature is not None else "–°C"
    hot = "bold red" if gpu.temperature is not None and gpu.temperature >= 85 else ""
    power = f"{gpu.power:3.0f} W" if gpu.power is not None else "  – W"
    if gpu.power is not None and gpu.power_limit and wide:
        power = f"{gpu.power:3.0f}/{gpu.power_limit:.0f} W"
    if runs:
        holder = (", ".join(runs), "bold")
    elif gpu.pids:  # busy, and no run of this store is why
        holder = (f"{len(gpu.pids)} other process{'es' if len(gpu.pids) > 1 else ''}", "yellow")
    else:
        holder = ("free", "dim")
    return Text.assemble((f"GPU{gpu.index:<{label - 3}} ", "bold"), meter(util, width, "cyan"), f" {percent}  ",
                         ("mem ", "bold"), meter(mem, width, _level(mem)), f" {gib(gpu.mem_used, gpu.mem_total)}  ",
                         (temperature, hot), f"  {power}  ", holder)


def panel_text(sample: Sample, holders: Mapping[int, list[str]], columns: int) -> Text:
    """The panel's lines; `holders` names the runs on each GPU (by index)."""
    wide = columns >= _WIDE
    label = max([3] + [len(f"GPU{gpu.index}") for gpu in sample.gpus])
    lines = [_host_line(sample.host, label, wide)] if sample.host else []
    lines += [_gpu_line(gpu, holders.get(gpu.index, []), label, wide) for gpu in sample.gpus]
    return Text("\n").join(lines)


class HardwarePanel(Widget):
    def on_mount(self) -> None:
        self.display = False
        self._drawn = -1
        self.set_interval(self.app.redraw_interval, self._tick)

    def _tick(self) -> None:
        state = self.app.state
        if state.hardware is not None and state.hardware_version != self._drawn and self.screen.is_current:
            self._drawn = state.hardware_version
            self.display = True
            self.refresh(layout=True)  # a GPU more or less changes the panel's height

    def render(self) -> Text:
        state = self.app.state
        if state.hardware is None:
            return Text()
        names = {index: [state.records[r].name for r in runs if r in state.records]
                 for index, runs in state.gpu_holders.items()}
        return panel_text(state.hardware, names, self.size.width)
