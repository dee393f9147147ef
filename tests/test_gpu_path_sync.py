"""A training step queues work and reads nothing back to the host: the guards and losses
stay on the device until a step that emits an event reads them (engine.guards). The one
exception is fp16's skip decision, a flag per step (engine.optim.Optimizers.step); the
per-expert loop reads its group sizes, which is why the grouped path exists.

On CPU a read shows as aten._local_scalar_dense (item, bool, float of a tensor); where
CUDA exists, torch's sync debug mode catches every kind of synchronisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import engine.optim
from engine.config import Config
from engine.data import BatchStream
from engine.guards import LossGuard
from engine.model import MoETransformer, expert_path
from engine.optim import build_optimizers
from engine.precision import Precision, choose_precision
from engine.train import train_step


class HostReads(TorchDispatchMode):
    """Counts the ops that hand a tensor's value to Python."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func is torch.ops.aten._local_scalar_dense.default
        return func(*args, **(kwargs or {}))


def step_setup(device: str, *overrides: str):
    """A MoE, its optimizers as build_optimizers makes them for `device`, a batch stream and
    a loss guard; the first step is taken (lazy state: momenta, AdamW moments, kernels)."""
    cfg = Config().apply_overrides(["model.d_model=64", "model.n_heads=2", "model.n_layers=2", "model.d_ff=128",
                                    "model.max_seq_len=64", "model.dropout=0.1", "train.batch_size=4",
                                    *overrides]).validate()
    torch.manual_seed(0)
    model = MoETransformer(cfg, 512).to(device)
    tokens = np.random.default_rng(0).integers(0, 512, 20_000).astype(np.uint16)
    stream = BatchStream(tokens, 4, 64, seed=0, device=device, prefetch=True)
    return cfg, model, build_optimizers(model, cfg, torch.bfloat16 if device == "cuda" else torch.float32), stream


def test_with_the_kernels_a_gpu_run_uses_a_step_reads_nothing_back_and_fp16_one_flag(monkeypatch):
    monkeypatch.setattr(engine.optim, "adamw_kernel", lambda fused, device_type: {"fused": True})  # CUDA's choice
    _, model, optimizers, stream = step_setup("cpu")
    params, fp32 = list(model.parameters()), Precision("fp32", "cpu", use_scaler=False)
    guard = LossGuard(3.0, 20, torch.device("cpu"))
    for scaler, reads in ((fp32.make_scaler(), 0), (torch.amp.GradScaler("cpu"), 1)):
        train_step(model, stream, optimizers, scaler, fp32, params, accum=2, grad_clip=1.0)
        with HostReads() as host:
            result = train_step(model, stream, optimizers, scaler, fp32, params, accum=2, grad_clip=1.0)
            guard.update(result.lm_loss, step=2)
        assert host.count == reads


@pytest.mark.gpu
def test_a_grouped_bf16_step_at_aligned_shapes_never_synchronises_with_the_host():
    cfg, model, optimizers, stream = step_setup("cuda", "train.ce_chunk_tokens=128")
    device = torch.device("cuda")
    precision = choose_precision(cfg.train, device)
    if expert_path(cfg, device, precision.autocast_dtype).name != "grouped":
        pytest.skip("grouped GEMM needs a bf16 Hopper-class GPU")
    params, scaler = list(model.parameters()), precision.make_scaler()
    guard = LossGuard(3.0, 20, device)
    train_step(model, stream, optimizers, scaler, precision, params, accum=2, grad_clip=1.0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        result = train_step(model, stream, optimizers, scaler, precision, params, accum=2, grad_clip=1.0)
        guard.update(result.lm_loss, step=2)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(result.lm_loss)
