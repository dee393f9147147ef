"""A config's size -- total and active parameters, training FLOPs per token -- without torch.

The launch form, the report and the benchmark show how big a config is before (or
without) building it, and the UI process must stay torch-free, so the counts are
arithmetic on the Config that mirrors engine/model.py and engine/moe.py module by module
(tests/test_engine_sizing.py holds them equal to `MoETransformer.param_counts()` for
every preset, study variant and architecture switch).

The vocab is an argument: the model's embedding is as large as the tokenizer, which a
pretrained tokenizer decides, not `data.vocab_size`. Callers that have no tokenizer at
hand pass `cfg.data.vocab_size`, exact only for a BPE trained here.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import Config


@dataclass(frozen=True)
class Size:
    """How big a config is, from the config alone: what the UI and the report show where
    importing torch to build the model is not allowed (or too slow), and what the
    benchmark turns into TFLOP/s and MFU."""

    total: int  # every parameter; a tied embedding counts once, recursive passes share weights
    active: int  # parameters one token uses: every non-expert weight and top_k of each layer's E experts
    flops_per_token: float  # training (forward + backward) FLOPs per token, see `flops_per_token`


def _norm_params(kind: str, dim: int) -> int:
    """nn.RMSNorm has a weight, nn.LayerNorm a weight and a bias, 'none' is an Identity."""
    return {"rmsnorm": dim, "layernorm": 2 * dim}.get(kind, 0)


def param_counts(cfg: Config, vocab_size: int) -> tuple[int, int]:
    """(total, active per token), equal to `MoETransformer(cfg, vocab_size).param_counts()`."""
    m, e = cfg.model, cfg.moe
    D = m.d_model
    # One expert (or the dense FFN): up and down projections, plus SwiGLU's gate projection.
    expert = (3 if m.activation == "swiglu" else 2) * cfg.expert_d_ff * D
    if e.num_experts == 1:  # DenseFFN: one expert's weights, no router
        ffn_total = ffn_active = expert
    else:  # the router (E x D, no bias) is used by every token, the experts top_k at a time
        router = e.num_experts * D
        ffn_total, ffn_active = router + e.num_experts * expert, router + e.top_k * expert
    attention = 4 * D * D  # fused qkv (3D x D) and out (D x D), no biases; RoPE tables are buffers
    block = attention + 2 * _norm_params(m.norm, D)
    # Post-norm blocks end in a norm already, so the model has no final one then.
    final_norm = _norm_params(m.norm, D) if m.norm_position == "pre" else 0
    embeddings = (1 if m.tie_embeddings else 2) * vocab_size * D  # the token embedding, and the head if untied
    shared = embeddings + final_norm + m.n_layers * block
    return shared + m.n_layers * ffn_total, shared + m.n_layers * ffn_active


def flops_per_token(cfg: Config, active_params: int, vocab_size: int) -> float:
    """Training FLOPs per token: 6 x active matmul weights (forward + backward) plus attention's
    12 x layers x d_model x seq (PaLM appendix B), repeated for each recursive pass. The
    embedding is a lookup, not a matmul: only the output head's vocab x d_model counts, once.
    (Norm weights ride along with the matmul weights: under 0.1% at any preset's size.)"""
    m = cfg.model
    passes = m.h_cycles * m.l_cycles if m.recursive else 1
    stack = active_params - (1 if m.tie_embeddings else 2) * vocab_size * m.d_model
    return 6 * (stack * passes + vocab_size * m.d_model) + 12 * m.n_layers * passes * m.d_model * m.max_seq_len


def size_of(cfg: Config, vocab_size: int) -> Size:
    """The Size of `cfg` with a `vocab_size`-token embedding (the tokenizer's, else
    `cfg.data.vocab_size`)."""
    total, active = param_counts(cfg, vocab_size)
    return Size(total, active, flops_per_token(cfg, active, vocab_size))
