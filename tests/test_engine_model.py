"""The transformer: every architecture switch changes the computation and trains,
parameter counts are honest, attention is causal and the head is tied."""

from __future__ import annotations

import pytest
import torch

from engine.config import Config
from engine.model import MoETransformer
from engine.moe import MoE
from engine.optim import build_optimizers

VOCAB = 97
BASE = ["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=48", "model.max_seq_len=16",
        "model.dropout=0.0", "moe.num_experts=4", "moe.top_k=2", "optim.muon_lr=0.02", "optim.adamw_lr=0.003"]


def small(*overrides: str) -> Config:
    return Config().apply_overrides([*BASE, *overrides]).validate()


def build(cfg: Config) -> MoETransformer:
    torch.manual_seed(0)
    return MoETransformer(cfg, VOCAB)


def tokens(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, VOCAB, (3, 17), generator=g)
    return seq[:, :-1], seq[:, 1:]


SWITCHES = ["model.norm=layernorm", "model.norm=none", "model.norm_position=post", "model.pos_encoding=none",
            "model.activation=silu", "model.activation=gelu", "model.embed_scale=false", "moe.num_experts=1",
            "moe.top_k=1", "model.recursive=true", "model.tie_embeddings=false"]


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_architecture_switch_changes_the_output_and_trains_a_step(switch):
    x, y = tokens()
    base_logits = build(small()).eval()(x).logits_BTV
    cfg = small(switch, *(["moe.top_k=1"] if switch == "moe.num_experts=1" else []))
    model = build(cfg)
    out = model.eval()(x)
    assert out.logits_BTV.shape == (3, 16, VOCAB)
    # Where the parameter shapes agree the seeded init is identical, so any difference is the switch.
    assert not torch.allclose(out.logits_BTV, base_logits, atol=1e-5), switch

    model.train()
    optimizers = build_optimizers(model, cfg)
    before = model(x, y).loss
    before.backward()
    for opt in optimizers.optimizers:
        opt.step()
    after = model(x, y).loss
    assert torch.isfinite(before) and after < before, switch


def test_recursive_mode_reapplies_the_stack_and_reinjects_the_input():
    """h=1,l=2 is the stack twice; h=2,l=1 is the stack twice with the embedding added
    in between; the parameters are the same as the plain model's."""
    x, _ = tokens()
    plain = build(small())
    twice = build(small("model.recursive=true", "model.h_cycles=1", "model.l_cycles=2"))
    reinjected = build(small("model.recursive=true", "model.h_cycles=2", "model.l_cycles=1"))
    assert plain.param_counts() == twice.param_counts() == reinjected.param_counts()
    for m in (plain, twice, reinjected):
        m.eval()
    with torch.no_grad():
        e = plain.embed(x) * plain.embed_scale
        h = e
        for _ in range(2):
            for layer in plain.layers:
                h, _ = layer(h)
        expected_twice = torch.nn.functional.linear(plain.final_norm(h), plain.embed.weight)
        assert torch.allclose(twice(x).logits_BTV, expected_twice, atol=1e-5)
        h = e
        for cycle in range(2):
            h = h + e if cycle else h
            for layer in plain.layers:
                h, _ = layer(h)
        expected_reinjected = torch.nn.functional.linear(plain.final_norm(h), plain.embed.weight)
        assert torch.allclose(reinjected(x).logits_BTV, expected_reinjected, atol=1e-5)


def test_attention_is_causal_no_position_sees_a_later_token():
    model = build(small()).eval()
    x, _ = tokens()
    changed = x.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % VOCAB
    a, b = model(x).logits_BTV, model(changed).logits_BTV
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-5)
    assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-5)


def test_rope_makes_attention_see_token_order():
    """One layer without position encoding: the last position attends to a set of tokens,
    so swapping two earlier tokens changes nothing; with RoPE it does."""
    x = torch.tensor([[3, 8, 5, 9]])
    swapped = torch.tensor([[8, 3, 5, 9]])
    nope = build(small("model.n_layers=1", "model.pos_encoding=none")).eval()
    rope = build(small("model.n_layers=1")).eval()
    assert torch.allclose(nope(x).logits_BTV[0, -1], nope(swapped).logits_BTV[0, -1], atol=1e-5)
    assert not torch.allclose(rope(x).logits_BTV[0, -1], rope(swapped).logits_BTV[0, -1], atol=1e-5)


def test_the_output_head_is_the_embedding():
    model = build(small())
    names = [n for n, _ in model.named_parameters()]
    assert sum("embed" in n for n in names) == 1
    x, y = tokens()
    model(x, y).loss.backward()
    assert model.embed.weight.grad is not None


def test_active_parameters_count_top_k_of_e_experts_for_the_seed_baseline():
    """The seed showed 22.4M 'active' for its default (no expert weight at all); the truth is
    ~36.6M of ~79M: every non-expert weight plus 2 of 8 experts per layer."""
    cfg = Config().apply_overrides(["model.activation=silu"]).validate()  # the seed's plain SiLU experts
    with torch.device("meta"):
        model = MoETransformer(cfg, 49152)
    total, active = model.param_counts()
    expert = sum(p.numel() for m in model.modules() if isinstance(m, MoE) for p in m.experts.parameters())
    assert expert == 6 * 8 * 2 * 384 * 1536
    assert total == pytest.approx(79.0e6, rel=0.01)
    assert active == total - expert + expert // 4
    assert active == pytest.approx(36.6e6, rel=0.005)


def test_an_untied_head_is_the_vocab_matrix_of_seed_report_004s_22_7m_model():
    """The report's dense 512d 4L model had 22.7M parameters with its own output head."""
    from moetui.presets import load_preset

    cfg = load_preset("components-base")[0]
    with torch.device("meta"):
        untied = MoETransformer(cfg, cfg.data.vocab_size)
        tied = MoETransformer(cfg.apply_overrides(["model.tie_embeddings=true"]), cfg.data.vocab_size)
    assert untied.param_counts()[0] - tied.param_counts()[0] == 10_000 * 512
    assert untied.param_counts() == (pytest.approx(22.7e6, rel=0.005),) * 2  # dense: every weight active


def test_a_dense_model_has_every_parameter_active():
    total, active = build(small("moe.num_experts=1", "moe.top_k=1")).param_counts()
    assert total == active


def test_init_draws_every_matrix_from_normal_init_std_and_norms_start_at_one():
    model = build(small("model.init_std=0.05", "model.d_model=64", "model.d_ff=256"))
    for name, p in model.named_parameters():
        if p.ndim >= 2:
            assert p.std().item() == pytest.approx(0.05, rel=0.1), name
        else:
            assert torch.all(p == 1), name
