"""The numbers beside a run's charts: `label value` pairs flowed into as many lines as the
width needs, never split across a line (a plain wrap would part `val loss` from its value)."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from moetui.tui.run_figures import Figure

_GAP = "   "


def pack(figures: list[Figure], width: int) -> list[Text]:
    """The figures as lines of at most `width` cells; one wider than that (the reason a run
    failed, say) on lines of its own, cut every `width` characters."""
    width = max(width, 1)
    lines: list[Text] = []
    line = Text()
    for figure in figures:
        item = Text()
        if figure.label:
            item.append(figure.label + " ", style="dim")
        item.append(figure.value, style=figure.style or "bold")
        if line.cell_len and line.cell_len + len(_GAP) + item.cell_len > width:
            lines.append(line)
            line = Text()
        if item.cell_len > width:
            lines.extend(item.divide(range(width, len(item), width)))
            continue
        if line.cell_len:
            line.append(_GAP)
        line.append_text(item)
    if line.cell_len or not lines:
        lines.append(line)
    return lines


class NumbersPanel(Widget):
    DEFAULT_CSS = "NumbersPanel { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.figures: list[Figure] = []

    def show(self, figures: list[Figure]) -> None:
        if figures != self.figures:
            self.figures = figures
            self.refresh(layout=True)  # the number of lines may change

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(pack(self.figures, width))

    def render(self) -> Text:
        return Text("\n").join(pack(self.figures, self.content_size.width))
