"""The metrics a report ranks by, with their direction and how they are shown."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    lower_is_better: bool
    percent: bool  # stored as a fraction, shown in % (absolute deltas in percentage points)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("val_loss", "val loss", True, False),
    Metric("val_accuracy", "val accuracy", False, True),
    Metric("val_perplexity", "val perplexity", True, False),
)}
