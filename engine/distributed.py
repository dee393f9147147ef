"""Data-parallel training across the processes torchrun starts (one per GPU).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them the engine is a world of
one and nothing here talks to anyone. With them every rank builds the same model (same
seed), trains on its own slice of each global batch (see `engine.batches`), and
DistributedDataParallel averages the gradients while backward runs; on all but the last
micro-batch of gradient accumulation the all-reduce is skipped (`no_sync`), so one
optimizer step costs one all-reduce, as for a single device.

Only rank 0 writes: events, run.json and checkpoints. What every rank must agree on —
the step's loss (for divergence), a stop request, the expert load — goes through small
all-reduces, so that all ranks leave the loop after the same step.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

# A rank that evaluates or checkpoints keeps the others waiting in the next all-reduce;
# a generous timeout turns a dead peer into an error instead of a hang.
_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "World":
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def join(world: World, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU); the device this rank trains on."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=_TIMEOUT,
                            device_id=device if device.type == "cuda" else None)
    return device


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The module that training calls. Buffers (RoPE tables) are constants, so they are not
    re-broadcast each forward: that would also make rank 0's evaluation a collective."""
    if not world.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def micro_batch_sync(module: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    """Skip the gradient all-reduce on every micro-batch but the step's last one."""
    if last or not isinstance(module, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return module.no_sync()


def mean_loss(world: World, loss: torch.Tensor) -> float:
    """The step's loss averaged over ranks, on the host (the step's one host sync), so that
    every rank reports the same number and judges divergence alike."""
    if world.distributed:
        loss = loss.detach().clone()
        dist.all_reduce(loss)
        loss /= world.size
    return loss.item()


def any_rank(world: World, flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on one: a stop request ends all ranks after the same step."""
    if not world.distributed:
        return flag
    votes = torch.tensor([float(flag)], device=device)
    dist.all_reduce(votes)
    return votes.item() > 0


def sum_over_ranks(world: World, counts: torch.Tensor) -> torch.Tensor:
    """Expert assignments of every rank, so the load shown is that of the global batch."""
    if world.distributed:
        counts = counts.clone()
        dist.all_reduce(counts)
    return counts
