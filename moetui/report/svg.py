"""Val-loss curves as a self-contained SVG line chart, drawn here (no plotting library, no
network): it is inlined in the HTML report and can be written beside a Markdown one. A run
with a single eval is a point, which a polyline does not draw: it gets a marker."""

from __future__ import annotations

import math
from html import escape

from moetui.report.summary import RunSummary

# Ten distinguishable colours (Tableau 10), cycled.
_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
            "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
_W, _H = 760, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 200, 24, 44  # margins: the legend sits on the right
_LEGEND_ROWS = 18  # what fits beside the plot; the rest keep their tooltip


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def curves_svg(curves: list[tuple[str, RunSummary]], title: str = "val loss", standalone: bool = True) -> str:
    """The chart; `standalone` adds the XML namespace a .svg file needs (HTML inlines it without)."""
    series = [(label, [(s, v) for s, v in zip(run.curve_steps, run.curve_loss) if math.isfinite(v)])
              for label, run in curves]
    series = [(label, points) for label, points in series if points]
    if not series:
        return _frame(f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no val-loss points yet</text>',
                      standalone)
    xs = [s for _, points in series for s, _ in points]
    ys = [v for _, points in series for _, v in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    pad = (max(ys) - min(ys)) * 0.05 or 0.5
    y0, y1 = min(ys) - pad, max(ys) + pad
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(step: float) -> float:
        return _LEFT + (step - x0) / (x1 - x0) * plot_w

    def py(value: float) -> float:
        return _TOP + (y1 - value) / (y1 - y0) * plot_h

    parts = [f'<text x="{_LEFT}" y="16" font-weight="bold">{escape(title)}</text>',
             f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for tick in nice_ticks(y0, y1):
        y = py(tick)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in nice_ticks(x0, x1):
        x = px(tick)
        parts.append(f'<text x="{x:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{_LEFT + plot_w / 2}" y="{_H - 6}" text-anchor="middle">step</text>')
    for i, (label, points) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        if len(points) == 1:
            (s, v), = points
            parts.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}">'
                         f"<title>{escape(label)}</title></circle>")
        else:
            path = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}">'
                         f"<title>{escape(label)}</title></polyline>")
        if i < _LEGEND_ROWS:
            parts.append(_legend_entry(i, colour, label))
    if len(series) > _LEGEND_ROWS:
        parts.append(_legend_entry(_LEGEND_ROWS, "none", f"… and {len(series) - _LEGEND_ROWS} more"))
    return _frame("".join(parts), standalone)


def _legend_entry(i: int, colour: str, label: str) -> str:
    y = _TOP + 8 + i * 16
    return (f'<rect x="{_W - _RIGHT + 12}" y="{y - 8}" width="12" height="3" fill="{colour}"/>'
            f'<text x="{_W - _RIGHT + 30}" y="{y - 3}">{escape(label)}</text>')


def _frame(body: str, standalone: bool) -> str:
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    return (f'<svg{namespace} viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
            f'font-family="sans-serif" font-size="11">{body}</svg>\n')
