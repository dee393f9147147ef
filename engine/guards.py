"""Divergence guards: a non-finite loss, a loss spike, a throughput collapse, bad weights.

Reading a loss back to the host every step would stall a GPU's queue once per step, so
the loss guards live on the device: a few 0-d tensors that every step updates with
element-wise ops and no host sync. The loop reads them -- one small transfer, together
with the losses it logs -- only on steps that log, evaluate or checkpoint (see `row`).
With train.log_every = N a guard that trips is therefore noticed up to N - 1 steps late;
the step it tripped at is kept on the device, so the reason still names that step.

Throughput needs wall time, which only the host has: it is judged from the time between
two reads (whose sync makes that time true on a GPU too), so its verdict travels in the
next read's row.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

# The loss EMA's horizon is 1 / (1 - EMA_BETA) = 50 steps; the spike rule waits that long
# in every run segment, so that its reference is an average and not the first few losses.
EMA_BETA = 0.98
SPIKE_WARMUP = 50
# Throughput: steps of a segment not judged at all (allocator and cache warm-up, compile),
# then the median of the windows up to THROUGHPUT_WARMUP is the first "typical" tokens/s.
THROUGHPUT_SKIP, THROUGHPUT_WARMUP = 10, 50

NAN_HINT = "lower optim.muon_lr / optim.adamw_lr, lengthen the warmup, or set optim.grad_clip"


@dataclass(frozen=True)
class Trip:
    """Why a run must end diverged: an `error` event's kind, message and hint, and the
    exit reason run.json shows (the message itself)."""
    kind: str  # protocol error kind: nan (non-finite) or diverged (spike, throughput)
    reason: str
    hint: str
    keep_weights: bool = False  # the weights are fine (throughput): checkpoint before ending


class LossGuard:
    """Non-finite losses and loss spikes, tracked on the device.

    A spike: the step's loss above `factor` x the EMA of the losses before it, for `steps`
    consecutive steps. The EMA stands still while the loss is above that line, so that a
    lasting jump cannot drag its own reference up and escape. The state starts afresh in
    each run segment (a resume warms it up again)."""

    def __init__(self, factor: float, steps: int, device: torch.device) -> None:
        self.factor, self.steps = factor, steps
        # float64 keeps step numbers exact past 2**24 steps; MPS has no float64.
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        zero = torch.zeros((), dtype=self.dtype, device=device)
        self.ema = zero
        self.run = zero  # consecutive steps above factor x EMA, up to now
        self.nan_step, self.nan_loss = zero, zero  # the first non-finite loss (step 0 = none yet)
        self.spike_step, self.spike_loss, self.spike_ema = zero, zero, zero  # where the spike rule tripped
        self.updates = 0  # host-side count of steps seen: the warm-up needs no sync

    def update(self, loss: torch.Tensor, step: int) -> None:
        """Fold in the loss of optimizer step `step` (a 0-d tensor on the device)."""
        loss = loss.detach().to(self.dtype)
        first_bad = ~torch.isfinite(loss) & (self.nan_step == 0)
        self.nan_loss = torch.where(first_bad, loss, self.nan_loss)
        self.nan_step = torch.where(first_bad, step, self.nan_step)
        self.updates += 1
        if not self.steps:
            return
        if self.updates == 1:
            self.ema = loss
            return
        high = loss > self.factor * self.ema
        if self.updates > SPIKE_WARMUP:
            self.run = torch.where(high, self.run + 1, 0)
            first_trip = (self.run >= self.steps) & (self.spike_step == 0)
            self.spike_loss = torch.where(first_trip, loss, self.spike_loss)
            self.spike_ema = torch.where(first_trip, self.ema, self.spike_ema)
            self.spike_step = torch.where(first_trip, step, self.spike_step)
        self.ema = torch.where(high, self.ema, EMA_BETA * self.ema + (1 - EMA_BETA) * loss)

    def state(self) -> list[torch.Tensor]:
        """The values a read carries, in `Row`'s order."""
        return [self.nan_step, self.nan_loss, self.run, self.spike_step, self.spike_loss, self.spike_ema]


