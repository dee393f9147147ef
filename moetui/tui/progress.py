"""How far a run is and how long it has left: plain arithmetic for the runs table."""

from __future__ import annotations

import math


def eta_seconds(step: int, max_steps: int | None, elapsed: float | None, first_step: int = 0) -> float | None:
    """Seconds left at the rate seen so far; None when it cannot be told yet.

    `first_step` is where this segment began (a resumed run starts from its checkpoint,
    and `elapsed` counts only since then)."""
    done = step - first_step
    if not max_steps or elapsed is None or done <= 0 or elapsed <= 0:
        return None
    return max(0.0, (max_steps - step) * elapsed / done)


def clock(seconds: float | None) -> str:
    """`42s`, `3:07`, `1:02:03`; `–` when unknown."""
    if seconds is None:
        return "–"
    total = int(round(seconds))
    if total < 60:
        return f"{total}s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number(value: float | None, decimals: int = 4) -> str:
    """A metric cell: `3.1416`, `212.4`; `1.23e+07` past a million; `–` when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "–"
    if abs(value) >= 1e6:
        return f"{value:.3g}"
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def preparing(history_start: dict | None, prepare: dict | None) -> bool:
    """Is the run preparing its data now: a `prepare` event newer than its last `start`
    (a resumed run prepares again after its first start) and not the final `ready` one."""
    if prepare is None or prepare.get("stage") == "ready":
        return False
    return history_start is None or (prepare.get("t") or 0) > (history_start.get("t") or 0)
