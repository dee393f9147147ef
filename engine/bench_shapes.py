"""Shapes the benchmark knows by name besides the presets, for `moetui bench NAME`.

A bench shape is a model sized for measuring, not a recipe for training well, so it is
not a preset (presets are what the launch form offers). Each is a list of `--set`
overrides on the schema defaults, which already give the embedded corpus, a trained
BPE of 8,192 tokens, SwiGLU experts and sequence 512. No torch: the CLI resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import Config


@dataclass(frozen=True)
class Shape:
    description: str
    overrides: tuple[str, ...]


SHAPES: dict[str, Shape] = {
    # Issue 13's GPU shape: 100.7M total / 23.7M active (engine.sizing; tests/test_engine_bench.py
    # holds it there). 16 experts of hidden size 448 (a multiple of 64, as grouped GEMM wants),
    # top-2, so the dense model of equal active FLOPs has d_ff 896. Batch 64 x 512 = 32,768
    # tokens a step, enough to fill an H100/H200 without gradient accumulation; no dropout.
    "moe100m": Shape("~100M total / ~25M active MoE at sequence 512: d512 8L, 16 experts (hidden 448) top-2",
                     ("model.d_model=512", "model.n_heads=8", "model.n_layers=8", "model.d_ff=448",
                      "model.max_seq_len=512", "model.dropout=0.0", "moe.num_experts=16", "moe.top_k=2",
                      "train.batch_size=64", "train.gradient_accumulation_steps=1", "data.vocab_size=8192")),
}


def shape_config(name: str, overrides: list[str] | None = None) -> Config:
    """The config of bench shape `name` with the user's `--set` overrides on top."""
    shape = Config().apply_overrides(list(SHAPES[name].overrides), f"bench shape {name}")
    return shape.apply_overrides(overrides or [], "--set").validate("--set")
