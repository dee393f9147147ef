"""`python -m engine.bench`: throughput of a config on random tokens."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from engine.bench import bench, flops_per_token
from engine.config import Config


def test_flops_per_token_is_six_per_active_weight_plus_attention_per_pass():
    cfg = Config().apply_overrides(["model.d_model=64", "model.n_layers=2", "model.max_seq_len=32"])
    assert flops_per_token(cfg, active_params=10_000 + 100 * 64, vocab_size=100) == \
        6 * (10_000 + 100 * 64) + 12 * 2 * 64 * 32
    recursive = cfg.apply_overrides(["model.recursive=true", "model.h_cycles=2", "model.l_cycles=3"])
    assert flops_per_token(recursive, 10_000 + 100 * 64, 100) == 6 * (6 * 10_000 + 100 * 64) + 6 * 12 * 2 * 64 * 32


def test_bench_times_real_optimizer_steps_on_cpu():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=32",
                                    "model.max_seq_len=16", "train.batch_size=2", "train.gradient_accumulation_steps=2",
                                    "data.vocab_size=256", "train.device=cpu"]).validate()
    result = bench(cfg, steps=2, warmup=1)
    assert result["device"] == "cpu" and result["dtype"] == "fp32" and result["mfu"] is None
    assert result["tokens_per_s"] == pytest.approx(2 * 64 / (2 * result["step_ms"] / 1000))
    assert 0 < result["params_active"] < result["params_total"]


def test_moetui_bench_measures_a_resolved_preset_with_overrides():
    tiny = ["model.d_model=32", "model.n_heads=2", "model.d_ff=32", "model.max_seq_len=16", "train.batch_size=2"]
    sets = [arg for item in tiny for arg in ("--set", item)]
    done = subprocess.run([sys.executable, "-m", "moetui", "bench", "quick", "--steps", "2", "--warmup", "1", *sets],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"on cpu \(fp32\): [\d.]+M params, [\d.]+M active \| [\d.]+ ms/step, [\d,]+ tokens/s", done.stdout)
    wrong = subprocess.run([sys.executable, "-m", "moetui", "bench", "quik"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "quick" in wrong.stderr and "Traceback" not in wrong.stderr
