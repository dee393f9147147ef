"""Divergence guards and periodic checkpoints: the guard arithmetic on tensors, then the real
engine on tiny quick configs that genuinely blow up (NaN, a loss spike), slow down, or
train healthily -- and where their checkpoints land."""

from __future__ import annotations

import math
import re
import subprocess
import time

import pytest
import torch

from engine.events import EventSink
from engine.guards import SPIKE_WARMUP, THROUGHPUT_WARMUP, LossGuard, ThroughputGuard, judge, row
from engine.rundir import CHECKPOINT_FILE
from engine.train import Trainer
from engine_helpers import (ROOT, engine_env, of_type, quick_config, read_events, read_run_json, train_in_process,
                            write_run)
from moetui.backends.local import engine_command

CPU = torch.device("cpu")


def _feed(guard: LossGuard, losses: list[float], first_step: int = 1) -> None:
    for step, loss in enumerate(losses, first_step):
        guard.update(torch.tensor(loss), step)


def _read(guard: LossGuard, loss: float = 1.0) -> list[float]:
    one = torch.tensor(loss)
    return row(one, one, one, guard, slow=False, checkpoint_due=False).tolist()


# ---- the guard arithmetic ----------------------------------------------------------------
def test_the_first_non_finite_loss_is_kept_with_its_step():
    guard = LossGuard(3.0, 20, CPU)
    _feed(guard, [5.0, 4.0, float("inf"), float("nan"), 4.0])
    reading = judge([_read(guard)], 3.0, 20)
    assert reading.trip.kind == "nan" and reading.trip.reason == "the training loss became inf at step 3"


def test_a_loss_above_factor_x_ema_for_spike_steps_trips_and_the_ema_stands_still_meanwhile():
    guard = LossGuard(3.0, 3, CPU)
    _feed(guard, [2.0] * SPIKE_WARMUP + [7.0, 7.0])  # two high steps: counting, not tripped
    reading = judge([_read(guard)], 3.0, 3)
    assert reading.trip is None and reading.spiking
    _feed(guard, [7.0], SPIKE_WARMUP + 3)
    reading = judge([_read(guard)], 3.0, 3)
    assert reading.trip.kind == "diverged"
    assert reading.trip.reason == f"loss spike: 7 > 3 x EMA 2 for 3 steps at step {SPIKE_WARMUP + 3}"
    assert guard.ema.item() == pytest.approx(2.0)


def test_a_spike_shorter_than_spike_steps_resets_and_a_slow_rise_moves_the_ema():
    guard = LossGuard(3.0, 3, CPU)
    _feed(guard, [2.0] * SPIKE_WARMUP + [7.0, 7.0, 2.0, 7.0, 7.0, 2.0])
    reading = judge([_read(guard)], 3.0, 3)
    assert reading.trip is None and not reading.spiking
    _feed(guard, [5.0] * 100, SPIKE_WARMUP + 7)  # below 3 x EMA at every step: followed, not a spike
    assert guard.ema.item() == pytest.approx(5.0, abs=0.5) and judge([_read(guard)], 3.0, 3).trip is None


def test_no_spike_counts_during_the_warm_up_and_spike_steps_0_turns_the_rule_off():
    warming = LossGuard(3.0, 3, CPU)
    _feed(warming, [2.0] * 10 + [50.0] * (SPIKE_WARMUP - 10))
    assert judge([_read(warming)], 3.0, 3).trip is None
    _feed(warming, [50.0] * 3, SPIKE_WARMUP + 1)  # the same loss once the warm-up is over
    assert judge([_read(warming)], 3.0, 3).trip.reason.endswith(f"for 3 steps at step {SPIKE_WARMUP + 3}")
    off = LossGuard(3.0, 0, CPU)
    _feed(off, [2.0] * SPIKE_WARMUP + [1e6] * 100 + [float("nan")])
    assert judge([_read(off)], 3.0, 0).trip.reason == f"the training loss became nan at step {SPIKE_WARMUP + 101}"


def test_ranks_are_judged_alike_the_earliest_trip_names_its_rank_and_only_rank_0_votes():
    calm, spiking, broken = LossGuard(3.0, 2, CPU), LossGuard(3.0, 2, CPU), LossGuard(3.0, 2, CPU)
    _feed(calm, [2.0] * (SPIKE_WARMUP + 5))
    _feed(spiking, [2.0] * SPIKE_WARMUP + [9.0] * 5)  # tripped at step SPIKE_WARMUP + 2
    _feed(broken, [2.0] * (SPIKE_WARMUP + 4) + [float("nan")])
    one = torch.tensor(1.0)
    rank_0 = row(torch.tensor(2.0), one, torch.tensor(0.5), calm, slow=True, checkpoint_due=True).tolist()
    reading = judge([rank_0, _read(broken, 4.0), _read(spiking, 6.0)], 3.0, 2)
    assert reading.loss == pytest.approx(4.0) and reading.grad_norm == 0.5
    assert reading.slow and reading.checkpoint_due and reading.spiking
    assert reading.trip.reason == f"loss spike: 9 > 3 x EMA 2 for 2 steps at step {SPIKE_WARMUP + 2} on rank 2"
    votes_of_rank_1 = row(one, one, one, calm, slow=True, checkpoint_due=True).tolist()
    reading = judge([_read(calm), votes_of_rank_1], 3.0, 2)
    assert not (reading.slow or reading.checkpoint_due or reading.spiking) and reading.trip is None