class ThroughputGuard:
    """Tokens/s below `ratio` x the run's typical tokens/s for `minutes` on end.

    Typical: the median of the windows early in the segment, then an average that, like
    the loss EMA, stands still during slow windows; any window at speed resets the clock."""

    def __init__(self, ratio: float, minutes: float) -> None:
        self.ratio, self.limit_seconds = ratio, minutes * 60
        self.steps = 0  # steps of this segment observed
        self.early: list[float] = []  # tokens/s of the warm-up windows
        self.typical: float | None = None
        self.slow_seconds = 0.0
        self.trip: Trip | None = None

    def observe(self, step: int, steps: int, tokens: int, seconds: float) -> None:
        """One window between reads: `steps` optimizer steps of `tokens` in `seconds` of
        training (evaluation and checkpoints excluded), ending at `step`."""
        self.steps += steps
        if not self.ratio or self.trip is not None or self.steps <= THROUGHPUT_SKIP or seconds <= 0:
            return
        rate = tokens / seconds
        if self.typical is None:
            self.early.append(rate)
            if self.steps >= THROUGHPUT_WARMUP:
                self.typical = statistics.median(self.early)
            return
        if rate >= self.ratio * self.typical:
            self.slow_seconds = 0.0
            # Time-weighted, so that the average spans about ten minutes whatever log_every is.
            self.typical += (1 - math.exp(-seconds / 600)) * (rate - self.typical)
            return
        self.slow_seconds += seconds
        if self.slow_seconds >= self.limit_seconds:
            self.trip = Trip(
                "diverged", f"throughput collapse: {rate:,.0f} tokens/s < {self.ratio:g} x typical "
                f"{self.typical:,.0f} for {self.slow_seconds / 60:.1f} min at step {step}",
                "something else is using the device or the data source slowed down; `moetui resume` continues "
                "from the checkpoint saved now, or set train.min_throughput_ratio=0 to turn this guard off",
                keep_weights=True)


class Row(NamedTuple):
    """One rank's values at a read step: what the loop logs, the loss guard's state, and
    rank 0's host-side votes (the other ranks send 0)."""
    loss: float
    aux_loss: float
    grad_norm: float
    nan_step: float
    nan_loss: float
    run: float
    spike_step: float
    spike_loss: float
    spike_ema: float
    slow: float
    checkpoint_due: float


def row(lm_loss: torch.Tensor, aux_loss: torch.Tensor, grad_norm: torch.Tensor, guard: LossGuard,
        slow: bool, checkpoint_due: bool) -> torch.Tensor:
    """A `Row` as one vector on the rank's device, for the read's single transfer."""
    votes = torch.tensor([float(slow), float(checkpoint_due)], dtype=guard.dtype).to(guard.ema.device)
    values = [lm_loss.detach(), aux_loss.detach(), grad_norm.detach(), *guard.state()]
    return torch.cat([torch.stack([v.to(guard.dtype) for v in values]), votes])


@dataclass(frozen=True)
class Reading:
    """Every rank's rows, judged alike on every rank."""
    loss: float  # mean over ranks
    aux_loss: float
    grad_norm: float  # rank 0's (DDP gives every rank the same gradients)
    spiking: bool  # some rank's loss is above factor x EMA right now: periodic saves wait
    checkpoint_due: bool  # rank 0's wall-time rule
    slow: bool  # rank 0's throughput guard tripped
    trip: Trip | None  # a loss guard tripped on some rank: the one at the earliest step


def judge(rows: list[list[float]], factor: float, spike_steps: int) -> Reading:
    """The gathered vectors of `row`, one per rank, as one verdict."""
    ranks = [Row(*values) for values in rows]
    trips: list[tuple[int, int, int, Trip]] = []  # (step, nan before spike, rank, trip)
    for rank, r in enumerate(ranks):
        where = f" on rank {rank}" if len(ranks) > 1 else ""
        if r.nan_step:
            trips.append((int(r.nan_step), 0, rank, Trip(
                "nan", f"the training loss became {r.nan_loss} at step {int(r.nan_step)}{where}", NAN_HINT)))
        if r.spike_step:
            trips.append((int(r.spike_step), 1, rank, Trip(
                "diverged", f"loss spike: {r.spike_loss:.4g} > {factor:g} x EMA {r.spike_ema:.4g} for {spike_steps} "
                f"steps at step {int(r.spike_step)}{where}",
                f"{NAN_HINT}; or raise train.spike_factor / train.spike_steps if such spikes are expected")))
    first = ranks[0]
    return Reading(loss=sum(r.loss for r in ranks) / len(ranks), aux_loss=sum(r.aux_loss for r in ranks) / len(ranks),
                   grad_norm=first.grad_norm, spiking=any(r.run > 0 for r in ranks),
                   checkpoint_due=first.checkpoint_due > 0, slow=first.slow > 0,
                   trip=min(trips, key=lambda t: t[:3])[3] if trips else None)


def weights_finite(params: list[nn.Parameter]) -> bool:
    """Checked before every checkpoint: a loss can be finite while the update after it was
    not, and a checkpoint must never replace good weights with bad ones. (A host sync, on
    checkpoint steps only.)"""
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())
