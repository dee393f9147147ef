"""Report arithmetic: mean ± std over seeds, improvement vs a baseline, the noise test.

Pure functions of numbers so the seed reports' figures can be checked by hand: val loss
7.2785 -> 6.8076 is a 6.5% improvement (0.4709 absolute); accuracy 11.58% -> 14.25% is
+23.1% relative, +2.67 percentage points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean, stdev


@dataclass(frozen=True)
class Stat:
    """A metric over the seeds of one variant; `std` is None below two values (no spread known)."""

    mean: float
    std: float | None
    n: int


def summarize(values: list[float | None]) -> Stat | None:
    """Mean and sample standard deviation of the finite values; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return Stat(fmean(finite), stdev(finite) if len(finite) > 1 else None, len(finite))


@dataclass(frozen=True)
class Delta:
    """Change from the baseline with the sign convention of the report: positive = better.

    `relative` is in percent of the baseline value; `absolute` is in the metric's own units
    (a loss reduction for lower-is-better metrics, an increase for higher-is-better ones)."""

    relative: float
    absolute: float


def improvement(baseline: float, value: float, lower_is_better: bool) -> Delta:
    gain = baseline - value if lower_is_better else value - baseline
    relative = gain / abs(baseline) * 100 if baseline else math.nan  # no percentage of zero
    return Delta(relative, gain)


def seed_spread(a: Stat, b: Stat) -> float | None:
    """Seed-to-seed standard deviation to compare a difference of means against: the root
    mean square of the spreads that are known (a variant with one seed has none)."""
    known = [s.std for s in (a, b) if s.std is not None]
    return math.sqrt(sum(s * s for s in known) / len(known)) if known else None


def within_noise(a: Stat, b: Stat) -> bool | None:
    """True when the means differ by no more than the seed-to-seed spread; None when no
    spread is known (every side ran one seed), so the difference cannot be tested."""
    spread = seed_spread(a, b)
    return None if spread is None else abs(a.mean - b.mean) <= spread
