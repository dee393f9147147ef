"""`python -m engine.bench --config presets/quick.toml [--set k=v ...] [--steps N]`

Training throughput of a config on this machine: tokens/s of full optimizer steps
(forward, backward, clip, Muon/AdamW) and model FLOPs utilisation where the device's
peak is known. Random tokens stand in for text, so no data preparation is timed and
nothing is cached; the first steps (allocator warm-up, torch.compile) are not timed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from engine.config import Config, parse_toml
from engine.data import BatchStream
from engine.lifecycle import pick_device
from engine.model import MoETransformer
from engine.optim import build_optimizers
from engine.precision import choose_precision, enable_tf32
from engine.sizing import flops_per_token
from engine.train import train_step

# Dense bf16/fp16 tensor-core peaks (no sparsity), FLOP/s, by a substring of the device name.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12, "A10G": 70e12,
              "L4": 121e12, "3090": 71e12, "V100": 125e12, "T4": 65e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_FLOPS.items() if key in name), None)


def bench(cfg: Config, steps: int, warmup: int) -> dict[str, float | str | None]:
    device = pick_device(cfg.train.device)
    precision = choose_precision(cfg.train, device)
    if device.type == "cuda":
        enable_tf32()
    torch.manual_seed(cfg.train.seed)
    vocab = cfg.data.vocab_size
    model = MoETransformer(cfg, vocab).to(device)
    forward = torch.compile(model) if cfg.train.compile else model
    optimizers = build_optimizers(model, cfg, precision.muon_dtype)
    scaler = precision.make_scaler()
    tokens = np.random.default_rng(0).integers(0, vocab, size=2_000_000, dtype=np.int64)
    stream = BatchStream(tokens, cfg.train.batch_size, cfg.model.max_seq_len, cfg.train.seed, device)
    params = list(model.parameters())

    def step() -> None:
        result = train_step(forward, stream, optimizers, scaler, precision, params,
                            cfg.train.gradient_accumulation_steps, cfg.optim.grad_clip)
        result.lm_loss.item()  # wait for the device, as the training loop does every step

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    total, active = model.param_counts()
    tokens_per_s = steps * cfg.tokens_per_step / seconds
    peak = peak_flops(device)
    achieved = tokens_per_s * flops_per_token(cfg, active, vocab)
    return {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "dtype": precision.name, "params_total": total, "params_active": active,
            "step_ms": 1000 * seconds / steps, "tokens_per_s": tokens_per_s, "tflops": achieved / 1e12,
            "mfu": achieved / peak if peak else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="a config or preset TOML (no `extends`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps first")
    args = parser.parse_args(argv)
    table = parse_toml(args.config.read_text(), str(args.config))
    table.pop("description", None)  # a preset's documentation line
    cfg = Config.from_dict(table, str(args.config)).apply_overrides(args.overrides).validate()
    r = bench(cfg, args.steps, args.warmup)
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a (peak unknown)"
    print(f"{args.config.name} {' '.join(args.overrides)} on {r['device']} ({r['dtype']}): "
          f"{r['params_total'] / 1e6:.2f}M params, {r['params_active'] / 1e6:.2f}M active | "
          f"{r['step_ms']:.1f} ms/step, {r['tokens_per_s']:,.0f} tokens/s, {r['tflops']:.3f} TFLOP/s, MFU {mfu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
