"""Hand-written runs for the TUI tests: what the engine would have written, with fixed
times and values, so snapshots and the compare view's numbers never drift."""

from __future__ import annotations

from pathlib import Path

from engine.config import Config
from engine.protocol import encode, make_event
from engine.rundir import EVENTS_FILE, LOG_FILE

T0 = 1_700_000_000.0  # fixed clock for every hand-written event and record


def quick_config(**overrides: object) -> Config:
    from moetui.presets import load_preset

    config = load_preset("quick")[0]
    return config.apply_overrides([f"{key}={value}" for key, value in overrides.items()])


def _event(kind: str, t: float, **fields: object) -> str:
    event = make_event(kind, **fields)
    event["t"] = t
    return encode(event)


def finished_run(store, name: str, config: Config, final_val_loss: float, *, status: str = "completed",
                 created: float = T0, steps: int = 40, variant: str | None = None, study: str | None = None) -> str:
    """A run that trained `steps` steps with a loss falling to `final_val_loss`."""
    record = store.create(config, name=name, preset="quick", study=study, variant=variant, seed=config.train.seed)
    run_dir = Path(store.path(record.id))
    lines = [_event("start", created, step=0, config=config.to_dict(), params_total=1_180_000,
                    params_active=788_000, device="cpu", dtype="float32", world_size=1, tokens_per_step=2048,
                    max_steps=steps, vocab_size=2048, resumed=False)]
    for step in range(1, steps + 1):
        loss = final_val_loss + 3.0 * (1 - step / steps) ** 2 + 0.05 * (step % 3)
        lines.append(_event("step", created + step, step=step, loss=loss, aux_loss=0.01, lr=0.05 * min(1, step / 4),
                            grad_norm=1.0, tokens_per_s=12_000.0 + 10 * step, tokens=2048 * step, elapsed=float(step)))
        if step % 10 == 0:
            val = final_val_loss + 3.0 * (1 - step / steps) ** 2
            lines.append(_event("eval", created + step, step=step, val_loss=val, val_accuracy=0.3 - val / 40,
                                val_perplexity=2.718281828 ** val))
        if step % 20 == 0:
            lines.append(_event("experts", created + step, step=step,
                                load=[[0.25, 0.25, 0.3, 0.2], [0.85, 0.05, 0.05, 0.05]]))
    end_metrics = {"val_loss": final_val_loss, "tokens": 2048 * steps}
    lines.append(_event("end", created + steps, step=steps, status=status, metrics=end_metrics,
                        wall_time=float(steps)))
    (run_dir / EVENTS_FILE).write_text("\n".join(lines) + "\n")
    (run_dir / LOG_FILE).write_text("loading corpus\ntraining 1.18M params on cpu\n")
    store.update(record.id, status=status, created=created, started=created, ended=created + steps,
                 exit_reason=None if status == "completed" else "diverged: loss was NaN at step 40")
    return record.id


def queued_run(store, name: str, config: Config, order: int, created: float = T0) -> str:
    record = store.create(config, name=name, preset="quick", study="topk", variant=name, seed=42)
    store.update(record.id, created=created, queue_order=order)
    return record.id


def fixed_store(store) -> dict[str, str]:
    """The store the snapshots show: two finished runs, one diverged, two queued."""
    base = quick_config()
    return {
        "baseline": finished_run(store, "baseline", base, 4.40, created=T0),
        "topk1": finished_run(store, "top_k-1", quick_config(**{"moe.top_k": 1}), 4.62, created=T0 + 100),
        "lr-high": finished_run(store, "lr-high", quick_config(**{"optim.muon_lr": 0.5}), 7.9, status="diverged",
                                created=T0 + 200),
        "q1": queued_run(store, "experts-8", quick_config(**{"moe.num_experts": 8}), 0, created=T0 + 300),
        "q2": queued_run(store, "experts-16", quick_config(**{"moe.num_experts": 16}), 1, created=T0 + 301),
    }



def fixed_sample(roots=()):
    """What the hardware sampler would see on a two-GPU host, fixed for snapshots: GPU 0
    busy with a process that is none of the store's runs, GPU 1 free."""
    from moetui.hardware import GpuUsage, HostUsage, Sample

    gib = 2**30
    return Sample(T0, HostUsage(cpu_percent=23.0, cpus=16, mem_used=int(45.1 * gib), mem_total=int(125.8 * gib)), (
        GpuUsage(index=0, uuid="GPU-0", util=87.0, mem_used=int(40.1 * gib), mem_total=int(79.6 * gib),
                 temperature=62.0, power=310.0, power_limit=700.0, pids=(4242,)),
        GpuUsage(index=1, uuid="GPU-1", util=0.0, mem_used=int(0.5 * gib), mem_total=int(79.6 * gib),
                 temperature=31.0, power=68.0, power_limit=700.0)))
