"""Debiased exponential moving average, the smoothing of the run and compare charts.

A plain EMA starts at zero (or at the first value) and lags the first few hundred steps;
dividing by the sum of the weights so far (as Adam debiases its moments and TensorBoard
smooths its scalars) makes the first points exact and the rest unbiased. Non-finite
values (the engine writes a diverged loss as null -> NaN) pass through unsmoothed and
do not poison the average.
"""

from __future__ import annotations

import math
from typing import Sequence


def debiased_ema(values: Sequence[float], strength: float) -> list[float]:
    """Smooth `values`; `strength` in [0, 1): 0 returns the values, 0.99 is very smooth."""
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
    smoothed: list[float] = []
    average, weight = 0.0, 0.0
    for value in values:
        if not math.isfinite(value):
            smoothed.append(value)
            continue
        average = strength * average + (1.0 - strength) * value
        weight = strength * weight + (1.0 - strength)
        smoothed.append(average / weight)
    return smoothed
