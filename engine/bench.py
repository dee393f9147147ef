"""`python -m engine.bench --config FILE [--set k=v ...] [--steps N] [--vocab N] [--compile] [--json FILE]`

Training throughput of a config on this machine, side by side in one process at one
shape: the per-expert loop, the default path, the dense model of equal active FLOPs and,
with --compile, the compiled model (engine.bench_paths), each after its own warm-up
(engine.bench_measure). Full optimizer steps -- the engine's own `train_step`, optimizers
and loss guards -- on random tokens, so no data is prepared and nothing is cached; the
model is built at the vocab the run would have (engine.bench_vocab). `moetui bench` is
the front end: it resolves presets and bench shapes into the config file this reads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.bench_device import device_name, memory_method, peak_of
from engine.bench_measure import measure
from engine.bench_paths import comparison_paths
from engine.bench_report import path_figures, ratios, render
from engine.bench_vocab import resolve_vocab
from engine.config import Config, ConfigError, parse_toml
from engine.data_error import DataError
from engine.lifecycle import pick_device
from engine.precision import enable_tf32
from engine.rundir import atomic_write_text
from engine.sizing import flops_per_token

RANDOM_TOKENS = 2_000_000  # windows drawn from this many random ids: more than any batch reads


def bench(cfg: Config, vocab_size: int, steps: int, warmup: int, compiled: bool = False) -> dict[str, Any]:
    """Every path of `cfg` measured; the JSON document (`vocab` and `config` are the caller's)."""
    device = pick_device(cfg.train.device)
    if device.type == "cuda":
        enable_tf32()
    peak = peak_of(device)
    tokens = np.random.default_rng(0).integers(0, vocab_size, size=RANDOM_TOKENS, dtype=np.int64)
    paths: dict[str, dict[str, Any]] = {}
    for path in comparison_paths(cfg, compiled):
        m = measure(path, vocab_size, device, tokens, steps, warmup)
        flops = flops_per_token(path.cfg, m.params_active, vocab_size)
        paths[path.name] = {"key": path.key, "overrides": list(path.overrides),
                            **path_figures(m, steps, cfg.tokens_per_step, flops, peak.tflops if peak else None)}
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "device": device_name(device), "torch": torch.__version__, "steps": steps, "warmup": warmup,
            "tokens_per_step": cfg.tokens_per_step,
            "peak": {"name": peak.name, "tflops": peak.tflops} if peak else None,
            "memory": memory_method(device), "paths": paths, "ratios": ratios(paths), "settings": cfg.to_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="a config or preset TOML (no `extends`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per pass")
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps before a path's passes")
    parser.add_argument("--vocab", type=int, default=None,
                        help="the tokenizer's size, where data.tokenizer cannot be read here (offline Hub name)")
    parser.add_argument("--compile", action="store_true", help="also measure train.compile=true")
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    parser.add_argument("--name", default=None, help="what to call the config in the output (default: the file's)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    try:
        if args.json is not None and not args.json.parent.is_dir():  # found out now, not after minutes of measuring
            raise ConfigError("--json", str(args.json), f"its folder {str(args.json.parent)!r} does not exist")
        table = parse_toml(args.config.read_text(), str(args.config))
        table.pop("description", None)  # a preset's documentation line
        cfg = Config.from_dict(table, str(args.config)).apply_overrides(args.overrides).validate()
        vocab = resolve_vocab(cfg.data, args.vocab)
    except (ConfigError, DataError) as error:
        print(error, file=sys.stderr)
        return 1
    doc = {"config": args.name or args.config.stem, "vocab": {"size": vocab.size, "source": vocab.source},
           **bench(cfg, vocab.size, args.steps, args.warmup, args.compile)}
    print(render(doc))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
