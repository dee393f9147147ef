"""Feed-forward layers: a dense FFN and a top-k routed Mixture-of-Experts.

The MoE is three parts so that the fast path swaps in alone: `route` (router ->
top-k gates and the load-balancing loss), `expert_compute` (token groups x expert
weights; per-expert matmuls or `torch._grouped_mm` on CUDA) and `MoE`, which sorts
tokens by expert, calls the two and scatters the results back.

Tensor-name suffixes give shapes: N tokens (B*T flattened), D model width, F expert
hidden size, E experts, K experts per token (top-k), S = N*K token-expert slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu}


class ExpertWeights(nn.Module):
    """Weights of E experts stored as 3-D (E, out, in) tensors, the nn.Linear layout per
    expert: Muon orthogonalises each layer's experts as one batch of matrices and scales
    by out/in exactly as it would for a Linear. E = 1 is the dense FFN. SwiGLU adds a
    gate projection: silu(x W_gate) * (x W_up)."""

    def __init__(self, num_experts: int, d_model: int, d_ff: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.activation, self.dropout = activation, dropout
        self.w_up_EFD = nn.Parameter(torch.empty(num_experts, d_ff, d_model))
        self.w_down_EDF = nn.Parameter(torch.empty(num_experts, d_model, d_ff))
        gate = nn.Parameter(torch.empty(num_experts, d_ff, d_model)) if activation == "swiglu" else None
        self.register_parameter("w_gate_EFD", gate)

    def hidden(self, up_F: torch.Tensor, gate_F: torch.Tensor | None) -> torch.Tensor:
        """Activation (gated for SwiGLU) then dropout, as the seed's experts did."""
        h_F = F.silu(gate_F) * up_F if gate_F is not None else ACTIVATIONS[self.activation](up_F)
        return F.dropout(h_F, self.dropout, self.training)

    def one(self, x_GD: torch.Tensor, e: int) -> torch.Tensor:
        """Expert e applied to a group of rows."""
        gate = x_GD @ self.w_gate_EFD[e].T if self.w_gate_EFD is not None else None
        return self.hidden(x_GD @ self.w_up_EFD[e].T, gate) @ self.w_down_EDF[e].T


def _looped_experts(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights) -> torch.Tensor:
    """Per-expert matmuls over the contiguous groups of sorted slots.

    Reads the E group sizes to the host once per layer: free on CPU, and the one sync
    of the CUDA fallback where grouped GEMM is unavailable."""
    groups = torch.split(x_SD, counts_E.tolist())
    return torch.cat([w.one(x_GD, e) for e, x_GD in enumerate(groups)])


def _grouped_experts(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights) -> torch.Tensor:
    """One grouped GEMM per projection, in bf16; group offsets stay on the device (no host
    sync). Autocast does not cover torch._grouped_mm, hence the explicit casts."""
    offs_E = counts_E.cumsum(0).to(torch.int32)

    def mm(a_SI: torch.Tensor, w_EOI: torch.Tensor) -> torch.Tensor:
        return torch._grouped_mm(a_SI.to(torch.bfloat16), w_EOI.to(torch.bfloat16).transpose(-2, -1),
                                 offs=offs_E)

    gate = mm(x_SD, w.w_gate_EFD) if w.w_gate_EFD is not None else None
    return mm(w.hidden(mm(x_SD, w.w_up_EFD), gate), w.w_down_EDF)


