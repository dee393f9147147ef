"""Muon, the parameter grouping, and gradient accumulation."""

from __future__ import annotations

import math

import pytest
import torch

from engine.config import Config
from engine.model import MoETransformer
from engine.optim import Muon, Optimizers, build_optimizers, newton_schulz
from engine.precision import choose_precision
from engine.train import train_step


def singular_values(m: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(m.double())


@pytest.mark.parametrize("shape", [(64, 64), (32, 96), (96, 32)])
def test_newton_schulz_maps_singular_values_spread_over_30x_to_about_one(shape):
    """U diag(s) V^T with s from 0.1 to 3 comes out with every singular value in ~[0.7, 1.2]
    and the same singular vectors: the quintic's designed band after 5 steps."""
    torch.manual_seed(0)
    m, n = shape
    u, _ = torch.linalg.qr(torch.randn(m, min(m, n)))
    v, _ = torch.linalg.qr(torch.randn(n, min(m, n)))
    g = u @ torch.diag(torch.logspace(-1, math.log10(3), min(m, n))) @ v.T
    ortho = newton_schulz(g, steps=5)
    s = singular_values(ortho)
    assert s.min() > 0.65 and s.max() < 1.25, s
    core = u.T @ ortho @ v  # diagonal: the singular vectors are kept, only the values move
    assert torch.allclose(core, torch.diag(core.diagonal()), atol=1e-4)


def test_newton_schulz_of_a_batch_equals_each_matrix_alone():
    torch.manual_seed(0)
    batch = torch.randn(5, 24, 40)
    together = newton_schulz(batch, steps=5)
    for i in range(5):
        assert torch.allclose(together[i], newton_schulz(batch[i], steps=5), atol=1e-5)


def test_a_muon_step_moves_each_matrix_by_a_scaled_near_orthogonal_update():
    """First step from zero momentum: update = NS(g + 0.95 g) * lr * max(1, out/in)^0.5,
    batched over a 3-D (experts, out, in) weight."""
    torch.manual_seed(0)
    tall = torch.nn.Parameter(torch.randn(64, 16))
    experts = torch.nn.Parameter(torch.randn(4, 16, 32))
    before = tall.detach().clone(), experts.detach().clone()
    tall.grad, experts.grad = torch.randn(64, 16), torch.randn(4, 16, 32)
    Muon([tall, experts], lr=0.1, momentum=0.95).step()

    delta_tall = (before[0] - tall.detach()) / (0.1 * 2.0)  # scale sqrt(64/16)
    s = singular_values(delta_tall)
    assert s.min() > 0.6 and s.max() < 1.3
    for e in range(4):
        s = singular_values((before[1][e] - experts.detach()[e]) / 0.1)  # wide: scale 1
        assert s.min() > 0.6 and s.max() < 1.3


def test_newton_schulz_in_fp16_still_orthogonalises_a_gradient_of_tiny_entries():
    """A T4-class run iterates in fp16, whose smallest number is ~6e-8: the gradient is
    normalised before the cast, so entries around 1e-9 do not flush to a zero update."""
    torch.manual_seed(0)
    s = singular_values(newton_schulz(torch.randn(32, 48) * 1e-9, steps=5, dtype=torch.float16))
    assert s.min() > 0.6 and s.max() < 1.3, s


def test_muon_iterates_in_the_precision_the_run_gives_it():
    """Same gradient, bf16 versus fp32 Newton-Schulz: both near-orthogonal, not identical --
    so the dtype handed to build_optimizers is the one Muon computes in."""
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=32"])
    updates = []
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(0)
        model = MoETransformer(cfg.validate(), 50)
        muon = build_optimizers(model, cfg, dtype).optimizers[0]
        weight = model.layers[0].attn.out.weight
        before = weight.detach().clone()
        weight.grad = torch.randn(32, 32, generator=torch.Generator().manual_seed(1))
        muon.step()
        updates.append((before - weight.detach()) / muon.param_groups[0]["lr"])
    for update in updates:
        s = singular_values(update)
        assert s.min() > 0.6 and s.max() < 1.3
    assert not torch.equal(*updates)


def test_muon_gets_the_hidden_matrices_and_adamw_the_rest():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32"])
    model = MoETransformer(cfg.validate(), 50)
    muon, adamw = build_optimizers(model, cfg).optimizers
    names = {id(p): n for n, p in model.named_parameters()}
    on_muon = {names[id(p)] for g in muon.param_groups for p in g["params"]}
    decayed, not_decayed = ({names[id(p)] for p in g["params"]} for g in adamw.param_groups)
    assert on_muon == {n for n in names.values() if any(k in n for k in ("qkv", "attn.out", "router", "w_"))}
    assert "layers.0.ffn.experts.w_up_EFD" in on_muon and "layers.0.ffn.router_ED" in on_muon
    assert decayed == {"embed.weight"}
    assert not_decayed and all("norm" in n for n in not_decayed)
    assert muon.param_groups[0]["lr"] == 0.065 and adamw.param_groups[0]["lr"] == pytest.approx(0.0065)
    assert adamw.param_groups[0]["weight_decay"] == 0.1 and adamw.param_groups[1]["weight_decay"] == 0.0


def test_an_untied_output_head_goes_to_adamw_with_decay():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=32",
                                    "model.tie_embeddings=false"])
    model = MoETransformer(cfg.validate(), 50)
    muon, adamw = build_optimizers(model, cfg).optimizers
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in adamw.param_groups[0]["params"]} == {"embed.weight", "head.weight"}
    assert "head.weight" not in {names[id(p)] for g in muon.param_groups for p in g["params"]}


