"""Learning-rate schedule: a pure function of the optimizer step.

`step` counts optimizer steps (0-based), never micro-batches: with gradient
accumulation the seed project advanced its cosine per micro-batch but stepped it per
optimizer step, so its runs ended near 90% of the peak. Here step max_steps-1 -- the
last update -- always runs at the floor (min_lr_ratio) unless the schedule is constant
or the whole run is warmup.
"""

from __future__ import annotations

import math

from engine.config import Config


def lr_factor(step: int, max_steps: int, warmup_steps: int, decay: str, min_lr_ratio: float) -> float:
    """Multiplier of the peak lr for optimizer step `step` (0-based, < max_steps).

    Warmup rises linearly to 1.0 at step warmup_steps-1 (never 0, so the first update
    moves); decay then runs from 1.0 at step warmup_steps to min_lr_ratio at step max_steps-1."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if decay == "constant":
        return 1.0
    span = max_steps - 1 - warmup_steps
    progress = min(1.0, (step - warmup_steps) / span) if span > 0 else 1.0
    shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if decay == "cosine" else 1.0 - progress
    return min_lr_ratio + (1.0 - min_lr_ratio) * shape


def schedule_factor(cfg: Config, step: int) -> float:
    """lr_factor with the run's settings."""
    s = cfg.schedule
    return lr_factor(step, cfg.train.max_steps, cfg.warmup_steps, s.decay, s.min_lr_ratio)
