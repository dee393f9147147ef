"""What one checkpoint costs: seconds and megabytes of `engine.checkpoint.save_checkpoint`
for a preset's model on this machine, to choose the default cadence (train.checkpoint_every,
train.checkpoint_minutes) and to tell a person what it costs them.

The model is built at the vocab of the preset's tokenizer (49,152 for the seed's SmolLM
tokenizer, else data.vocab_size), so no data is prepared; one optimizer step on random
tokens fills the optimizers' states, which a checkpoint carries beside the weights. The
save is the engine's own: serialise into memory, write a temp file, fsync, rename over the
old checkpoint. Each figure is the median of `--repeat` saves (shared, noisy machines).
Usage: python scripts/bench_checkpoint.py [--presets quick baseline] [--repeat 3] [--dir /tmp/moetui-ckpt]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import Progress, save_checkpoint
from engine.data import BatchStream
from engine.model import MoETransformer
from engine.optim import build_optimizers
from engine.precision import choose_precision
from engine.train import train_step
from moetui.presets import load_preset

SMOLLM_VOCAB = 49152  # HuggingFaceTB/SmolLM-135M, the tokenizer of the seed presets


def measure(preset: str, repeat: int, directory: Path) -> dict[str, float]:
    cfg, _ = load_preset(preset)
    cfg = cfg.apply_overrides(["train.device=cpu", "train.gradient_accumulation_steps=1", "train.batch_size=1"])
    vocab = cfg.data.vocab_size if cfg.data.tokenizer == "bpe" else SMOLLM_VOCAB
    device = torch.device("cpu")
    precision = choose_precision(cfg.train, device)
    torch.manual_seed(0)
    model = MoETransformer(cfg, vocab)
    optimizers = build_optimizers(model, cfg, precision.muon_dtype)
    scaler = precision.make_scaler()
    tokens = np.random.default_rng(0).integers(0, vocab, size=100_000, dtype=np.int64)
    stream = BatchStream(tokens, 1, cfg.model.max_seq_len, 0, device)
    params = list(model.parameters())
    train_step(model, stream, optimizers, scaler, precision, params, 1, cfg.optim.grad_clip)
    path = directory / f"{preset}.pt"
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        save_checkpoint(path, model, optimizers, scaler, stream.state_dict(), Progress(step=1), cfg.to_dict())
        seconds.append(time.perf_counter() - start)
    size = path.stat().st_size
    path.unlink()
    return {"params": sum(p.numel() for p in params), "seconds": statistics.median(seconds), "mb": size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["quick", "baseline"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/moetui-ckpt"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print("| preset | params | save (s) | size (MB) |")
    print("|---|---|---|---|")
    for preset in args.presets:
        m = measure(preset, args.repeat, args.dir)
        print(f"| {preset} | {m['params'] / 1e6:.2f}M | {m['seconds']:.2f} | {m['mb']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
