"""Round tick values for the charts' axes, and their labels.

Plotext spaces its own ticks evenly over the data's range, which labels a loss axis
3.4567, 3.8901 and a step axis 1.0, 2.5, 4.0. Here a tick is a round number (1, 2 or 5
times a power of ten; on a clock, whole seconds, minutes or hours), at the smallest such
spacing that keeps to the number of ticks asked for, and labels are short: `200k`, `1.5M`.
Pure arithmetic, tested on its own.
"""

from __future__ import annotations

import itertools
import math
from typing import Iterable, Iterator

# Clock spacings in seconds: 1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h; then days.
_CLOCK_SPACINGS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


def round_numbers(smallest: float = 1.0) -> Iterator[float]:
    """1, 2, 5, 10, 20, 50, … times powers of ten, from the first not below `smallest`."""
    power = math.floor(math.log10(smallest)) if smallest > 0 else 0
    for exponent in itertools.count(power):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0 ** exponent
            if value >= smallest * (1 - 1e-9):
                yield value


def _clock_spacings() -> Iterator[float]:
    yield from _CLOCK_SPACINGS
    for days in round_numbers():
        yield days * 86400


def ticks(first: float, last: float, count: int, spacings: Iterable[float]) -> list[float]:
    """The multiples in [first, last] of the first spacing (of ascending `spacings`) that gives
    at most `count` of them -- or of the spacing before it, when that gives a single tick,
    which says nothing of the scale (the one before gives a few more: spacings grow by at
    most 3x). A range that holds no multiple at all gets its ends."""
    if last < first:
        first, last = last, first
    previous = None
    for spacing in spacings:
        low, high = math.ceil(first / spacing - 1e-9), math.floor(last / spacing + 1e-9)
        if high - low + 1 <= count:
            if high - low + 1 < 2 and previous is not None:
                spacing, low, high = previous
            if high < low:
                return [first] if first == last else [first, last]
            return [_clean(i * spacing) for i in range(low, high + 1)]
        previous = spacing, low, high
    raise AssertionError("the spacings ran out")  # every caller passes an endless sequence


def _clean(value: float) -> float:
    """0.30000000000000004 -> 0.3: a tick is a round number and must print as one."""
    return float(f"{value:.12g}")


def step_ticks(first: float, last: float, count: int = 5) -> list[int]:
    """Whole-number ticks for a step axis."""
    return [int(t) for t in ticks(first, last, count, round_numbers())]


def linear_ticks(first: float, last: float, count: int = 5) -> list[float]:
    span = abs(last - first) or abs(first) or 1.0
    return ticks(first, last, count, round_numbers(span / (4 * count)))


def clock_ticks(first: float, last: float, count: int = 5) -> list[float]:
    return ticks(first, last, count, _clock_spacings())


def log_ticks(first: float, last: float, count: int = 5) -> list[float]:
    """Ticks for a log axis over positive values: 1-2-5 steps within a decade or two,
    powers of ten (every one, then every other, …) across a wider range."""
    low, high = min(first, last), max(first, last)
    for mantissas in ((1, 2, 5), (1, 2), (1,)):
        found = [m * 10.0 ** e for e in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
                 for m in mantissas if low * (1 - 1e-9) <= m * 10.0 ** e <= high * (1 + 1e-9)]
        if 2 <= len(found) <= count:
            return [_clean(v) for v in found]
    decades = [10.0 ** e for e in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)]
    if not decades:  # less than a factor of 2 between the ends: a linear spacing reads fine
        return linear_ticks(low, high, count)
    stride = math.ceil(len(decades) / count)
    return [_clean(v) for v in decades[::stride]]


def short(value: float) -> str:
    """A tick label: `0.05`, `3.5`, `120`, `2k`, `1.5M`, `2e-05`."""
    for divisor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            return f"{value / divisor:.3g}{suffix}"
    return f"{value:.4g}"
