"""Thin a long series for drawing: a chart a few dozen cells wide needs no 10,000 points.

Min/max per bucket rather than every n-th point, so a loss spike or a divergence stays
visible however long the run. Only what is drawn is thinned; the stored history is not.
"""

from __future__ import annotations

import math
from typing import Sequence


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int) -> tuple[list[float], list[float]]:
    """At most `max_points` (x, y) pairs, in x order: per bucket its lowest and highest y,
    plus the very last point (the newest value is what a live chart must show)."""
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    buckets = (max_points - 1) // 2
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo, hi = b * (n - 1) // buckets, (b + 1) * (n - 1) // buckets
        finite = [i for i in range(lo, hi) if math.isfinite(ys[i])]
        if not finite:
            continue
        i_min = min(finite, key=ys.__getitem__)
        i_max = max(finite, key=ys.__getitem__)
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    out_x.append(xs[-1])
    out_y.append(ys[-1])
    return out_x, out_y
