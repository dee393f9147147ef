"""The optimizers' speed switches give the plain path's updates: Muon's batched
Newton-Schulz (optim.muon_batched) and AdamW's fused kernel (optim.fused_adamw)."""

from __future__ import annotations

import pytest
import torch

from engine.config import Config
from engine.model import MoETransformer
from engine.optim import adamw_kernel, build_optimizers, newton_schulz, newton_schulz_by_shape


def test_batched_newton_schulz_equals_each_matrix_alone_in_every_shape():
    torch.manual_seed(0)
    updates = [torch.randn(24, 40), torch.randn(4, 24, 40), torch.randn(40, 24), torch.randn(24, 40),
               torch.randn(2, 3, 16, 16)]
    together = newton_schulz_by_shape(updates, steps=5)
    assert [t.shape for t in together] == [u.shape for u in updates]
    for got, update in zip(together, updates):
        torch.testing.assert_close(got, newton_schulz(update, steps=5), atol=1e-6, rtol=1e-5)


def muon_run(batched: bool, steps: int = 3) -> list[torch.Tensor]:
    """A tiny model's weights and Muon momenta after `steps` Muon steps on fixed gradients."""
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=48",
                                    f"optim.muon_batched={batched}"]).validate()
    torch.manual_seed(0)
    model = MoETransformer(cfg, 50)
    muon = build_optimizers(model, cfg).optimizers[0]
    assert muon.batched is batched
    params = muon.param_groups[0]["params"]
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(100 * step + i))
        muon.step()
    return [t.detach().clone() for p in params for t in (p, muon.state[p]["momentum_buffer"])]


def test_muon_batched_over_same_shape_matrices_makes_the_per_matrix_updates():
    batched, alone = muon_run(batched=True), muon_run(batched=False)
    for got, expected in zip(batched, alone, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    assert not torch.equal(batched[0], muon_run(batched=True, steps=2)[0])  # the third step moved the weights


@pytest.mark.parametrize("fused, device, kernel", [
    (True, "cuda", {"fused": True}), (False, "cuda", {"foreach": True}), (True, "cpu", {"foreach": True}),
])
def test_adamw_is_fused_on_cuda_unless_switched_off_and_foreach_elsewhere(fused, device, kernel):
    assert adamw_kernel(fused, device) == kernel


def test_a_fused_adamw_step_equals_the_foreach_one():
    """Both kernels step the same weights (the fused one runs on CPU too, for this check)."""
    weights = []
    for kernel in ({"fused": True}, {"foreach": True}):
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(64, 32)), torch.nn.Parameter(torch.randn(32))]
        opt = torch.optim.AdamW(params, lr=0.01, weight_decay=0.1, **kernel)
        for step in range(3):
            for i, p in enumerate(params):
                p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(10 * step + i))
            opt.step()
        weights.append([p.detach() for p in params])
    for fused, foreach in zip(*weights):
        torch.testing.assert_close(fused, foreach, atol=1e-6, rtol=1e-5)
