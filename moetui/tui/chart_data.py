"""What the charts draw, from run histories: pure, so the run and compare views agree and
tests can read exactly what a chart was given.

The x axis is one of `X_AXES`: optimizer steps, tokens seen, or training time. Step
events carry their tokens and elapsed time; an eval's are read off the steps around it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterable, Sequence

from moetui.history import RunHistory
from moetui.tui.progress import clock
from moetui.tui.smoothing import debiased_ema
from moetui.tui.ticks import clock_ticks, linear_ticks, short, step_ticks

Color = tuple[int, int, int]

# Distinguishable on light and dark backgrounds alike (the Tableau 10 hues).
PALETTE: tuple[Color, ...] = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                              (140, 86, 75), (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127))
RAW_COLOR: Color = (150, 150, 150)

# metric -> (x series, y series) attribute names on RunHistory
METRICS: dict[str, tuple[str, str]] = {
    "loss": ("steps", "loss"),
    "val_loss": ("eval_steps", "val_loss"),
    "val_perplexity": ("eval_steps", "val_perplexity"),
    "val_accuracy": ("eval_steps", "val_accuracy"),
    "lr": ("steps", "lr"),
    "tokens_per_s": ("steps", "tokens_per_s"),
    "aux_loss": ("steps", "aux_loss"),
    "grad_norm": ("steps", "grad_norm"),
}
_SMOOTHABLE = ("loss", "tokens_per_s", "aux_loss", "grad_norm")  # noisy per-step series; evals are sparse
X_AXES = ("steps", "tokens", "time")
# x axis -> the step series that holds it (steps are their own x)
_X_SERIES = {"tokens": "tokens", "time": "elapsed"}


@dataclass(frozen=True)
class Series:
    label: str
    xs: list[float]
    ys: list[float]
    color: Color


def color_of(index: int) -> Color:
    """The colour of the index-th run of a view, the same in every chart of it."""
    return PALETTE[index % len(PALETTE)]


def metric_series(history: RunHistory, metric: str, label: str, color: Color,
                  smoothing: float | None = None, x_axis: str = "steps") -> list[Series]:
    """One metric of one run; smoothed per-step series come with their raw values beneath."""
    x_name, y_name = METRICS[metric]
    xs, ys = x_values(history, getattr(history, x_name), x_axis), list(getattr(history, y_name))
    if smoothing is None or metric not in _SMOOTHABLE or not ys:
        return [Series(label, xs, ys, color)]
    return [Series("", xs, ys, RAW_COLOR), Series(label, xs, debiased_ema(ys, smoothing), color)]


def x_values(history: RunHistory, steps: list[int], x_axis: str) -> list[float]:
    """Where `steps` lie on `x_axis`. The step events' own tokens or elapsed time where they
    are the steps asked for; other steps (evals) at the straight line between the logged
    steps around them (from step 0 at 0), or past the last one at its rate."""
    if x_axis == "steps":
        return [float(s) for s in steps]
    values = getattr(history, _X_SERIES[x_axis])
    if steps is history.steps:
        return [float(v) for v in values]
    known = [(0, 0.0)] + [(s, float(v)) for s, v in zip(history.steps, values) if math.isfinite(v)]
    return [_along(known, step) for step in steps]


def _along(known: list[tuple[int, float]], step: int) -> float:
    """The value at `step` on the polyline through `known` (sorted by step), extended past its ends."""
    if len(known) == 1:
        return known[0][1]
    i = min(max(bisect_left(known, (step, -math.inf)), 1), len(known) - 1)
    (s0, v0), (s1, v1) = known[i - 1], known[i]
    return v1 if s1 == s0 else v0 + (v1 - v0) * (step - s0) / (s1 - s0)


def drawable(xs: Sequence[float], ys: Sequence[float], log_y: bool) -> tuple[list[float], list[float]]:
    """Drop what a chart cannot place: non-finite values, and non-positive ones on a log axis."""
    keep = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y)]
    return [x for x, _ in keep], [y for _, y in keep]


def shared_x_range(charts: Iterable[list[Series]]) -> tuple[float, float] | None:
    """The one x range of every chart of a view: from the first x any series has to the last,
    so that step 50 sits at the same column in each (None while nothing has an x)."""
    xs = [x for series in charts for s in series for x in s.xs if math.isfinite(x)]
    return (min(xs), max(xs)) if xs else None


def x_ticks(x_axis: str, first: float, last: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Round ticks and their labels: whole steps, `200k` tokens, `5:00` of training."""
    if x_axis == "steps":
        values = [float(t) for t in step_ticks(first, last, count)]
        return values, [str(int(v)) for v in values]
    if x_axis == "time":
        values = clock_ticks(first, last, count)
        return values, [clock(v) for v in values]
    values = linear_ticks(first, last, count)
    return values, [short(v) for v in values]