def test_adamw_alone_takes_every_parameter_at_its_own_lr():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=32",
                                    "optim.optimizer=adamw", "optim.adamw_lr=0.001"]).validate()
    model = MoETransformer(cfg, 50)
    (adamw,) = build_optimizers(model, cfg).optimizers
    assert isinstance(adamw, torch.optim.AdamW)
    assert sum(len(g["params"]) for g in adamw.param_groups) == len(list(model.parameters()))
    assert all(g["lr"] == 0.001 for g in adamw.param_groups)


class FixedBatches:
    """Hands out given batches in order: the same tokens cut into different micro-batches."""

    def __init__(self, batches):
        self.batches = list(batches)

    def next(self):
        return self.batches.pop(0)


@pytest.mark.parametrize("optimizer", ["muon_adamw", "adamw"])
def test_four_accumulated_micro_batches_give_the_update_of_one_batch_four_times_larger(optimizer):
    # The aux loss balances each micro-batch on its own, so it is switched off for exact equality.
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32",
                                    "model.dropout=0", "moe.load_balancing_weight=0", f"optim.optimizer={optimizer}",
                                    "optim.adamw_lr=0.003", "optim.grad_clip=0.5"]).validate()
    seq = torch.randint(0, 50, (8, 17), generator=torch.Generator().manual_seed(0))
    x, y = seq[:, :-1], seq[:, 1:]
    precision = choose_precision(cfg.train, torch.device("cpu"))
    results = []
    for accum in (1, 4):
        torch.manual_seed(0)
        model = MoETransformer(cfg, 50)
        optimizers = build_optimizers(model, cfg)
        size = 8 // accum
        stream = FixedBatches((x[i:i + size], y[i:i + size]) for i in range(0, 8, size))
        step = train_step(model, stream, optimizers, precision.make_scaler(), precision,
                          list(model.parameters()), accum, cfg.optim.grad_clip)
        results.append((step, model.state_dict()))
    (one, weights_one), (four, weights_four) = results
    assert one.lm_loss.item() == pytest.approx(four.lm_loss.item(), rel=1e-5)
    assert one.grad_norm.item() == pytest.approx(four.grad_norm.item(), rel=1e-4)
    assert torch.equal(one.expert_counts_LE, four.expert_counts_LE)
    for name in weights_one:
        assert torch.allclose(weights_one[name], weights_four[name], atol=1e-5), name


@pytest.mark.parametrize("clip", [0.05, 0.0])
def test_gradient_clipping_caps_the_global_norm_and_zero_turns_it_off(clip):
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=32",
                                    "model.dropout=0", f"optim.grad_clip={clip}"]).validate()
    seq = torch.randint(0, 50, (4, 17), generator=torch.Generator().manual_seed(0))
    precision = choose_precision(cfg.train, torch.device("cpu"))
    torch.manual_seed(0)
    model = MoETransformer(cfg, 50)
    params = list(model.parameters())
    step = train_step(model, FixedBatches([(seq[:, :-1], seq[:, 1:])]), build_optimizers(model, cfg),
                      precision.make_scaler(), precision, params, 1, cfg.optim.grad_clip)
    applied = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
    assert step.grad_norm.item() > 0.05  # reported: the norm before clipping
    assert applied.item() == pytest.approx(clip if clip else step.grad_norm.item(), rel=1e-4)


def test_optimizers_remember_their_peak_and_the_schedule_scales_it():
    p = torch.nn.Parameter(torch.zeros(4, 4))
    q = torch.nn.Parameter(torch.zeros(4))
    opts = Optimizers([Muon([{"params": [p], "peak_lr": 0.05}], lr=0.05),
                       torch.optim.AdamW([{"params": [q], "peak_lr": 0.005}], lr=0.005)])
    opts.set_lr(0.1)
    assert opts.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.005)
    assert opts.optimizers[1].param_groups[0]["lr"] == pytest.approx(0.0005)
