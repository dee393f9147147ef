"""Data-parallel training across the processes torchrun starts (one per GPU).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them the engine is a world of
one and nothing here talks to anyone. With them every rank builds the same model (same
seed), trains on its own slice of each global batch (see `engine.batches`), and
DistributedDataParallel averages the gradients while backward runs; on all but the last
micro-batch of gradient accumulation the all-reduce is skipped (`no_sync`), so one
optimizer step costs one gradient all-reduce, as for a single device.

The DDP wrapper fits this model as it is: the experts of a layer are stacked 3-D
parameters, so an expert that gets no tokens still receives a (zero) gradient slice and
no parameter is ever unused (no `find_unused_parameters`, no extra pass over the
graph); the dataclass the model returns needs no unpacking since DDP then never
inspects it. One thing is per rank, as in every data-parallel MoE without extra
communication: the load-balancing loss sees the rank's own expert shares, so with
moe.load_balancing_weight > 0 two ranks of B train slightly differently from one of 2B.

Only rank 0 writes: events, run.json and checkpoints. What every rank must agree on --
the losses and divergence guards, rank 0's wall-time checkpoint rule, a stop request, the
expert load -- goes through small collectives at the same steps on every rank, so that all
ranks decide alike and leave the loop together. Rank 0 evaluates alone with the unwrapped
model; the others wait in the next collective.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

# A rank that evaluates or checkpoints keeps the others waiting in the next all-reduce;
# a generous timeout turns a dead peer into an error instead of a hang.
_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks; the default is a run on one device."""
    rank: int = 0  # 0 speaks for the run: events, run.json, checkpoints
    size: int = 1
    local_rank: int = 0  # the GPU index on this machine

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


def stop_pid(world: World) -> int:
    """The process that run.json names, which a stop signals: under torchrun its agent (this
    rank's parent), which forwards the signal to every rank; otherwise this process. (Ranks
    started some other way stop with rank 0: they vote before each step.)"""
    return os.getppid() if world.distributed and "TORCHELASTIC_RUN_ID" in os.environ else os.getpid()


def wrap(model: nn.Module, device: torch.device) -> nn.parallel.DistributedDataParallel:
    """The module that training calls; building it broadcasts rank 0's weights, which the
    shared seed already made equal. The only buffers, RoPE tables, are constants: no
    broadcast of them in every forward, which would cost a collective per micro-batch."""
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # torch 2.13 renamed broadcast_buffers (now deprecated, with a warning) to forward_sync_buffers.
    renamed = "forward_sync_buffers" in inspect.signature(ddp).parameters
    return ddp(model, device_ids=ids, **{"forward_sync_buffers" if renamed else "broadcast_buffers": False})


def micro_batch_sync(module: nn.Module | None, last: bool) -> contextlib.AbstractContextManager:
    """Skip the gradient all-reduce on every micro-batch but the step's last one."""
    if last or not isinstance(module, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return module.no_sync()


def rank_seed(seed: int, rank: int, step: int) -> int:
    """The torch seed of a rank other than 0 from `step` on, after the shared seed built the
    model and a resume restored rank 0's generator: its own dropout masks and router noise."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


def gather_rows(world: World, row: torch.Tensor) -> list[list[float]]:
    """Every rank's `row` (engine.guards.Row: losses, guard state, rank 0's votes) on every
    rank, on the host: the loop's one host sync, on the steps that log, evaluate or
    checkpoint. A gather, not a sum, so that each rank judges all rows alike and the reason
    names the rank and step where a guard tripped."""
    if not world.distributed:
        return [row.tolist()]
    rows = [torch.empty_like(row) for _ in range(world.size)]
    dist.all_gather(rows, row)
    return torch.stack(rows).tolist()


def any_rank(world: World, flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on one: a stop request ends all ranks before the
    same step. A vote of its own before each step, not a passenger on the loss all-reduce
    after it: a request that arrives while step N evaluates or checkpoints then stops the
    run before step N+1, exactly as on one device."""
    if not world.distributed:
        return flag
    votes = torch.tensor([float(flag)], device=device)
    dist.all_reduce(votes)
    return votes.item() > 0


def wait_for_all(world: World) -> None:
    """Hold every rank at the end of the loop until rank 0 has done its last evaluation and
    checkpoint: a rank that left meanwhile (destroying its process group) got gloo to abort
    it, and torchrun then reported the finished run as failed."""
    if world.distributed:
        dist.barrier()


def sum_over_ranks(world: World, counts: torch.Tensor) -> torch.Tensor:
    """Expert assignments of every rank, so the load shown is that of the global batch."""
    if world.distributed:
        counts = counts.clone()
        dist.all_reduce(counts)
    return counts
