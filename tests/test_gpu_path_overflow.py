"""fp16 steps that overflow: one skip decision for all optimizers. The gradient scaler runs
on CPU too, so the overflow of a CUDA fp16 run is simulated here with an inf in the
embedding's gradient alone."""

from __future__ import annotations

import numpy as np
import torch

from engine.config import Config
from engine.data import BatchStream
from engine.model import MoETransformer
from engine.optim import build_optimizers
from engine.precision import Precision
from engine.train import train_step

FP32 = Precision("fp32", "cpu", use_scaler=False)


def tiny_setup():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32",
                                    "model.max_seq_len=16", "model.dropout=0"]).validate()
    torch.manual_seed(0)
    model = MoETransformer(cfg, 50)
    tokens = np.random.default_rng(0).integers(0, 50, 4096).astype(np.uint16)
    return model, build_optimizers(model, cfg), BatchStream(tokens, 4, 16, seed=0)


def snapshot(model, optimizers) -> list[torch.Tensor]:
    """Every weight and every optimizer state tensor (Muon momentum, AdamW moments and steps)."""
    states = [v for opt in optimizers.optimizers for s in opt.state.values() for v in s.values()]
    return [t.detach().clone() for t in [*model.parameters(), *states]]


def test_an_inf_only_in_the_embedding_gradient_skips_muon_and_adamw_and_lowers_the_scale():
    model, optimizers, stream = tiny_setup()
    muon, adamw = optimizers.optimizers
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    params = list(model.parameters())
    train_step(model, stream, optimizers, scaler, FP32, params, accum=1, grad_clip=1.0)  # a healthy step first
    assert muon.state and adamw.state and scaler.get_scale() == 1024.0
    before = snapshot(model, optimizers)

    overflow = model.embed.weight.register_hook(lambda g: g.index_fill(0, torch.tensor([0]), float("inf")))
    result = train_step(model, stream, optimizers, scaler, FP32, params, accum=1, grad_clip=1.0)
    overflow.remove()
    assert not torch.isfinite(result.grad_norm)
    after = snapshot(model, optimizers)
    assert len(after) == len(before) and all(torch.equal(a, b) for a, b in zip(after, before))
    assert scaler.get_scale() == 512.0

    train_step(model, stream, optimizers, scaler, FP32, params, accum=1, grad_clip=1.0)  # and training goes on
    moved = snapshot(model, optimizers)
    assert not torch.equal(moved[0], after[0])  # the embedding (AdamW)
    muon_weight = next(i for i, p in enumerate(model.parameters()) if p is muon.param_groups[0]["params"][0])
    assert not torch.equal(moved[muon_weight], after[muon_weight])


def test_without_a_scaler_the_step_needs_no_decision_and_steps_every_optimizer():
    model, optimizers, stream = tiny_setup()
    before = [p.detach().clone() for p in model.parameters()]
    train_step(model, stream, optimizers, FP32.make_scaler(), FP32, list(model.parameters()), accum=1, grad_clip=1.0)
    assert all(not torch.equal(p, b) for p, b in zip(model.parameters(), before) if p.ndim >= 2)
