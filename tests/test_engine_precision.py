"""Mixed-precision choices per device, and training under each one that this machine has."""

from __future__ import annotations

import pytest
import torch

from engine.config import Config, ConfigError
from engine.model import MoETransformer
from engine.optim import build_optimizers
from engine.precision import choose_precision
from engine.train import train_step

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def train_cfg(*overrides: str):
    return Config().apply_overrides(list(overrides)).validate().train


BF16, FP16, FP32 = torch.bfloat16, torch.float16, torch.float32


@pytest.mark.parametrize("overrides, device, bf16, name, scaler, muon", [
    ([], CUDA, True, "bf16", False, BF16),                        # Ampere and newer
    ([], CUDA, False, "fp16", True, FP16),                        # T4-class: fp16 needs the scaler
    (["train.amp_dtype=fp16"], CUDA, True, "fp16", True, FP16),
    (["train.use_amp=false"], CUDA, True, "fp32", False, FP32),   # fp32 in Muon's iteration too
    (["train.amp_dtype=off"], CUDA, False, "fp32", False, FP32),
    ([], CPU, False, "fp32", False, FP32),
    (["train.amp_dtype=fp16"], CPU, False, "fp32", False, FP32),
    (["train.amp_dtype=bf16"], CPU, False, "bf16", False, FP32),  # asked for explicitly
    (["train.amp_dtype=bf16", "train.use_amp=false"], CPU, False, "fp32", False, FP32),
])
def test_precision_follows_device_support_and_settings(overrides, device, bf16, name, scaler, muon):
    p = choose_precision(train_cfg(*overrides), device, bf16_supported=bf16)
    assert (p.name, p.use_scaler, p.muon_dtype) == (name, scaler, muon)


def test_asking_for_bf16_on_a_gpu_without_it_is_a_config_error():
    with pytest.raises(ConfigError, match="train.amp_dtype"):
        choose_precision(train_cfg("train.amp_dtype=bf16"), CUDA, bf16_supported=False)


def _one_step(device: torch.device, *overrides: str):
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32",
                                    *overrides]).validate()
    precision = choose_precision(cfg.train, device)
    torch.manual_seed(0)
    model = MoETransformer(cfg, 64).to(device)
    seq = torch.randint(0, 64, (4, 17), device=device)

    class Stream:
        def next(self):
            return seq[:, :-1], seq[:, 1:]

    scaler = precision.make_scaler()
    result = train_step(model, Stream(), build_optimizers(model, cfg, precision.muon_dtype), scaler, precision,
                        list(model.parameters()), 1, 1.0)
    return precision, result, model


def test_bf16_autocast_trains_on_cpu_with_fp32_weights():
    precision, result, model = _one_step(CPU, "train.amp_dtype=bf16")
    assert precision.name == "bf16"
    assert torch.isfinite(result.lm_loss) and torch.isfinite(result.grad_norm)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.parametrize("amp_dtype, scaled", [("bf16", False), ("fp16", True), ("off", False)])
def test_cuda_training_step_under_each_precision(amp_dtype, scaled):
    precision, result, model = _one_step(CUDA, f"train.amp_dtype={amp_dtype}")
    assert precision.use_scaler == scaled
    assert torch.isfinite(result.lm_loss) and torch.isfinite(result.grad_norm)
    assert all(p.dtype == torch.float32 for p in model.parameters())
