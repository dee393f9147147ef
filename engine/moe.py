"""Feed-forward layers: a dense FFN and a top-k routed Mixture-of-Experts.

The MoE is three parts so that the fast path swaps in alone: `route` (router ->
top-k gates and the load-balancing loss), `expert_compute` (token groups x expert
weights; per-expert matmuls or `torch._grouped_mm` on CUDA, as `choose_expert_path`
decides) and `MoE`, which sorts tokens by expert, calls the two and scatters the
results back.

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


GROUPED_ALIGN = 8  # torch._grouped_mm wants every non-unit stride a multiple of 16 bytes: 8 bf16 elements


@dataclass(frozen=True)
class ExpertPath:
    """How the experts of a run compute, as the start event and engine.log report it."""
    name: str  # "grouped", "grouped+padded", "loop" or "dense"
    reason: str

    @property
    def grouped(self) -> bool:
        return self.name.startswith("grouped")


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def choose_expert_path(enabled: bool, device_type: str, capability: tuple[int, int] | None,
                       autocast_dtype: torch.dtype | None, d_model: int, d_ff: int) -> ExpertPath:
    """The expert computation a MoE layer uses, from what the run is and has (no CUDA needed).

    torch._grouped_mm trains only on CUDA (its CPU kernel has no backward in torch 2.13),
    needs Hopper-class tensor cores and computes in bf16 -- so only under bf16 autocast,
    never in a run that asked for fp32 or fp16. It also needs 16-byte-aligned strides: at a
    width or expert hidden size that is not a multiple of 8 the layer zero-pads both (the
    same sums, with zeros added) rather than crash at step 1 or fall back to the loop."""
    if not enabled:
        return ExpertPath("loop", "moe.grouped_gemm = false")
    if device_type != "cuda":
        return ExpertPath("loop", f"grouped GEMM trains on CUDA only, this run is on {device_type}")
    if not hasattr(torch, "_grouped_mm"):
        return ExpertPath("loop", f"torch {torch.__version__} has no grouped GEMM")
    if capability is None or capability < (9, 0):
        found = "unknown" if capability is None else f"{capability[0]}.{capability[1]}"
        return ExpertPath("loop", f"grouped GEMM needs compute capability 9.0 (Hopper), this GPU has {found}")
    if autocast_dtype != torch.bfloat16:
        return ExpertPath("loop", "grouped GEMM computes in bf16, this run does not (train.amp_dtype)")
    padded_d, padded_f = _round_up(d_model, GROUPED_ALIGN), _round_up(d_ff, GROUPED_ALIGN)
    if (padded_d, padded_f) == (d_model, d_ff):
        return ExpertPath("grouped", "bf16 grouped GEMM, no host sync")
    return ExpertPath("grouped+padded", f"bf16 grouped GEMM with d_model {d_model} -> {padded_d} and expert "
                                        f"hidden {d_ff} -> {padded_f} zero-padded to multiples of {GROUPED_ALIGN}")


def expert_path_on(device: torch.device, autocast_dtype: torch.dtype | None, enabled: bool, d_model: int,
                   d_ff: int) -> ExpertPath:
    """`choose_expert_path` for a device of this machine. The capability comes from the
    device properties, which torch.compile folds to constants inside a compiled block."""
    props = torch.cuda.get_device_properties(device) if device.type == "cuda" else None
    capability = (props.major, props.minor) if props is not None else None
    return choose_expert_path(enabled, device.type, capability, autocast_dtype, d_model, d_ff)


def _autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype in force for `device` right now, or None outside autocast."""
    return torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else None


# A graph boundary for torch.compile: the group sizes read to the host would break the
# graph anyway, and each new set of sizes would recompile the code after the break.
@torch.compiler.disable
def _looped_experts(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights) -> torch.Tensor:
    """Per-expert matmuls over the contiguous groups of sorted slots.

    Reads the E group sizes to the host once per layer: free on CPU, and the one sync
    of the CUDA fallback where grouped GEMM is unavailable."""
    groups = torch.split(x_SD, counts_E.tolist())
    return torch.cat([w.one(x_GD, e) for e, x_GD in enumerate(groups)])


def _pad_last2(t: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Zero-pad the last two dims up to (rows, cols); `t` itself when nothing is missing."""
    missing_rows, missing_cols = rows - t.shape[-2], cols - t.shape[-1]
    return F.pad(t, (0, missing_cols, 0, missing_rows)) if missing_rows or missing_cols else t


def _grouped_experts(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights) -> torch.Tensor:
    """One grouped GEMM per projection, in bf16; group offsets stay on the device (no host
    sync). Autocast does not cover torch._grouped_mm, hence the explicit casts.

    Widths that are not multiples of 8 are zero-padded (P, Q = D, F rounded up): the padded
    input columns meet zero weight rows, the padded hidden units are activation(0) = 0 for
    silu, gelu and SwiGLU, so the first D output columns are the unpadded result."""
    d_ff, d_model = w.w_up_EFD.shape[-2:]
    P, Q = _round_up(d_model, GROUPED_ALIGN), _round_up(d_ff, GROUPED_ALIGN)
    offs_E = counts_E.cumsum(0).to(torch.int32)

    def mm(a_SI: torch.Tensor, w_EOI: torch.Tensor, out: int, inner: int) -> torch.Tensor:
        w_EOI = _pad_last2(w_EOI.to(torch.bfloat16), out, inner)
        return torch._grouped_mm(a_SI, w_EOI.transpose(-2, -1), offs=offs_E)

    x_SP = _pad_last2(x_SD.to(torch.bfloat16), x_SD.shape[0], P)
    gate_SQ = mm(x_SP, w.w_gate_EFD, Q, P) if w.w_gate_EFD is not None else None
    return mm(w.hidden(mm(x_SP, w.w_up_EFD, Q, P), gate_SQ), w.w_down_EDF, P, Q)[:, :d_model]


def expert_compute(x_SD: torch.Tensor, counts_E: torch.Tensor, w: ExpertWeights, path: ExpertPath) -> torch.Tensor:
    """Apply expert e to its group of rows; rows of `x_SD` are sorted by expert id."""
    return _grouped_experts(x_SD, counts_E, w) if path.grouped else _looped_experts(x_SD, counts_E, w)


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

    def path(self, device: torch.device, autocast_dtype: torch.dtype | None) -> ExpertPath:
        """The expert computation this layer uses on `device` under `autocast_dtype`."""
        d_ff, d_model = self.experts.w_up_EFD.shape[-2:]
        return expert_path_on(device, autocast_dtype, self.use_grouped, d_model, d_ff)

    def forward(self, x_BTD: torch.Tensor) -> tuple[torch.Tensor, Routing]:
        B, T, D = x_BTD.shape
        x_ND = x_BTD.reshape(B * T, D)
        routing = route(x_ND, self.router_ED, self.top_k, self.noise_std if self.training else 0.0)

        order_S = torch.argsort(routing.experts_NK.flatten(), stable=True)
        token_S = order_S // self.top_k  # slot n*K + k belongs to token n
        path = self.path(x_ND.device, _autocast_dtype(x_ND.device))
        # index_select, not x[idx]: its backward is an index_add; indexing's (an accumulating
        # index_put) sorts the indices first on CUDA.
        out_SD = expert_compute(x_ND.index_select(0, token_S), routing.counts_E, self.experts, path)
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