def grouped_gemm_usable(device: torch.device) -> bool:
    """torch._grouped_mm trains only on CUDA (its CPU kernel has no backward in torch 2.13),
    needs Hopper-class tensor cores, and computes in bf16 -- so only under bf16 autocast,
    never in a run that asked for fp32 or fp16."""
    return (device.type == "cuda" and hasattr(torch, "_grouped_mm")
            and torch.cuda.get_device_capability(device) >= (9, 0)
            and torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda") == torch.bfloat16)


def expert_compute(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights, grouped: bool) -> torch.Tensor:
    """Apply expert e to its group of rows; rows of `x_SD` are sorted by expert id."""
    return _grouped_experts(x_SD, counts_E, w) if grouped else _looped_experts(x_SD, counts_E, w)


@dataclass
class Routing:
    gates_NK: torch.Tensor  # renormalised top-k weights
    experts_NK: torch.Tensor  # chosen expert ids
    counts_E: torch.Tensor  # top-k assignments per expert (int64)
    aux_loss: torch.Tensor  # Switch load-balancing loss: E * sum_i f_i * P_i (1.0 when balanced)


def load_balancing_loss(probs_NE: torch.Tensor, counts_E: torch.Tensor) -> torch.Tensor:
    """Switch Transformer aux loss E * sum_i f_i * P_i, where f_i is expert i's share of the
    top-k assignments and P_i its mean router probability. Uniform routing gives exactly
    1.0; routing everything to one expert gives up to E. Gradient flows through P only."""
    num_experts = probs_NE.shape[-1]
    f_E = counts_E.to(probs_NE.dtype) / counts_E.sum().clamp(min=1)
    return num_experts * (f_E * probs_NE.mean(0)).sum()


def route(x_ND: torch.Tensor, router_weight_ED: torch.Tensor, top_k: int, noise_std: float) -> Routing:
    """Linear router in fp32 (softmax and top-k over bf16 logits flip near-ties between
    experts), optional Gaussian noise on the logits in training, softmax, top-k and gates
    renormalised over the chosen k (= softmax over the chosen logits, as in the seed)."""
    with torch.autocast(x_ND.device.type, enabled=False):
        logits_NE = x_ND.float() @ router_weight_ED.float().T
    if noise_std > 0:
        logits_NE = logits_NE + torch.randn_like(logits_NE) * noise_std
    probs_NE = logits_NE.softmax(dim=-1)
    top_NK, experts_NK = probs_NE.topk(top_k, dim=-1)
    gates_NK = top_NK / top_NK.sum(dim=-1, keepdim=True)
    # Not torch.bincount: on CUDA it reads the ids' min and max back to the host, two syncs per layer.
    ids_S = experts_NK.flatten()
    counts_E = ids_S.new_zeros(probs_NE.shape[-1]).scatter_add_(0, ids_S, torch.ones_like(ids_S))
    return Routing(gates_NK, experts_NK, counts_E, load_balancing_loss(probs_NE, counts_E))


class MoE(nn.Module):
    """Top-k routed experts with sort-based dispatch: the N*K (token, expert) slots are
    argsorted by expert id, so each expert's tokens are one contiguous group and the
    group sizes come from a scatter-add count -- no boolean masks, and no host sync
    but the one of the per-expert loop (see `_looped_experts`).
    `forward` returns the output and the layer's Routing (for the aux loss and load)."""

    def __init__(self, d_model: int, d_ff: int, num_experts: int, top_k: int, activation: str,
                 dropout: float, noise_std: float, grouped_gemm: bool) -> None:
        super().__init__()
        self.top_k, self.noise_std, self.use_grouped = top_k, noise_std, grouped_gemm
        self.router_ED = nn.Parameter(torch.empty(num_experts, d_model))
        self.experts = ExpertWeights(num_experts, d_model, d_ff, activation, dropout)

    def forward(self, x_BTD: torch.Tensor) -> tuple[torch.Tensor, Routing]:
        B, T, D = x_BTD.shape
        x_ND = x_BTD.reshape(B * T, D)
        routing = route(x_ND, self.router_ED, self.top_k, self.noise_std if self.training else 0.0)

        order_S = torch.argsort(routing.experts_NK.flatten(), stable=True)
        token_S = order_S // self.top_k  # slot n*K + k belongs to token n
        grouped = self.use_grouped and grouped_gemm_usable(x_ND.device)
        # index_select, not x[idx]: its backward is an index_add; indexing's (an accumulating
        # index_put) sorts the indices first on CUDA.
        out_SD = expert_compute(x_ND.index_select(0, token_S), routing.counts_E, self.experts, grouped)
        out_SD = out_SD * routing.gates_NK.flatten().index_select(0, order_S)[:, None].to(out_SD.dtype)
        out_ND = torch.zeros_like(x_ND, dtype=out_SD.dtype).index_add_(0, token_S, out_SD)
        return out_ND.reshape(B, T, D).to(x_BTD.dtype), routing


class DenseFFN(nn.Module):
    """num_experts = 1: an ordinary FFN, the same weight layout as one expert."""

    def __init__(self, d_model: int, d_ff: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.experts = ExpertWeights(1, d_model, d_ff, activation, dropout)

    def forward(self, x_BTD: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.experts.one(x_BTD, 0), None
