"""`moetui bench` / `python -m engine.bench`: the training paths of one config side by side,
at the vocab the run would train with. Timings are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from engine.bench import bench
from engine.bench_paths import comparison_paths
from engine.bench_report import path_figures, ratios, render
from engine.bench_shapes import SHAPES, shape_config
from engine.bench_measure import Measured
from engine.bench_vocab import resolve_vocab
from engine.config import Config
from engine.data_error import DataError
from engine.sizing import param_counts, size_of
from engine.tokenizer import train_bpe
from moetui.presets import load_preset
from tests.engine_helpers import ROOT, TINY, of_type, quick_config, train_in_process

TINY_SETS = [arg for item in ["model.d_model=32", "model.n_heads=2", "model.d_ff=32", "model.max_seq_len=16",
                              "train.batch_size=2"] for arg in ("--set", item)]


def moetui_bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moetui", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_one_invocation_compares_the_loop_the_default_and_dense_paths_into_json(tmp_path):
    out = tmp_path / "bench.json"
    done = moetui_bench("quick", "--steps", "2", "--warmup", "1", *TINY_SETS, "--json", str(out))
    assert done.returncode == 0, done.stderr
    print(done.stdout)  # the CPU figures, for a person reading the test log
    doc = json.loads(out.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # written through a temp file, renamed
    assert doc["config"] == "quick" and doc["device"] == "cpu" and doc["peak"] is None
    assert doc["vocab"] == {"size": 2048, "source": "BPE trained by the run (data.vocab_size)"}
    assert doc["tokens_per_step"] == 2 * 16 and (doc["steps"], doc["warmup"]) == (2, 1)
    paths = doc["paths"]
    assert list(paths) == ["loop", "default", "dense"]
    assert [p["key"] for p in paths.values()] == ["a", "b", "c"]
    assert paths["loop"]["overrides"] == ["moe.grouped_gemm=false"]
    assert paths["dense"]["overrides"] == ["moe.num_experts=1", "moe.top_k=1", "moe.expert_d_ff=0", "model.d_ff=64"]
    assert [p["experts"] for p in paths.values()] == ["loop", "loop", "dense"]
    for p in paths.values():
        assert p["dtype"] == "fp32" and p["mfu"] is None
        assert p["tokens_per_s"] > 0 and p["tokens_per_s_read_every_step"] > 0 and p["peak_memory_mb"] >= 0
        assert p["tokens_per_s"] == pytest.approx(2 * 32 / (2 * p["step_ms"] / 1000))
        assert p["tflops"] == pytest.approx(p["tokens_per_s"] * p["flops_per_token"] / 1e12)
        assert set(p["split_ms"]) == {"forward_backward", "optimizer", "data"}
        assert p["split_ms"]["optimizer"] > 0 and p["split_ms"]["data"] > 0 and p["split_ms"]["forward_backward"] > 0
    assert paths["loop"]["params_total"] == paths["default"]["params_total"] > paths["dense"]["params_total"]
    # The dense model spends the MoE's active FLOPs: all but the router's E x d_model per layer.
    assert paths["dense"]["flops_per_token"] == pytest.approx(paths["default"]["flops_per_token"], rel=0.01)
    assert doc["ratios"]["b/a"] == pytest.approx(paths["default"]["tokens_per_s"] / paths["loop"]["tokens_per_s"])
    assert doc["ratios"]["b/c"] == pytest.approx(paths["default"]["tokens_per_s"] / paths["dense"]["tokens_per_s"])
    assert "b/a" in done.stdout and "a loop" in done.stdout and "c dense" in done.stdout
    assert "MFU: n/a" in done.stdout and "psutil" in done.stdout
    assert "experts of the default path: loop (grouped GEMM trains on CUDA only, this run is on cpu)" in done.stdout


def test_compiled_is_a_fourth_path_only_when_asked():
    cfg = load_preset("quick")[0]
    assert [p.name for p in comparison_paths(cfg, compiled=False)] == ["loop", "default", "dense"]
    compiled = comparison_paths(cfg, compiled=True)[-1]
    assert (compiled.key, compiled.name, compiled.cfg.train.compile) == ("d", "compiled", True)
    dense_cfg = cfg.apply_overrides(["moe.num_experts=1", "moe.top_k=1"])
    assert [p.name for p in comparison_paths(dense_cfg, compiled=False)] == ["default"]


@pytest.mark.parametrize("preset", ["quick", "baseline"])
def test_the_dense_path_has_the_active_flops_of_the_moe(preset):
    cfg = load_preset(preset)[0]
    default, dense = (size_of(p.cfg, 49152) for p in comparison_paths(cfg, False) if p.name in ("default", "dense"))
    router = cfg.model.n_layers * cfg.moe.num_experts * cfg.model.d_model
    assert default.flops_per_token - dense.flops_per_token == 6 * router
    assert dense.total == dense.active == default.active - router


def test_ratios_and_rates_come_from_the_measured_seconds():
    m = Measured("bf16", "grouped", "bf16 grouped GEMM, no host sync", 100, 40, quiet_s=2.0, read_s=4.0,
                 split_s={"forward_backward": 1.5, "optimizer": 0.4, "data": 0.1}, peak_memory_bytes=3_000_000)
    fast = path_figures(m, steps=10, tokens_per_step=1000, flops_per_token=1e9, peak_tflops=989.0)
    assert fast["tokens_per_s"] == 5000 and fast["tokens_per_s_read_every_step"] == 2500
    assert fast["step_ms"] == 200 and fast["split_ms"] == {"forward_backward": 150, "optimizer": 40, "data": 10}
    assert fast["tflops"] == pytest.approx(5e12 / 1e12) and fast["mfu"] == pytest.approx(5 / 989)
    assert fast["peak_memory_mb"] == 3.0
    slow = path_figures(Measured(**{**m.__dict__, "quiet_s": 8.0}), 10, 1000, 1e9, None)
    assert slow["mfu"] is None
    paths = {"loop": {**slow, "key": "a"}, "default": {**fast, "key": "b"}}
    assert ratios(paths) == {"b/a": 4.0}  # no dense path, no b/c
    doc = {"config": "x", "device": "NVIDIA H200", "torch": "2.11", "vocab": {"size": 8192, "source": "s"},
           "tokens_per_step": 1000, "warmup": 3, "steps": 10, "peak": {"name": "H200", "tflops": 989.0},
           "memory": "CUDA", "paths": paths, "ratios": ratios(paths)}
    text = render(doc)
    assert "MFU against H200 989 TFLOP/s dense bf16" in text and "b/a 4.00x" in text and "0.5%" in text


def test_the_moe100m_shape_is_100m_total_25m_active_at_sequence_512():
    cfg = shape_config("moe100m")
    size = size_of(cfg, resolve_vocab(cfg.data).size)
    assert 95e6 < size.total < 105e6 and 22e6 < size.active < 27e6 and cfg.model.max_seq_len == 512
    assert cfg.expert_d_ff % 64 == 0 and cfg.model.d_model % 64 == 0  # grouped GEMM's alignment, no padding
    assert shape_config("moe100m", ["train.batch_size=8"]).train.batch_size == 8
    assert "moe100m" in SHAPES


def test_bench_builds_the_model_the_run_trains_from_a_tokenizer_file(tmp_path, token_cache_dir):
    """Before: the bench model had data.vocab_size rows (2,048 here) whatever the tokenizer held."""
    tokenizer = train_bpe(["the quick brown fox jumps over the lazy dog"] * 50 + ["def f(x): return x + 1"] * 50, 300)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    cfg = quick_config(token_cache_dir, f"data.tokenizer={path}", "train.max_steps=1", "train.device=cpu")
    code, events = train_in_process(tmp_path / "run", cfg)
    assert code == 0
    (start,) = of_type(events, "start")
    vocab = resolve_vocab(cfg.data)
    assert vocab.size == start["vocab_size"] == tokenizer.get_vocab_size() != cfg.data.vocab_size
    assert vocab.source == f"tokenizer {str(path)!r}"
    default = bench(cfg, vocab.size, steps=1, warmup=0)["paths"]["default"]
    assert (default["params_total"], default["params_active"]) == (start["params_total"], start["params_active"])
    assert (default["params_total"], default["params_active"]) == param_counts(cfg, vocab.size)


def test_baseline_with_vocab_49152_is_the_79m_model_its_tokenizer_gives():
    cfg = load_preset("baseline")[0]
    vocab = resolve_vocab(cfg.data, 49152)  # the Hub is offline in the tests: --vocab stands in
    size = size_of(cfg, vocab.size)
    assert (round(size.total / 1e5), round(size.active / 1e5)) == (791, 366)  # not 63.3M / 20.9M
    assert vocab.source == "--vocab (tokenizer 'HuggingFaceTB/SmolLM-135M' not readable here)"


def test_an_unknown_vocab_offline_is_one_line_that_says_to_pass_vocab():
    for done in (moetui_bench("baseline", timeout=60),
                 subprocess.run([sys.executable, "-m", "engine.bench", "--config", "presets/baseline.toml"],
                                capture_output=True, text=True, timeout=60, cwd=ROOT)):
        assert done.returncode == 1 and done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert "'HuggingFaceTB/SmolLM-135M'" in line and "HF_HUB_OFFLINE=1" in line and "pass --vocab N" in line


def test_vocab_must_agree_with_a_tokenizer_that_can_be_read(tmp_path):
    cfg = Config().apply_overrides(TINY)
    assert resolve_vocab(cfg.data, 8192).size == 8192
    with pytest.raises(DataError, match="--vocab 300 contradicts the trained BPE's data.vocab_size"):
        resolve_vocab(cfg.data, 300)
    path = tmp_path / "tokenizer.json"
    train_bpe(["abc abd abe"] * 10, 270).save(str(path))
    with pytest.raises(DataError, match="contradicts tokenizer"):
        resolve_vocab(cfg.apply_overrides([f"data.tokenizer={path}"]).data, 49152)


def test_json_into_a_missing_folder_is_refused_before_measuring(tmp_path):
    done = moetui_bench("quick", "--json", str(tmp_path / "absent" / "b.json"), timeout=60)
    assert done.returncode == 1 and "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_a_misspelled_preset_is_one_line():
    wrong = moetui_bench("quik", timeout=60)
    assert wrong.returncode == 1 and "quick" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.gpu
def test_on_cuda_every_path_reports_its_memory_and_mfu(tmp_path):
    """(The compiled path runs in scripts/gpu_check.sh's bench of moe100m: compiling takes a minute.)"""
    out = tmp_path / "bench.json"
    done = moetui_bench("quick", "--steps", "3", "--warmup", "2", "--set", "train.amp_dtype=bf16",
                        "--json", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    doc = json.loads(out.read_text())
    assert list(doc["paths"]) == ["loop", "default", "dense"]
    for p in doc["paths"].values():
        assert p["dtype"] == "bf16" and p["peak_memory_mb"] > 0 and p["tokens_per_s"] > 0
        assert (p["mfu"] is None) == (doc["peak"] is None)
    assert doc["paths"]["loop"]["experts"] == "loop" and doc["paths"]["dense"]["experts"] == "dense"
    hopper = torch.cuda.get_device_capability() >= (9, 0)
    assert doc["paths"]["default"]["experts"] == ("grouped" if hopper else "loop")
