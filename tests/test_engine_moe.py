"""Routing, dispatch and the load-balancing loss of the MoE layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.config import Config
from engine.model import MoETransformer
from engine.moe import MoE, load_balancing_loss, route


def make_moe(num_experts=4, top_k=2, activation="swiglu", d_model=16, d_ff=24, seed=0, grouped=False) -> MoE:
    torch.manual_seed(seed)
    moe = MoE(d_model, d_ff, num_experts, top_k, activation, dropout=0.0, noise_std=0.0, grouped_gemm=grouped)
    for p in moe.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return moe


def reference_moe(moe: MoE, x_ND: torch.Tensor) -> torch.Tensor:
    """Token by token, the definition: sum over the chosen experts of gate * expert(x)."""
    probs = (x_ND @ moe.router_ED.T).softmax(-1)
    out = torch.zeros_like(x_ND)
    for n in range(x_ND.shape[0]):
        top, ids = probs[n].topk(moe.top_k)
        for gate, e in zip(top / top.sum(), ids.tolist()):
            w = moe.experts
            up = x_ND[n] @ w.w_up_EFD[e].T
            h = F.silu(x_ND[n] @ w.w_gate_EFD[e].T) * up if w.w_gate_EFD is not None else F.gelu(up)
            out[n] += gate * (h @ w.w_down_EDF[e].T)
    return out


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
def test_sort_based_dispatch_equals_the_token_by_token_definition(activation):
    moe = make_moe(activation=activation)
    x_BTD = torch.randn(3, 7, 16)
    out, routing = moe(x_BTD)
    assert torch.allclose(out.reshape(-1, 16), reference_moe(moe, x_BTD.reshape(-1, 16)), atol=1e-5)
    assert torch.equal(routing.counts_E, torch.bincount(routing.experts_NK.flatten(), minlength=4))
    assert routing.counts_E.sum() == 3 * 7 * 2
    assert torch.allclose(routing.gates_NK.sum(-1), torch.ones(21))


def test_every_expert_and_the_router_get_gradients():
    moe = make_moe(num_experts=3, top_k=2)
    out, routing = moe(torch.randn(4, 8, 16))
    (out.sum() + routing.aux_loss).backward()
    assert moe.router_ED.grad.abs().sum() > 0
    assert all((p.grad.abs().flatten(1).sum(1) > 0).all() for p in moe.experts.parameters())


def test_balanced_routing_gives_an_aux_loss_of_one_and_collapse_gives_more():
    E = 4
    uniform = torch.full((8, E), 1 / E)
    assert load_balancing_loss(uniform, torch.tensor([4, 4, 4, 4])).item() == pytest.approx(1.0)
    collapsed = F.one_hot(torch.zeros(8, dtype=torch.long), E).float()
    assert load_balancing_loss(collapsed, torch.tensor([8, 0, 0, 0])).item() == pytest.approx(E)

    # Through the router: random inputs spread over the experts, a shared direction piles them on one.
    torch.manual_seed(0)
    router = torch.randn(E, 32) * 0.01
    spread = route(torch.randn(4096, 32), router, top_k=1, noise_std=0.0)
    assert spread.aux_loss.item() == pytest.approx(1.0, abs=0.02)
    router[0] = 2.0
    piled = route(torch.randn(4096, 32) + 1.0, router, top_k=1, noise_std=0.0)
    assert piled.counts_E[0] > 0.9 * 4096 and piled.aux_loss.item() > 3.0


def test_router_noise_acts_in_training_only():
    moe = make_moe()
    moe.noise_std = 1.0
    x = torch.randn(2, 8, 16)
    moe.eval()
    assert torch.equal(moe(x)[0], moe(x)[0])
    moe.train()
    assert not torch.equal(moe(x)[0], moe(x)[0])


def _router_grad_and_losses(weight: float):
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=3", "model.d_ff=32",
                                    f"moe.load_balancing_weight={weight}", "model.dropout=0"]).validate()
    torch.manual_seed(0)
    model = MoETransformer(cfg, 50)
    x = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(1))
    out = model(x, torch.roll(x, -1, 1))
    out.loss.backward()
    return model.layers[0].ffn.router_ED.grad, out


@pytest.mark.parametrize("weight", [0.01, 0.5])
def test_load_balancing_weight_from_the_config_reaches_the_loss_and_the_router(weight):
    """The seed's weight never reached its layers: every value ran as 0.01."""
    grad_0, out_0 = _router_grad_and_losses(0.0)
    grad_w, out_w = _router_grad_and_losses(weight)
    aux_sum = out_w.aux_loss * 3  # aux_loss is the mean over the 3 MoE layers
    assert (out_w.loss - out_w.lm_loss).item() == pytest.approx(weight * aux_sum.item(), rel=1e-5)
    assert out_0.loss.item() == out_0.lm_loss.item() == out_w.lm_loss.item()
    assert not torch.allclose(grad_w, grad_0)


@pytest.mark.gpu
def test_grouped_gemm_matches_the_per_expert_loop_and_never_syncs_with_the_host():
    moe_loop = make_moe(num_experts=8, top_k=2, d_model=64, d_ff=128).cuda()
    moe_grouped = make_moe(num_experts=8, top_k=2, d_model=64, d_ff=128, grouped=True).cuda()
    x = torch.randn(4, 64, 64, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        expected, _ = moe_loop(x)
        torch.cuda.set_sync_debug_mode("error")
        try:
            got, routing = moe_grouped(x)
            (got.float().sum() + routing.aux_loss).backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert torch.allclose(got.float(), expected.float(), atol=3e-2, rtol=3e-2)
    assert moe_grouped.experts.w_up_EFD.grad is not None
