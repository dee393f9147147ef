"""The decoder-only MoE transformer, built from the one Config.

    token ids -> embedding (x sqrt(D)) -> [block x n_layers] (x h_cycles*l_cycles when
    recursive) -> final norm -> output head (tied to the embedding, or not) -> logits, loss

Every architecture switch of the config changes the computation here: norm type and
position, RoPE or no position encoding, FFN activation, dense FFN (num_experts = 1) or
routed experts, and the recursive mode of the reasoning study.

Shape letters: B batch, T sequence, D model width, H heads, A head dim, V vocab,
E experts, L MoE layer applications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import Config
from engine.loss import chunked_cross_entropy
from engine.moe import DenseFFN, ExpertPath, MoE, expert_path_on


def make_norm(kind: str, dim: int) -> nn.Module:
    if kind == "rmsnorm":
        return nn.RMSNorm(dim, eps=1e-6)
    if kind == "layernorm":
        return nn.LayerNorm(dim)
    return nn.Identity()


class Rotary(nn.Module):
    """RoPE over the full head dimension (rotate-half layout), tables built once for max_seq_len."""

    def __init__(self, head_dim: int, max_seq_len: int, base: float) -> None:
        super().__init__()
        inv_freq_A2 = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles_TA2 = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq_A2)
        # Not persistent: derived from the config, so checkpoints stay small and exact.
        self.register_buffer("cos_TA2", angles_TA2.cos(), persistent=False)
        self.register_buffer("sin_TA2", angles_TA2.sin(), persistent=False)

    def forward(self, x_BHTA: torch.Tensor) -> torch.Tensor:
        T = x_BHTA.shape[-2]
        cos, sin = self.cos_TA2[:T].to(x_BHTA.dtype), self.sin_TA2[:T].to(x_BHTA.dtype)
        x1, x2 = x_BHTA.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Attention(nn.Module):
    """Causal multi-head self-attention through scaled_dot_product_attention; fused qkv, no biases."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        m = cfg.model
        self.n_heads, self.dropout = m.n_heads, m.dropout
        self.qkv = nn.Linear(m.d_model, 3 * m.d_model, bias=False)
        self.out = nn.Linear(m.d_model, m.d_model, bias=False)
        head_dim = m.d_model // m.n_heads
        self.rotary = Rotary(head_dim, m.max_seq_len, m.rope_base) if m.pos_encoding == "rope" else None

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BTD.shape
        q_BHTA, k_BHTA, v_BHTA = (self.qkv(x_BTD).view(B, T, 3, self.n_heads, D // self.n_heads)
                                  .permute(2, 0, 3, 1, 4).unbind(0))
        if self.rotary is not None:
            q_BHTA, k_BHTA = self.rotary(q_BHTA), self.rotary(k_BHTA)
        y_BHTA = F.scaled_dot_product_attention(q_BHTA, k_BHTA, v_BHTA, is_causal=True,
                                                dropout_p=self.dropout if self.training else 0.0)
        return self.out(y_BHTA.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Attention then FFN/MoE, each a residual branch with dropout.

    pre-norm:  x + drop(f(norm(x)))      post-norm:  norm(x + drop(f(x)))"""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        m, e = cfg.model, cfg.moe
        self.post_norm = m.norm_position == "post"
        self.norm_attn, self.norm_ffn = make_norm(m.norm, m.d_model), make_norm(m.norm, m.d_model)
        self.attn = Attention(cfg)
        self.ffn: MoE | DenseFFN = (
            DenseFFN(m.d_model, cfg.expert_d_ff, m.activation, m.dropout) if e.num_experts == 1 else
            MoE(m.d_model, cfg.expert_d_ff, e.num_experts, e.top_k, m.activation, m.dropout,
                e.router_noise_std, e.grouped_gemm))
        self.drop = nn.Dropout(m.dropout)

    def forward(self, x_BTD: torch.Tensor):
        if self.post_norm:
            x_BTD = self.norm_attn(x_BTD + self.drop(self.attn(x_BTD)))
            h_BTD, routing = self.ffn(x_BTD)
            return self.norm_ffn(x_BTD + self.drop(h_BTD)), routing
        x_BTD = x_BTD + self.drop(self.attn(self.norm_attn(x_BTD)))
        h_BTD, routing = self.ffn(self.norm_ffn(x_BTD))
        return x_BTD + self.drop(h_BTD), routing


def expert_path(cfg: Config, device: torch.device, autocast_dtype: torch.dtype | None) -> ExpertPath:
    """How this config's experts compute on `device` under `autocast_dtype` (the start event's
    `expert_path`); the MoE layers decide the same way at every forward."""
    if cfg.moe.num_experts == 1:
        return ExpertPath("dense", "moe.num_experts = 1: one FFN per block")
    return expert_path_on(device, autocast_dtype, cfg.moe.grouped_gemm, cfg.model.d_model, cfg.expert_d_ff)


@dataclass
class ModelOutput:
    logits_BTV: torch.Tensor | None  # None when the loss was computed in chunks (engine.loss)
    loss: torch.Tensor | None  # what backward sees: lm_loss + load_balancing_weight * sum of aux losses
    lm_loss: torch.Tensor | None  # next-token cross-entropy
    aux_loss: torch.Tensor  # mean aux loss per MoE layer application (1.0 = balanced; 0 when dense)
    expert_counts_LE: torch.Tensor | None  # top-k assignments per MoE layer and expert (detached)


class MoETransformer(nn.Module):
    def __init__(self, cfg: Config, vocab_size: int) -> None:
        super().__init__()
        m = cfg.model
        self.embed_scale = m.d_model ** 0.5 if m.embed_scale else 1.0
        self.cycles = (m.h_cycles, m.l_cycles) if m.recursive else (1, 1)
        self.load_balancing_weight = cfg.moe.load_balancing_weight
        self.ce_chunk_tokens = cfg.train.ce_chunk_tokens
        self.embed = nn.Embedding(vocab_size, m.d_model)
        self.drop = nn.Dropout(m.dropout)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(m.n_layers))
        # Post-norm blocks already end in a norm; a second one would only rescale.
        self.final_norm = make_norm(m.norm, m.d_model) if m.norm_position == "pre" else nn.Identity()
        self.head = None if m.tie_embeddings else nn.Linear(m.d_model, vocab_size, bias=False)
        for p in self.parameters():
            if p.ndim >= 2:  # every matrix, embedding and experts included; norms keep ones/zeros
                nn.init.normal_(p, mean=0.0, std=m.init_std)

    def forward(self, idx_BT: torch.Tensor, targets_BT: torch.Tensor | None = None) -> ModelOutput:
        e_BTD = self.drop(self.embed(idx_BT) * self.embed_scale)
        aux_losses: list[torch.Tensor] = []
        counts: dict[int, torch.Tensor] = {}  # layer index -> counts_E summed over cycles
        h_cycles, l_cycles = self.cycles
        x_BTD = e_BTD
        for h in range(h_cycles):
            if h > 0:  # recursive mode: re-inject the input at the start of every outer cycle
                x_BTD = x_BTD + e_BTD
            for _ in range(l_cycles):
                for i, layer in enumerate(self.layers):
                    x_BTD, routing = layer(x_BTD)
                    if routing is not None:
                        aux_losses.append(routing.aux_loss)
                        counts[i] = counts[i] + routing.counts_E if i in counts else routing.counts_E
        aux_sum = torch.stack(aux_losses).sum() if aux_losses else x_BTD.new_zeros((), dtype=torch.float32)
        aux_mean = aux_sum.detach() / max(len(aux_losses), 1)
        counts_LE = torch.stack([counts[i] for i in sorted(counts)]).detach() if counts else None
        logits_BTV, lm_loss = self._head_and_loss(self.final_norm(x_BTD), targets_BT)
        if lm_loss is None:
            return ModelOutput(logits_BTV, None, None, aux_mean, counts_LE)
        # The weight is applied here, from the config: the seed's weight never reached its layers.
        loss = lm_loss + self.load_balancing_weight * aux_sum
        return ModelOutput(logits_BTV, loss, lm_loss, aux_mean, counts_LE)

    def _head_and_loss(self, h_BTD: torch.Tensor,
                       targets_BT: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(logits, next-token loss): the loss when there are targets, and then no logits when
        the micro-batch has more than train.ce_chunk_tokens tokens (engine.loss: they are
        never materialised whole)."""
        head_VD, chunk = self.embed.weight if self.head is None else self.head.weight, self.ce_chunk_tokens
        if targets_BT is not None and 0 < chunk < targets_BT.numel():
            return None, chunked_cross_entropy(h_BTD.flatten(0, 1), head_VD, targets_BT.flatten(), chunk)
        logits_BTV = F.linear(h_BTD, head_VD)
        if targets_BT is None:
            return logits_BTV, None
        return logits_BTV, F.cross_entropy(logits_BTV.float().flatten(0, 1), targets_BT.flatten())

    def compile_blocks(self, backend: str | Callable = "inductor") -> None:
        """torch.compile every transformer block in place (train.compile). Per block, not the
        whole model: one block's code compiles once and serves every layer and recursive
        pass, where the whole model would unroll layers x cycles into one long compile;
        inside a block the per-expert loop is a graph boundary (engine.moe._looped_experts).
        The embedding, output head and loss stay eager."""
        for layer in self.layers:
            layer.compile(backend=backend)

    def param_counts(self) -> tuple[int, int]:
        """(total, active per token): a tied embedding counts once; a token uses every
        non-expert weight and top_k of each MoE layer's E experts."""
        total = sum(p.numel() for p in self.parameters())
        expert = active_expert = 0.0
        for module in self.modules():
            if isinstance(module, MoE):
                n = sum(p.numel() for p in module.experts.parameters())
                expert += n
                active_expert += n * module.top_k / module.router_ED.shape[0]
        return total, int(round(total - expert + active_expert))
