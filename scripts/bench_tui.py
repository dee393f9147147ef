"""How the TUI holds up under load: `python scripts/bench_tui.py [--runs 4] [--steps 10000]`.

Builds a throw-away store of `--runs` runs that already hold `--steps` steps each and
keep streaming (a writer thread appends step events to every events.jsonl, as live
engines would), opens the real app headless, and prints:

- the time to the first frame of the runs table,
- the cost of one redraw of the run view (four charts over `--steps` points),
- the keystroke latency while everything streams: the time from a key press in the
  filter box until the box shows it (what a person feels as typing lag).

Numbers, not assertions: the machines are shared and noisy; compare them in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import threading
import time
from pathlib import Path

from engine.config import Config
from engine.protocol import encode, make_event
from engine.rundir import EVENTS_FILE
from moetui.runs import RunStore
from moetui.tui import create_app


def _step(step: int) -> str:
    loss = 3 + 5 * math.exp(-step / 2000) + 0.05 * math.sin(step)
    return encode(make_event("step", step=step, loss=loss, aux_loss=1.01, lr=0.01, adamw_lr=0.001,
                             grad_norm=1.0, tokens_per_s=50_000.0, tokens=4096 * step, elapsed=step * 0.1))


def _history(steps: int, config: Config) -> str:
    lines = [encode(make_event("start", step=0, config=config.to_dict(), params_total=10**7, params_active=6 * 10**6,
                               device="cuda:0", dtype="bf16", world_size=1, tokens_per_step=4096,
                               max_steps=steps * 2, vocab_size=8192, resumed=False))]
    for step in range(1, steps + 1):
        lines.append(_step(step))
        if step % 100 == 0:
            val = 3.1 + 5 * math.exp(-step / 2000)
            lines.append(encode(make_event("eval", step=step, val_loss=val, val_accuracy=0.3,
                                           val_perplexity=math.exp(val))))
    return "\n".join(lines) + "\n"


def build_store(root: Path, runs: int, steps: int) -> tuple[RunStore, list[Path]]:
    store = RunStore(root)
    config = Config()
    paths = []
    for i in range(runs):
        record = store.create(config, name=f"live-{i}")
        # An engine that is alive: this process's pid, so the store does not call it crashed.
        store.update(record.id, status="running", pid=__import__("os").getpid(),
                     host=__import__("socket").gethostname())
        path = store.path(record.id) / EVENTS_FILE
        path.write_text(_history(steps, config))
        paths.append(path)
    return store, paths


def stream(paths: list[Path], first_step: int, per_second: float, stop: threading.Event) -> None:
    """Append one step to every run `per_second` times a second, like engines at that speed."""
    step = first_step
    while not stop.is_set():
        step += 1
        for path in paths:
            with open(path, "a") as f:
                f.write(_step(step) + "\n")
        stop.wait(1 / per_second)


async def measure(store: RunStore, runs: int) -> dict[str, float]:
    app = create_app(store, scan_interval=0.5, redraw_interval=0.5)
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#runs")
        while table.row_count < runs:
            await pilot.pause(0.01)
        first_frame = time.perf_counter() - started

        run_id = next(iter(app.state.records))
        app.open_run(run_id)
        await pilot.pause(1.0)
        redraws = []
        for _ in range(5):
            t = time.perf_counter()
            app.screen.redraw_now()
            redraws.append(time.perf_counter() - t)
            await pilot.pause(0.05)
        app.pop_screen()
        await pilot.pause(0.3)

        await pilot.press("slash")
        await pilot.pause(0.3)
        box = app.screen.focused
        latencies = []
        for key in "livelivelivelive":
            before = len(box.value)
            t = time.perf_counter()
            await pilot.press(key)
            while len(box.value) == before:
                await pilot.pause(0.001)
            latencies.append(time.perf_counter() - t)
            await pilot.pause(0.05)
    return {"first_frame_s": first_frame, "run_view_redraw_ms": 1000 * statistics.median(redraws),
            "key_latency_median_ms": 1000 * statistics.median(latencies),
            "key_latency_max_ms": 1000 * max(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="runs streaming at once")
    parser.add_argument("--steps", type=int, default=10_000, help="steps each run already holds")
    parser.add_argument("--rate", type=float, default=20, help="step events per second per run while measuring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moetui-bench-tui-") as folder:
        store, paths = build_store(Path(folder) / "runs", args.runs, args.steps)
        stop = threading.Event()
        writer = threading.Thread(target=stream, args=(paths, args.steps, args.rate, stop), daemon=True)
        writer.start()
        try:
            result = asyncio.run(measure(store, args.runs))
        finally:
            stop.set()
            writer.join()
    print(f"{args.runs} runs x {args.steps:,} steps, streaming {args.rate:g} steps/s each: "
          f"first frame {result['first_frame_s']:.2f} s | run view redraw {result['run_view_redraw_ms']:.0f} ms | "
          f"key latency median {result['key_latency_median_ms']:.0f} ms, max {result['key_latency_max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
