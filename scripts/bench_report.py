"""How long `moetui report` takes over a large store: 1,000 runs of 1,000 steps by default.

Builds the store once (events as the engine writes them: a step event every step, an eval
and an experts event every 10), then times the report cold (no digest cache: every events
file is read) and warm (digests cached by size/mtime), each two ways: in this process
through the real command line (the report alone, imports already done) and as a fresh
`python -m moetui report` subprocess (what a person waits for: start-up and imports too).
The operating system's file cache is warm either way. Each figure is the median of
`--repeat` tries, since the machines these run on are shared and noisy.
Usage: python scripts/bench_report.py [--runs 1000] [--steps 1000] [--repeat 3] [--dir /tmp/moetui-bench]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from typer.testing import CliRunner

from engine.config import Config
from engine.protocol import encode, make_event
from engine.rundir import CONFIG_FILE, EVENTS_FILE, RUN_FILE
from moetui.cli import app
from moetui.report.cache import CACHE_FILE


def build_store(root: Path, runs: int, steps: int) -> None:
    rng = random.Random(0)
    base = Config().apply_overrides([f"train.max_steps={steps}"])
    for i in range(runs):
        variant = "baseline" if i % 10 == 0 else f"v{i % 10}"
        cfg = base.apply_overrides([f"train.seed={i // 10}", f"optim.muon_lr={0.01 * (1 + i % 10)}"])
        run_dir = root / f"run-{i:04d}"
        run_dir.mkdir(parents=True)
        (run_dir / CONFIG_FILE).write_text(cfg.to_toml())
        (run_dir / RUN_FILE).write_text(json.dumps({
            "id": run_dir.name, "name": run_dir.name, "preset": "default", "study": "bench", "variant": variant,
            "seed": i // 10, "status": "completed", "created": float(i)}))
        lines = [make_event("start", step=0, config=cfg.to_dict(), params_total=79_000_000, params_active=36_600_000,
                            device="cuda", dtype="bf16", world_size=1, tokens_per_step=cfg.tokens_per_step,
                            max_steps=steps, vocab_size=49152, resumed=False)]
        floor = 4 + rng.random()
        for step in range(1, steps + 1):
            loss = floor + 6 * math.exp(-step / 200) + rng.random() * 0.05
            lines.append(make_event("step", step=step, loss=loss, aux_loss=0.0102, lr=0.065, adamw_lr=0.0065,
                                    grad_norm=0.8, tokens_per_s=54000.0, tokens=step * cfg.tokens_per_step,
                                    elapsed=step * 0.2))
            if step % 10 == 0:
                lines.append(make_event("experts", step=step, load=[[0.125] * 8] * 6))
                lines.append(make_event("eval", step=step, val_loss=loss + 0.1, val_accuracy=0.2,
                                        val_perplexity=math.exp(loss + 0.1)))
        lines.append(make_event("end", step=steps, status="completed", metrics={"tokens": steps * cfg.tokens_per_step},
                                wall_time=steps * 0.2))
        (run_dir / EVENTS_FILE).write_text("".join(encode(e) + "\n" for e in lines))


def _args(root: Path) -> list[str]:
    return ["report", "--runs-dir", str(root), "--format", "md"]


def in_process(root: Path) -> None:
    result = CliRunner().invoke(app, _args(root))
    if result.exit_code != 0:
        raise SystemExit(f"report failed: {result.output}")


def subprocess_cli(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "moetui", *_args(root)], check=True, stdout=subprocess.DEVNULL)


def median_seconds(report: Callable[[Path], None], root: Path, cold: bool, repeat: int) -> tuple[float, list[float]]:
    """Median wall time of `repeat` reports (and every try); `cold` deletes the digest cache first."""
    times = []
    for _ in range(repeat):
        if cold:
            (root / CACHE_FILE).unlink(missing_ok=True)
        else:
            report(root)  # make sure the cache is there and current
        start = time.perf_counter()
        report(root)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/moetui-bench"))
    args = parser.parse_args()
    root = args.dir / f"{args.runs}x{args.steps}"
    if not root.exists():
        started = time.perf_counter()
        build_store(root, args.runs, args.steps)
        print(f"built {args.runs} runs x {args.steps} steps in {time.perf_counter() - started:.1f} s: {root}")
    for how, report in (("in-process", in_process), ("CLI subprocess", subprocess_cli)):
        for state, cold in (("cold (no digest cache)", True), ("warm (digests cached)", False)):
            median, times = median_seconds(report, root, cold, args.repeat)
            print(f"{how:15} {state:23} median {median:.2f} s  (tries: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
