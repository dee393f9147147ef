"""Muon for hidden matrices, AdamW for everything else, grouped explicitly by role.

Muon must not see: the token embedding (a lookup table whose rows are updated
sparsely; orthogonalising it, and through the tie the output head, hurts), an untied
output head (it maps to vocabulary scores, not between hidden states), norm gains
and biases (vectors; nothing to orthogonalise). It does get every other matrix: q/k/v,
attention output, the router, and the experts -- stored as (E, out, in) per layer and
orthogonalised as one batch of E matrices.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from engine.config import Config

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # quintic Newton-Schulz (Keller Jordan's Muon)


def newton_schulz(g: torch.Tensor, steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Approximately orthogonalise the last two dims of `g` (a matrix or a batch of them).

    Quintic iteration X <- aX + (bA + cA^2)X with A = XX^T, on X normalised by its
    Frobenius norm (so singular values start <= 1) and transposed when tall (so A is the
    small Gram matrix). Converges to roughly U V^T with singular values in ~[0.7, 1.2]:
    close enough to orthogonal for the update, and cheap. The iteration runs in `dtype`
    (the run's precision, see `Precision.muon_dtype`); normalising before the cast keeps
    a gradient of tiny entries from flushing to zero in fp16."""
    a, b, c = NS_COEFFS
    x = g / (g.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    x = x.to(dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    for _ in range(steps):
        a_mat = x @ x.mT
        x = a * x + (b * a_mat + c * a_mat @ a_mat) @ x
    if tall:
        x = x.mT
    return x.to(g.dtype)


def newton_schulz_by_shape(updates: list[torch.Tensor], steps: int,
                           dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """`newton_schulz` of each tensor, in one batched call per matrix shape: a model's
    attention outputs, its routers, its experts' up and gate projections... each stack into
    one batch. The iteration is per matrix, so the result is the per-matrix one; what
    changes is a handful of large batched matmuls in place of ~15 small ones per parameter
    (on a GPU, each of those small ones is a kernel launch)."""
    by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, update in enumerate(updates):
        by_shape[tuple(update.shape[-2:])].append(i)
    result: dict[int, torch.Tensor] = {}
    for shape, indices in by_shape.items():
        stacked = torch.cat([updates[i].reshape(-1, *shape) for i in indices])
        sizes = [updates[i].numel() // math.prod(shape) for i in indices]
        for i, part in zip(indices, newton_schulz(stacked, steps, dtype).split(sizes)):
            result[i] = part.view_as(updates[i])
    return [result[i] for i in range(len(updates))]


class Muon(torch.optim.Optimizer):
    """MomentUm Orthogonalized by Newton-Schulz: SGD with Nesterov momentum whose update
    is replaced by its nearest (semi-)orthogonal matrix, scaled by max(1, out/in)^0.5 so
    that every shape gets a similar per-element step. No weight decay. Only for
    parameters with >= 2 dims whose last two are (out, in). `ns_dtype` is the arithmetic of
    Newton-Schulz and `batched` whether same-shape matrices share one call
    (`newton_schulz_by_shape`): properties of the run, not state, so they stay out of the
    state dict."""

    def __init__(self, params, lr: float, momentum: float = 0.95, nesterov: bool = True, ns_steps: int = 5,
                 ns_dtype: torch.dtype = torch.float32, batched: bool = True) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps))
        self.ns_dtype, self.batched = ns_dtype, batched

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            updates = self._momentum_updates(params, group["momentum"], group["nesterov"])
            if self.batched:
                updates = newton_schulz_by_shape(updates, group["ns_steps"], self.ns_dtype)
            else:
                updates = [newton_schulz(update, group["ns_steps"], self.ns_dtype) for update in updates]
            for p, update in zip(params, updates):
                scale = max(1.0, p.size(-2) / p.size(-1)) ** 0.5
                p.add_(update, alpha=-group["lr"] * scale)

    def _momentum_updates(self, params: list[torch.Tensor], momentum: float, nesterov: bool) -> list[torch.Tensor]:
        """buf <- momentum * buf + grad for every parameter at once (foreach: a few kernels,
        not a few per parameter); the Nesterov update is grad + momentum * buf."""
        for p in params:
            assert p.ndim >= 2, f"Muon got a {p.ndim}-D parameter"
            if "momentum_buffer" not in self.state[p]:
                self.state[p]["momentum_buffer"] = torch.zeros_like(p.grad)
        grads = [p.grad for p in params]
        bufs = [self.state[p]["momentum_buffer"] for p in params]
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, grads)
        return list(torch._foreach_add(grads, bufs, alpha=momentum)) if nesterov else bufs


def is_hidden_matrix(name: str, p: nn.Parameter) -> bool:
    """Muon's parameters: matrices (or batches of them) other than the embedding and head."""
    return p.ndim >= 2 and not name.startswith(("embed.", "head."))


@dataclass
class Optimizers:
    """The run's optimizers, each param group remembering its peak lr, so the loop only
    ever sets `peak * schedule factor`."""
    optimizers: list[torch.optim.Optimizer]

    def set_lr(self, factor: float) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = group["peak_lr"] * factor

    def step(self, scaler: torch.amp.GradScaler, grad_norm: torch.Tensor) -> None:
        """Step every optimizer, or none: one decision for the whole step. Under a gradient
        scaler (fp16) a non-finite gradient anywhere -- the unscaled global norm is then inf
        or nan -- skips them all and the scaler lowers its scale. GradScaler.step lets each
        optimizer judge its own gradients alone: an inf in the embedding's skipped AdamW
        while Muon still applied a full momentum update. Deciding reads one flag to the
        host, in fp16 runs only (GradScaler.step read one per optimizer); bf16 and fp32
        runs step without a sync, and a non-finite loss there is the guards' to report."""
        if not scaler.is_enabled() or bool(torch.isfinite(grad_norm)):
            for opt in self.optimizers:
                opt.step()
        scaler.update()  # from the inf checks every optimizer's unscale_ recorded

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def state_dict(self) -> list[dict]:
        return [opt.state_dict() for opt in self.optimizers]

    def load_state_dict(self, states: list[dict]) -> None:
        """Moments and step counts from a checkpoint, peak lrs from this run's config: torch
        would restore the saved ones, and a run continued from another (`moetui continue`)
        trains at its own lr, not its parent's."""
        for opt, state in zip(self.optimizers, states, strict=True):
            peaks = [group["peak_lr"] for group in opt.param_groups]
            opt.load_state_dict(state)
            for group, peak in zip(opt.param_groups, peaks, strict=True):
                group["peak_lr"] = peak


def build_optimizers(model: nn.Module, cfg: Config, ns_dtype: torch.dtype = torch.float32) -> Optimizers:
    """muon_adamw: Muon (muon_lr) on hidden matrices + AdamW (adamw_lr) on the rest;
    adamw: AdamW on everything at adamw_lr. AdamW decays matrices (the embedding) but not
    vectors: decaying norm gains towards 0 only fights the normalisation. `ns_dtype`:
    Muon's Newton-Schulz arithmetic, the run's `Precision.muon_dtype`."""
    o = cfg.optim
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    use_muon = o.optimizer == "muon_adamw"
    muon = [p for n, p in named if use_muon and is_hidden_matrix(n, p)]
    muon_ids = {id(p) for p in muon}
    rest = [p for _, p in named if id(p) not in muon_ids]
    adamw_groups = [
        {"params": [p for p in rest if p.ndim >= 2], "weight_decay": o.weight_decay, "peak_lr": cfg.adamw_lr},
        {"params": [p for p in rest if p.ndim < 2], "weight_decay": 0.0, "peak_lr": cfg.adamw_lr},
    ]
    optimizers: list[torch.optim.Optimizer] = []
    if muon:
        optimizers.append(Muon([{"params": muon, "peak_lr": o.muon_lr}], lr=o.muon_lr, momentum=o.momentum,
                               ns_steps=o.ns_steps, ns_dtype=ns_dtype, batched=o.muon_batched))
    device_type = named[0][1].device.type
    optimizers.append(torch.optim.AdamW([g for g in adamw_groups if g["params"]], lr=cfg.adamw_lr,
                                        betas=(o.beta1, o.beta2), **adamw_kernel(o.fused_adamw, device_type)))
    return Optimizers(optimizers)


def adamw_kernel(fused: bool, device_type: str) -> dict[str, bool]:
    """AdamW's implementation: fused (one kernel for every parameter's whole update) on CUDA
    when optim.fused_adamw is on, else foreach (a few kernels per step over lists of
    tensors). The same arithmetic, rounded in another order. Not fused on CPU, where the
    foreach path is the one the project's CPU runs were measured and reproduced with."""
    return {"fused": True} if fused and device_type == "cuda" else {"foreach": True}