def test_throughput_below_ratio_x_typical_for_the_window_trips_and_a_window_at_speed_resets_it():
    guard = ThroughputGuard(0.5, 0.1)  # 6 s
    step = 0
    for _ in range(THROUGHPUT_WARMUP):  # typical: 1000 tokens/s
        step += 1
        guard.observe(step, 1, 1000, 1.0)
    for rate in [400] * 5 + [900] + [400] * 5:  # 5 s slow, reset at 900 (>= 500), 5 s slow
        step += 1
        guard.observe(step, 1, rate, 1.0)
    assert guard.trip is None and guard.typical == pytest.approx(1000, rel=0.01)
    guard.observe(step + 1, 1, 400, 1.0)
    assert guard.trip.keep_weights and guard.trip.reason == (
        f"throughput collapse: 400 tokens/s < 0.5 x typical 1,000 for 0.1 min at step {step + 1}")
    off = ThroughputGuard(0.0, 0.0)
    for step in range(1, 200):
        off.observe(step, 1, 1 if step > 100 else 1000, 1.0)
    assert off.trip is None


# ---- the real engine -----------------------------------------------------------------------
def _steps_of(events, type):
    return [e["step"] for e in of_type(events, type)]


def test_a_huge_learning_rate_ends_the_run_diverged_at_the_nan_without_a_checkpoint_after_it(tmp_path,
                                                                                            token_cache_dir):
    """AdamW at lr 1 with weight decay 10: each step multiplies the weights by 1 - lr x wd =
    -9, the loss grows by orders of magnitude per step, and within a few steps the weights or
    the loss overflow -- whichever comes first ends the run."""
    cfg = quick_config(token_cache_dir, "optim.optimizer=adamw", "optim.adamw_lr=1", "optim.weight_decay=10",
                       "train.max_steps=60", "train.checkpoint_every=2")
    run_dir = tmp_path / "nan"
    code, events = train_in_process(run_dir, cfg)
    assert code == 5
    (error,) = of_type(events, "error")
    assert error["kind"] == "nan" and "lr" in error["hint"]
    found = re.match(r"the (?:training loss|weights) became (?:nan|inf|non-finite) at step (\d+)", error["message"])
    assert found, error["message"]
    nan_step = int(found[1])
    assert 1 < nan_step < 60 and events[-1]["status"] == "diverged" and events[-1]["step"] == nan_step
    record = read_run_json(run_dir)
    assert record["status"] == "diverged" and record["exit_reason"] == error["message"]
    saved = _steps_of(events, "checkpoint")
    assert saved and saved == list(range(2, nan_step, 2))
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    assert checkpoint["progress"]["step"] == saved[-1]
    assert all(torch.isfinite(w).all() for w in checkpoint["model"].values())


def test_a_learning_rate_ramping_too_high_trips_the_default_spike_guard_before_any_nan(tmp_path, token_cache_dir):
    """AdamW warming up to lr 1.0 over the whole run: the loss falls, then climbs to
    dozens. The default guard (3 x EMA for 20 steps) ends the run; no periodic checkpoint
    is taken once the loss is above the line."""
    cfg = quick_config(token_cache_dir, "optim.optimizer=adamw", "optim.adamw_lr=1.0", "optim.grad_clip=0",
                       "schedule.warmup_ratio=0", "schedule.warmup_steps=150", "train.max_steps=150",
                       "train.checkpoint_every=10")
    assert (cfg.train.spike_factor, cfg.train.spike_steps) == (3.0, 20)
    run_dir = tmp_path / "spike"
    code, events = train_in_process(run_dir, cfg)
    assert code == 5
    (error,) = of_type(events, "error")
    found = re.fullmatch(r"loss spike: ([\d.]+) > 3 x EMA ([\d.]+) for 20 steps at step (\d+)", error["message"])
    assert error["kind"] == "diverged" and found, error["message"]
    loss, ema, step = float(found[1]), float(found[2]), int(found[3])
    assert read_run_json(run_dir)["exit_reason"] == error["message"] and events[-1]["status"] == "diverged"
    losses = {e["step"]: e["loss"] for e in of_type(events, "step")}
    assert max(losses) == step - 1  # log_every 1: the guard was read at every step
    assert all(losses[s] > 3 * ema for s in range(step - 19, step)) and loss > 3 * ema
    assert losses[step - 20] <= 3 * ema  # the spike began 19 steps before the trip
    assert all(math.isfinite(v) for v in losses.values())
    assert _steps_of(events, "checkpoint") and max(_steps_of(events, "checkpoint")) < step - 19


