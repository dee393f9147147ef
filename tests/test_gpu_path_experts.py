"""Which expert computation a run uses, and the padded grouped GEMM at unaligned widths.

torch._grouped_mm's CPU kernel checks strides as the CUDA one does (forward only: it has
no backward in torch 2.13), so the crash an unaligned Hopper run met at step 1 reproduces
here, and so does the padded path's answer."""

from __future__ import annotations

import pytest
import torch

from engine.moe import ExpertPath, MoE, choose_expert_path, expert_compute, route
from tests.engine_helpers import of_type, quick_config, train_in_process

HOPPER = (9, 0)
BF16 = torch.bfloat16


@pytest.mark.parametrize("enabled, device, capability, dtype, d_model, d_ff, name", [
    (True, "cuda", HOPPER, BF16, 512, 1536, "grouped"),
    (True, "cuda", (10, 0), BF16, 512, 1536, "grouped"),
    (True, "cuda", HOPPER, BF16, 100, 1536, "grouped+padded"),  # the model.d_model=100
    (True, "cuda", HOPPER, BF16, 512, 1365, "grouped+padded"),  # moe.expert_d_ff=1365
    (True, "cuda", HOPPER, BF16, 512, 1500, "grouped+padded"),  # model.d_ff=1500
    (True, "cuda", (8, 0), BF16, 512, 1536, "loop"),  # A100: no grouped GEMM kernel
    (True, "cuda", HOPPER, torch.float16, 512, 1536, "loop"),  # the fp16 baseline family
    (True, "cuda", HOPPER, None, 512, 1536, "loop"),  # use_amp = false
    (True, "cpu", None, BF16, 512, 1536, "loop"),
    (False, "cuda", HOPPER, BF16, 512, 1536, "loop"),
])
def test_the_expert_path_follows_device_precision_and_alignment(enabled, device, capability, dtype, d_model, d_ff,
                                                                 name):
    path = choose_expert_path(enabled, device, capability, dtype, d_model, d_ff)
    assert path.name == name
    assert path.reason  # the start event says why


def sorted_slots(d_model: int, d_ff: int, activation: str) -> tuple[MoE, torch.Tensor, torch.Tensor]:
    """A bf16 MoE layer and its input rows sorted by expert, as MoE.forward hands them on."""
    torch.manual_seed(0)
    moe = MoE(d_model, d_ff, 4, 2, activation, dropout=0.0, noise_std=0.0, grouped_gemm=True)
    for p in moe.parameters():
        torch.nn.init.normal_(p, std=0.3)
    moe = moe.to(BF16)
    x_ND = torch.randn(24, d_model, dtype=BF16)
    routing = route(x_ND, moe.router_ED, moe.top_k, 0.0)
    order_S = torch.argsort(routing.experts_NK.flatten(), stable=True)
    return moe, x_ND.index_select(0, order_S // moe.top_k), routing.counts_E


def unpadded_grouped_gemms(x_SD: torch.Tensor, counts_E: torch.Tensor, moe: MoE) -> torch.Tensor:
    """The up and down projections as grouped GEMMs on the unpadded weights."""
    offs_E = counts_E.cumsum(0).to(torch.int32)
    h_SF = torch._grouped_mm(x_SD, moe.experts.w_up_EFD.transpose(-2, -1), offs=offs_E)
    return torch._grouped_mm(h_SF, moe.experts.w_down_EDF.transpose(-2, -1), offs=offs_E)


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
@pytest.mark.parametrize("d_model, d_ff", [(20, 36), (100, 64), (64, 1365 % 64)])
@torch.no_grad()
def test_a_hopper_bf16_run_at_unaligned_widths_pads_and_gets_the_loops_answer(activation, d_model, d_ff):
    moe, x_SD, counts_E = sorted_slots(d_model, d_ff, activation)
    path = choose_expert_path(True, "cuda", HOPPER, BF16, d_model, d_ff)
    assert path.name == "grouped+padded"
    with pytest.raises(RuntimeError, match="multiple of 16 bytes"):  # what the run died of at step 1
        unpadded_grouped_gemms(x_SD, counts_E, moe)
    padded = expert_compute(x_SD, counts_E, moe.experts, path)
    looped = expert_compute(x_SD, counts_E, moe.experts, ExpertPath("loop", "reference"))
    assert padded.shape == looped.shape == x_SD.shape
    torch.testing.assert_close(padded, looped, atol=2e-2, rtol=2e-2)


@torch.no_grad()
def test_aligned_widths_take_the_grouped_gemm_unpadded_with_the_loops_answer():
    moe, x_SD, counts_E = sorted_slots(32, 48, "swiglu")
    path = choose_expert_path(True, "cuda", HOPPER, BF16, 32, 48)
    assert path.name == "grouped"
    torch.testing.assert_close(expert_compute(x_SD, counts_E, moe.experts, path),
                               expert_compute(x_SD, counts_E, moe.experts, ExpertPath("loop", "reference")),
                               atol=2e-2, rtol=2e-2)


def test_the_start_event_and_engine_log_say_which_expert_path_the_run_uses(tmp_path, token_cache_dir, capsys):
    cfg = quick_config(token_cache_dir, "train.max_steps=1")
    code, events = train_in_process(tmp_path / "run", cfg)
    assert code == 0
    path = of_type(events, "start")[0]["expert_path"]
    assert path["name"] == "loop" and "cpu" in path["reason"]
    assert "experts: loop (grouped GEMM trains on CUDA only" in capsys.readouterr().err  # engine.log's text

    dense = quick_config(token_cache_dir, "train.max_steps=1", "moe.num_experts=1", "moe.top_k=1")
    code, events = train_in_process(tmp_path / "dense", dense)
    assert of_type(events, "start")[0]["expert_path"]["name"] == "dense"
