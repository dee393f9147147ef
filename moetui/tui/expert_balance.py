"""Expert load in numbers: how evenly each MoE layer spreads its tokens.

`balance` is the normalised entropy of a layer's shares: 1.0 when every expert gets the
same share, towards 0 as routing collapses onto a few experts."""

from __future__ import annotations

import math
from typing import Sequence

BARS = "▁▂▃▄▅▆▇█"
COLLAPSE_BALANCE = 0.5  # below this a layer is shown as collapsing


def balance(shares: Sequence[float]) -> float:
    total = sum(shares)
    if len(shares) < 2 or total <= 0:
        return 1.0
    probs = [s / total for s in shares if s > 0]
    return -sum(p * math.log(p) for p in probs) / math.log(len(shares))


def bars(shares: Sequence[float]) -> str:
    """One block per expert, full height at a share of 2/E (twice its fair share) or more."""
    if not shares:
        return ""
    full = 2.0 / len(shares)
    return "".join(BARS[min(len(BARS) - 1, int(share / full * (len(BARS) - 1) + 0.5))] for share in shares)
