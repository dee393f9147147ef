"""train.compile: each transformer block compiles once, with the per-expert loop as its
one graph boundary, and a compiled run trains. Inductor takes about a minute to compile
even the tiny model on 2 CPU cores (a 3-step run: 55 s), so these tests compile with
backends that capture the same graphs but skip code generation."""

from __future__ import annotations

import pytest
import torch

from engine.config import Config
from engine.model import MoETransformer
from tests.engine_helpers import of_type, quick_config, train_in_process


def tiny_model() -> MoETransformer:
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=3", "model.d_ff=32",
                                    "model.dropout=0"]).validate()
    torch.manual_seed(0)
    return MoETransformer(cfg, 50)


def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x_BT = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(seed))
    return x_BT, torch.roll(x_BT, -1, 1)


def test_blocks_compile_once_whatever_the_expert_group_sizes_of_later_batches():
    """The group sizes the loop reads to the host change every batch; inside the graph they
    made dynamo recompile the code after its break. As a boundary they cost nothing."""
    model, eager = tiny_model(), tiny_model()
    graphs: list[torch.fx.GraphModule] = []

    def counting_backend(gm: torch.fx.GraphModule, example_inputs: list) -> callable:
        graphs.append(gm)
        return gm.forward

    model.compile_blocks(counting_backend)
    x_BT, y_BT = batch(0)
    model(x_BT, y_BT).loss.backward()
    compiled_once = len(graphs)
    assert compiled_once > 0
    group_sizes = set()
    for seed in range(1, 6):
        x_BT, y_BT = batch(seed)
        out = model(x_BT, y_BT)
        out.loss.backward()
        group_sizes.add(tuple(out.expert_counts_LE[0].tolist()))
        assert torch.allclose(out.loss, eager(x_BT, y_BT).loss, atol=1e-6)
    assert len(group_sizes) == 5 and len(graphs) == compiled_once


def test_a_compiled_run_trains_and_matches_the_eager_runs_losses(tmp_path, token_cache_dir, monkeypatch):
    eager_cfg = quick_config(token_cache_dir, "train.max_steps=3")
    _, eager = train_in_process(tmp_path / "eager", eager_cfg)

    compile_fn = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **options: compile_fn(fn, **{**options, "backend": "eager"}))
    code, compiled = train_in_process(tmp_path / "compiled", quick_config(token_cache_dir, "train.max_steps=3",
                                                                          "train.compile=true"))
    assert code == 0
    losses = [[e["loss"] for e in of_type(events, "step")] for events in (eager, compiled)]
    assert len(losses[1]) == 3 and losses[1] == pytest.approx(losses[0], rel=1e-4)
