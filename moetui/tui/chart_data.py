"""What the charts draw, from run histories: pure, so the run and compare views agree and
tests can read exactly what a chart was given."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

from moetui.history import RunHistory
from moetui.tui.smoothing import debiased_ema

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
}
_SMOOTHABLE = ("loss", "tokens_per_s", "aux_loss")  # noisy per-step series; evals are sparse


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
                  smoothing: float | None = None) -> list[Series]:
    """One metric of one run; smoothed per-step series come with their raw values beneath."""
    x_name, y_name = METRICS[metric]
    xs, ys = list(getattr(history, x_name)), list(getattr(history, y_name))
    if smoothing is None or metric not in _SMOOTHABLE or not ys:
        return [Series(label, xs, ys, color)]
    return [Series("", xs, ys, RAW_COLOR), Series(label, xs, debiased_ema(ys, smoothing), color)]


def drawable(xs: Sequence[float], ys: Sequence[float], log_y: bool) -> tuple[list[float], list[float]]:
    """Drop what a chart cannot place: non-finite values, and non-positive ones on a log axis."""
    keep = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y) and (y > 0 or not log_y)]
    return [x for x, _ in keep], [y for _, y in keep]


def step_ticks(first: float, last: float, count: int = 5) -> list[int]:
    """At most `count` whole-number ticks for a step axis from `first` to `last`, at the
    smallest round spacing (1, 2 or 5 times a power of ten) that keeps to `count`. Plotext
    spaces its own ticks evenly over the range, which labels a step axis 1.0, 2.5, 4.0."""
    spacing = next(s for s in _round_numbers() if math.floor(last / s) - math.ceil(first / s) + 1 <= count)
    return list(range(math.ceil(first / spacing) * spacing, math.floor(last) + 1, spacing))


def _round_numbers() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, 100, …"""
    for power in itertools.count():
        for mantissa in (1, 2, 5):
            yield mantissa * 10 ** power
