"""engine.sizing: a config's parameter and FLOPs counts without torch, equal to the built model's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.bench import flops_per_token as bench_flops_per_token
from engine.config import Config
from engine.model import MoETransformer
from engine.sizing import Size, flops_per_token, size_of
from moetui.presets import list_presets, list_studies, load_preset, load_study, study_configs

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 97
SMALL = ["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=48", "model.max_seq_len=16",
         "moe.num_experts=4", "moe.top_k=2"]
EDGES = {
    "default": [],
    "dense": ["moe.num_experts=1", "moe.top_k=1"],
    "top_k_all": ["moe.top_k=4"],
    "top_1": ["moe.top_k=1"],
    "layernorm": ["model.norm=layernorm"],
    "layernorm_post": ["model.norm=layernorm", "model.norm_position=post"],
    "no_norm": ["model.norm=none"],
    "rmsnorm_post": ["model.norm_position=post"],
    "silu": ["model.activation=silu"],
    "gelu": ["model.activation=gelu"],
    "swiglu": ["model.activation=swiglu"],
    "untied": ["model.tie_embeddings=false"],
    "recursive": ["model.recursive=true", "model.h_cycles=3", "model.l_cycles=2"],
    "expert_d_ff": ["moe.expert_d_ff=24"],
    "no_rope": ["model.pos_encoding=none"],
    "dense_gelu_untied_layernorm": ["moe.num_experts=1", "moe.top_k=1", "model.activation=gelu",
                                    "model.tie_embeddings=false", "model.norm=layernorm", "moe.expert_d_ff=40"],
    "many_experts": ["moe.num_experts=16", "moe.top_k=3", "model.n_layers=3"],
}


def model_counts(cfg: Config, vocab: int, meta: bool = False) -> tuple[int, int]:
    """The built model's own count; on the meta device full-size presets cost no memory or time."""
    with torch.device("meta" if meta else "cpu"):
        return MoETransformer(cfg, vocab).param_counts()


@pytest.mark.parametrize("edge", EDGES, ids=list(EDGES))
def test_every_architecture_switch_is_counted_as_the_model_counts_it(edge):
    cfg = Config().apply_overrides([*SMALL, *EDGES[edge]]).validate()
    size = size_of(cfg, VOCAB)
    assert (size.total, size.active) == model_counts(cfg, VOCAB)


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_preset_at_full_size_matches_its_model(name):
    cfg = load_preset(name)[0]
    for vocab in (cfg.data.vocab_size, 49152):  # the BPE's size, and a pretrained tokenizer's
        size = size_of(cfg, vocab)
        assert (size.total, size.active) == model_counts(cfg, vocab, meta=True)


@pytest.mark.parametrize("study", sorted(list_studies()))
def test_every_study_variant_matches_its_model(study):
    for variant, _, cfg in study_configs(load_study(study), seeds=[0]):
        size = size_of(cfg, cfg.data.vocab_size)
        assert (size.total, size.active) == model_counts(cfg, cfg.data.vocab_size, meta=True), variant


def test_the_components_base_is_seed_report_004s_22_7m_all_active():
    size = size_of(load_preset("components-base")[0], 10_000)
    assert size.total == size.active == 22_696_448  # 17.6M + a 10,000 x 512 untied head


def test_recursion_shares_weights_but_repeats_the_flops():
    cfg = Config().apply_overrides(SMALL).validate()
    recursive = cfg.apply_overrides(["model.recursive=true", "model.h_cycles=2", "model.l_cycles=3"])
    once, six = size_of(cfg, VOCAB), size_of(recursive, VOCAB)
    assert (six.total, six.active) == (once.total, once.active)
    head = 6 * VOCAB * 32  # the output head's matmul, once per token however many passes
    assert six.flops_per_token - head == pytest.approx(6 * (once.flops_per_token - head))


def test_flops_follow_the_benchmarks_convention_and_bench_uses_this_one_formula():
    cfg = Config().apply_overrides(SMALL).validate()
    size = size_of(cfg, VOCAB)
    assert isinstance(size, Size) and bench_flops_per_token is flops_per_token
    assert size.flops_per_token == flops_per_token(cfg, model_counts(cfg, VOCAB)[1], VOCAB)
    assert size.flops_per_token == 6 * size.active + 12 * 2 * 32 * 16  # tied: the embedding is the head


def test_importing_sizing_does_not_load_torch():
    done = subprocess.run([sys.executable, "-c", "import engine.sizing, sys; assert 'torch' not in sys.modules"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
