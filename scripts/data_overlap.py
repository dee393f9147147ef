"""How much of a preset's validation text also occurs in its training text, word for word.

Prepares the preset's data as a run would (same split, same BPE trained on the training
documents) into a fresh token cache, so the build time printed is a cold one, then counts
the share of `--window`-token validation windows, one every `--stride` tokens, whose exact
token sequence occurs in the training tokens (`engine.dedup.window_overlap`). The figures
for the embedded corpus are in docs/benchmarks.md; the test suite holds them under 0.5 %.
Usage: python scripts/data_overlap.py [quick] [--window 32] [--stride 32] [--set data.split_seed=1 ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine.data import prepare_data
from engine.dedup import window_overlap
from moetui.presets import load_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="quick")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    cfg = load_preset(args.preset)[0].apply_overrides(args.set)
    with tempfile.TemporaryDirectory(prefix="moetui-overlap-") as cache:
        start = time.perf_counter()
        prepared = prepare_data(cfg, Path(cache), lambda event: None)
        seconds = time.perf_counter() - start
        share = window_overlap(prepared.train_tokens, prepared.val_tokens, args.window, args.stride)
    info = prepared.info
    print(f"{info['source']}, vocab {prepared.vocab_size:,}, split_seed {cfg.data.split_seed}")
    print(f"  {info['documents']:,} documents, {info['chars'] / 1e6:.2f} M characters "
          f"({info['train_documents']:,} train / {info['val_documents']:,} validation)")
    print(f"  {len(prepared.train_tokens):,} train + {len(prepared.val_tokens):,} validation tokens, "
          f"cold build {seconds:.2f} s")
    print(f"  {share:.2%} of {args.window}-token validation windows (stride {args.stride}) occur in training")


if __name__ == "__main__":
    main()
