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
    return "".join(block(share, len(shares)) for share in shares)


def block(share: float, experts: int) -> str:
    """A share as a block of one of 8 heights, full at 2/experts (twice the fair share) or more."""
    return BARS[min(len(BARS) - 1, int(share * experts / 2.0 * (len(BARS) - 1) + 0.5))]


DEAD_OF_FAIR = 0.02  # an expert routed under 2% of its fair share (1/E) is as good as dead


def dead(shares: Sequence[float]) -> list[bool]:
    """Per expert: does it get next to no tokens?"""
    return [share < DEAD_OF_FAIR / len(shares) for share in shares]


def dominant(shares: Sequence[float], top_k: int) -> list[bool]:
    """Per expert: does it take most tokens? Shares are of the top-k assignments (a layer's sum
    to 1), so an expert every token picks has 1/top_k: more than half the tokens is
    share x top_k > 0.5. And at least twice its fair share (2/E), since with top-2 of 4
    experts every expert fairly sees half the tokens."""
    return [share * top_k > 0.5 and share >= 2.0 / len(shares) for share in shares]


def history_line(shares: Sequence[float], experts: int, width: int) -> str:
    """One expert's share over time as a sparkline of at most `width` blocks (scaled as `bars`):
    evenly picked from the whole span when there are more, the newest always last."""
    if len(shares) > width > 1:
        last = len(shares) - 1
        shares = [shares[round(i * last / (width - 1))] for i in range(width)]
    return "".join(block(share, experts) for share in shares)