def test_a_healthy_run_with_the_default_guards_completes_and_checkpoints_at_its_cadence(tmp_path, token_cache_dir):
    cfg = quick_config(token_cache_dir, "train.max_steps=120", "train.checkpoint_every=25")
    assert cfg.train.checkpoint_minutes == 10.0 and cfg.train.min_throughput_ratio == 0.0
    code, events = train_in_process(tmp_path / "healthy", cfg)
    assert code == 0 and not of_type(events, "error") and events[-1]["status"] == "completed"
    assert _steps_of(events, "checkpoint") == [25, 50, 75, 100, 120]


def test_the_wall_time_rule_saves_on_the_steps_that_log(tmp_path, token_cache_dir):
    """Every read step is past 0.06 ms since the last save; steps that do not log are not read."""
    cfg = quick_config(token_cache_dir, "train.max_steps=10", "train.checkpoint_every=0",
                       "train.checkpoint_minutes=0.000001", "train.log_every=3")
    code, events = train_in_process(tmp_path / "timed", cfg)
    assert code == 0 and _steps_of(events, "checkpoint") == [3, 6, 9, 10]
    assert _steps_of(events, "step") == [3, 6, 9, 10]


def test_non_finite_weights_are_never_saved_over_the_last_good_checkpoint(tmp_path, token_cache_dir):
    """Weights poisoned after step 4's loss was computed (as an overflowing update leaves
    them): the save at step 4 is refused and the run ends diverged."""
    cfg = quick_config(token_cache_dir, "train.max_steps=10", "train.checkpoint_every=2")
    events = []

    def poison_at_step_4(event):
        events.append(event)
        if event["type"] == "step" and event["step"] == 4:
            trainer.model.embed.weight.data[0, 0] = float("inf")

    trainer = Trainer(cfg, tmp_path, torch.device("cpu"), EventSink(None, None, [poison_at_step_4]))
    outcome = trainer.run()
    assert outcome.status == "diverged"
    assert outcome.reason == "the weights became non-finite at step 4; checkpoint.pt still holds step 2"
    assert of_type(events, "error")[0]["kind"] == "nan" and _steps_of(events, "checkpoint") == [2]
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["progress"]["step"] == 2


def test_a_data_source_that_slows_down_trips_the_throughput_guard_and_the_weights_are_kept(tmp_path,
                                                                                             token_cache_dir):
    """From step 51 (the first the guard judges) the batches arrive 20 x slower than the
    steps took so far: tokens/s falls below 0.1 x typical, and the run ends with a
    checkpoint to resume from."""
    cfg = quick_config(token_cache_dir, "train.max_steps=100", "train.min_throughput_ratio=0.1",
                       "train.throughput_minutes=0")
    events = []

    def slow_down_after_step_50(event):
        events.append(event)
        if event["type"] == "step" and event["step"] == THROUGHPUT_WARMUP:
            rates = sorted(e["tokens_per_s"] for e in of_type(events, "step")[10:])
            step_seconds = cfg.tokens_per_step / rates[len(rates) // 2]
            fast_next = trainer.stream.next

            def slow_next():
                time.sleep(20 * step_seconds)
                return fast_next()
            trainer.stream.next = slow_next

    trainer = Trainer(cfg, tmp_path, CPU, EventSink(None, None, [slow_down_after_step_50]))
    outcome = trainer.run()
    assert outcome.status == "diverged"
    (error,) = of_type(events, "error")
    found = re.fullmatch(r"throughput collapse: ([\d,]+) tokens/s < 0.1 x typical ([\d,]+) for [\d.]+ min at step 51",
                         error["message"])
    assert error["kind"] == "diverged" and found and outcome.reason == error["message"], error["message"]
    slow, typical = (int(found[i].replace(",", "")) for i in (1, 2))
    assert slow < 0.1 * typical
    # The verdict on a window reaches the loop with the next read: the run ends one step later, saved.
    assert events[-1]["step"] == 52 == _steps_of(events, "checkpoint")[-1]


@pytest.mark.slow
def test_two_ranks_end_diverged_together_with_one_reason(tmp_path, token_cache_dir):
    """Under torchrun every rank judges the same gathered rows, so all leave the loop at the
    same step (a rank left behind would wait in a collective until the test's timeout)."""
    run_dir = tmp_path / "ddp"
    write_run(run_dir, quick_config(token_cache_dir, "optim.optimizer=adamw", "optim.adamw_lr=1",
                                    "optim.weight_decay=10", "train.max_steps=60", "train.checkpoint_every=2",
                                    "train.batch_size=2"))
    process = subprocess.run(engine_command(run_dir, False, 2), capture_output=True, text=True, timeout=180,
                             env={**engine_env(), "OMP_NUM_THREADS": "1"}, cwd=ROOT)
    events = read_events(run_dir)
    (error,) = of_type(events, "error")
    (end,) = of_type(events, "end")
    assert error["kind"] == "nan" and end["status"] == "diverged", process.stderr[-3000:]
    assert f"at step {end['step']}" in error["message"] and max(_steps_of(events, "checkpoint")) < end["step"]
    record = read_run_json(run_dir)
    assert record["status"] == "diverged" and record["exit_reason"] == error["message"]
    assert "[rank 1] model:" in process.stderr  # both ranks trained; both ended (exit status 5, torchrun's report)
