"""One path of the benchmark, measured: the model, optimizers and step the run would train
with, on random tokens, after its own warm-up.

Three timed passes of the same number of steps:
  quiet   no host read until the last step (train.log_every large): the device runs ahead
  read    the loop's read on every step (train.log_every = 1): one host sync a step
  split   a device sync at each phase boundary, to say where a step's time goes: data
          (the wait for a batch: its cut, unless train.prefetch cut it already, and its copy),
          optimizer (the optimizers' step(): Muon's Newton-Schulz, AdamW) and forward +
          backward (the rest: zero_grad, the micro-batches, unscale, clip)
The syncs make the split pass slower than the quiet one; its parts are for proportions,
tokens/s comes from the first two passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.batches import BatchStream
from engine.bench_device import PeakMemory, synchronize
from engine.bench_paths import BenchPath
from engine.config import Config
from engine.guards import judge, row
from engine.model import expert_path
from engine.precision import Precision, choose_precision
from engine.schedule import schedule_factor
from engine.train import StepResult, build_parts, train_step


@dataclass(frozen=True)
class Measured:
    """A path's raw figures; engine.bench_report turns them into rates and ratios."""
    dtype: str
    experts: str  # how the expert FFNs ran (engine.moe.ExpertPath): grouped, grouped+padded, loop, dense
    experts_why: str
    params_total: int
    params_active: int
    quiet_s: float  # seconds of `steps` steps without a per-step read
    read_s: float  # ... with the read on every step
    split_s: dict[str, float]  # forward_backward, optimizer, data: seconds over `steps` steps
    peak_memory_bytes: int


class _PhaseClock:
    """Seconds spent in data and in the optimizers, each phase fenced by device syncs."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.data, self.optimizer = device, 0.0, 0.0
        self._since = 0.0

    def start(self) -> None:
        synchronize(self.device)
        self._since = time.perf_counter()

    def elapsed(self) -> float:
        synchronize(self.device)
        return time.perf_counter() - self._since

    def optimizer_start(self, *_: Any) -> None:  # an optimizer step pre-hook
        self.start()

    def optimizer_end(self, *_: Any) -> None:  # ... and post-hook
        self.optimizer += self.elapsed()


class _TimedStream:
    """A BatchStream whose `next` counts into the clock's data time."""

    def __init__(self, stream: BatchStream, clock: _PhaseClock) -> None:
        self.stream, self.clock = stream, clock

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.clock.start()
        batch = self.stream.next()
        self.clock.data += self.clock.elapsed()
        return batch


class _Steps:
    """Optimizer steps as the training loop takes them: lr from the schedule, `train_step`,
    the loss guard's device-side update, and the read on the steps that read."""

    def __init__(self, cfg: Config, vocab: int, device: torch.device, precision: Precision,
                 tokens: np.ndarray) -> None:
        t = cfg.train
        self.cfg, self.device, self.precision, self.step = cfg, device, precision, 0
        torch.manual_seed(t.seed)
        parts = build_parts(cfg, vocab, tokens, device, precision)
        self.model, self.optimizers, self.scaler = parts.model, parts.optimizers, parts.scaler
        self.stream = parts.stream
        self.params, self.guard = parts.params, parts.loss_guard

    def take(self, stream: BatchStream | _TimedStream) -> StepResult:
        self.optimizers.set_lr(schedule_factor(self.cfg, self.step))
        result = train_step(self.model, stream, self.optimizers, self.scaler, self.precision, self.params,
                            self.cfg.train.gradient_accumulation_steps, self.cfg.optim.grad_clip)
        self.step += 1
        self.guard.update(result.lm_loss, self.step)
        return result

    def read(self, result: StepResult) -> None:
        """The loop's read (engine.train `Trainer._read`, one process): one transfer, then the guards."""
        t = self.cfg.train
        judge([row(result.lm_loss, result.aux_loss, result.grad_norm, self.guard, False, False).tolist()],
              t.spike_factor, t.spike_steps)

    def timed(self, steps: int, read_every_step: bool) -> float:
        """Seconds for `steps` steps; the last is always read, so the device has finished them."""
        synchronize(self.device)
        start = time.perf_counter()
        for i in range(steps):
            result = self.take(self.stream)
            if read_every_step or i == steps - 1:
                self.read(result)
        return time.perf_counter() - start

    def split(self, steps: int) -> dict[str, float]:
        clock = _PhaseClock(self.device)
        stream = _TimedStream(self.stream, clock)
        hooks = [hook for opt in self.optimizers.optimizers
                 for hook in (opt.register_step_pre_hook(clock.optimizer_start),
                              opt.register_step_post_hook(clock.optimizer_end))]
        try:
            synchronize(self.device)
            start = time.perf_counter()
            for _ in range(steps):
                self.take(stream)
            synchronize(self.device)
            total = time.perf_counter() - start
        finally:
            for hook in hooks:
                hook.remove()
        return {"forward_backward": total - clock.optimizer - clock.data, "optimizer": clock.optimizer,
                "data": clock.data}


def measure(path: BenchPath, vocab: int, device: torch.device, tokens: np.ndarray, steps: int,
            warmup: int) -> Measured:
    """`path` after `warmup` untimed steps (allocator, cuBLAS handles, torch.compile), then the
    three passes of `steps` steps; memory is the peak over all of it."""
    precision = choose_precision(path.cfg.train, device)
    with PeakMemory(device) as memory:
        run = _Steps(path.cfg, vocab, device, precision, tokens)
        run.timed(warmup, read_every_step=True)
        quiet = run.timed(steps, read_every_step=False)
        read = run.timed(steps, read_every_step=True)
        split = run.split(steps)
        total, active = run.model.param_counts()
        del run  # before the block ends, so the next path's peak starts from an empty device
    experts = expert_path(path.cfg, device, precision.autocast_dtype)
    return Measured(precision.name, experts.name, experts.reason, total, active, quiet, read, split, memory.peak)
