"""The lr schedule counts optimizer steps and ends on its floor."""

from __future__ import annotations

import math

import pytest

from engine.config import Config
from engine.schedule import lr_factor, schedule_factor


def test_warmup_rises_linearly_and_never_starts_at_zero():
    assert [lr_factor(s, 100, 4, "cosine", 0.1) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]


@pytest.mark.parametrize("decay, midpoint", [("cosine", 0.55), ("linear", 0.55), ("constant", 1.0)])
def test_decay_shapes_at_known_steps(decay, midpoint):
    # warmup 10, max 111: decay runs over steps 10..110, midpoint at step 60
    assert lr_factor(10, 111, 10, decay, 0.1) == pytest.approx(1.0)
    assert lr_factor(60, 111, 10, decay, 0.1) == pytest.approx(midpoint)
    assert lr_factor(110, 111, 10, decay, 0.1) == pytest.approx(1.0 if decay == "constant" else 0.1)


def test_cosine_quarter_point():
    expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.25))
    assert lr_factor(25, 101, 0, "cosine", 0.1) == pytest.approx(expected)


@pytest.mark.parametrize("accum", [1, 4])
def test_the_last_optimizer_step_runs_at_the_floor_whatever_the_accumulation(accum):
    """The seed advanced its cosine per micro-batch but stepped per optimizer step and
    ended near 90% of the peak; ours is a function of the optimizer step alone."""
    cfg = Config().apply_overrides(["train.max_steps=500", f"train.gradient_accumulation_steps={accum}",
                                    "schedule.min_lr_ratio=0.1"]).validate()
    factors = [schedule_factor(cfg, s) for s in range(cfg.train.max_steps)]
    assert factors[-1] == pytest.approx(0.1)
    assert max(factors) == pytest.approx(1.0) and factors.index(max(factors)) == cfg.warmup_steps - 1
    assert all(a >= b for a, b in zip(factors[cfg.warmup_steps:], factors[cfg.warmup_steps + 1:]))


def test_a_run_that_is_all_warmup_ends_at_the_peak():
    assert lr_factor(9, 10, 10, "cosine", 0.1) == 1.0
