"""Report arithmetic: mean ± std over seeds, improvement vs a baseline, Welch's t-test.

Pure functions of numbers so the seed reports' figures can be checked by hand: val loss
7.2785 -> 6.8076 is a 6.5% improvement (0.4709 absolute); accuracy 11.58% -> 14.25% is
+23.1% relative, +2.67 percentage points.
"""

from __future__ import annotations

import math
import warnings
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


def welch_p(baseline: list[float], values: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (`scipy.stats.ttest_ind`, `equal_var=False`) that
    `values` and `baseline` share a mean. None with fewer than two values on a side (no
    noise estimate) or when the test is undefined (both sides without spread, equal means).
    scipy is imported here, not at the top: 0.85 s that a report of single seeds never pays."""
    if len(baseline) < 2 or len(values) < 2:
        return None
    from scipy.stats import ttest_ind

    with warnings.catch_warnings():  # scipy warns of precision loss on near-identical samples
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_ind(values, baseline, equal_var=False).pvalue)
    return p if math.isfinite(p) else None
