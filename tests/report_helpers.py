"""Runs built from known numbers (the seed reports' own figures) for the report tests.

`summary(...)` makes a `RunSummary` directly (pure tests); `write_run(...)` writes the same
run as a run directory (config.toml, run.json, events.jsonl) for tests that go through
the run store and the command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.config import Config
from engine.protocol import encode, make_event
from engine.rundir import CONFIG_FILE, EVENTS_FILE, RUN_FILE
from moetui.report.summary import RunSummary

ACCUM_2 = ["train.gradient_accumulation_steps=2"]

# Seed 000's performance ranking: (variant, val loss, val accuracy, perplexity or None, overrides).
ABLATION = [
    ("baseline", 7.2785, 0.1158, 1448.82, []),
    ("grad_accum_2", 7.0003, 0.1318, None, ACCUM_2),
    ("combo_grad_dropout", 6.8076, 0.1425, 904.73, ACCUM_2 + ["model.dropout=0.05"]),
    ("combo_grad_lr", 6.8987, 0.1374, None, ACCUM_2 + ["optim.muon_lr=0.08"]),
    ("combo_grad_experts", 6.9446, 0.1404, None, ACCUM_2 + ["moe.num_experts=12"]),
    ("ultimate_combo", 7.1692, 0.1430, None,
     ACCUM_2 + ["model.dropout=0.05", "optim.muon_lr=0.08", "moe.num_experts=12"]),
]
BEST_OVERRIDES = ACCUM_2 + ["model.dropout=0.05"]

# Seed 001's second study (LR schedule), run on the first study's winner.
LR_SCHEDULE = [
    ("baseline", 6.8076, 0.1425, 904.73, BEST_OVERRIDES),
    ("cosine_warmup_05", 6.7358, 0.1497, 841.98, BEST_OVERRIDES + ["schedule.warmup_ratio=0.05"]),
]

SEED_STEPS = 20
SEED_WALL_TIME = 12.0  # "0.2 min"


def config(overrides: list[str], seed: int = 42) -> Config:
    return Config().apply_overrides([*overrides, f"train.seed={seed}", f"train.max_steps={SEED_STEPS}"])


def summary(variant: str, loss: float, acc: float, overrides: list[str] = (), *, ppl: float | None = None,
            study: str = "ablation", seed: int = 42, steps: int = SEED_STEPS, status: str = "completed",
            wall_time: float = SEED_WALL_TIME, tokens: int | None = None) -> RunSummary:
    cfg = config(list(overrides), seed)
    return RunSummary(
        id=f"{study}-{variant}-{seed}", name=f"{study}-{variant}-s{seed}", study=study, variant=variant,
        seed=seed, status=status, created=float(seed), config=cfg.to_dict(), step=steps, val_loss=loss,
        val_accuracy=acc, val_perplexity=ppl if ppl is not None else math.exp(loss),
        tokens=tokens if tokens is not None else steps * cfg.tokens_per_step, steps=steps, wall_time=wall_time,
        params_total=79_000_000, params_active=36_600_000, curve_steps=[10, steps],
        curve_loss=[loss + 0.5, loss])


def ablation_summaries(study: str = "ablation") -> list[RunSummary]:
    return [summary(v, loss, acc, o, ppl=ppl, study=study) for v, loss, acc, ppl, o in ABLATION]


def events_lines(cfg: Config, evals: list[tuple[int, float, float, float]], status: str | None = "completed",
                 wall_time: float = SEED_WALL_TIME, params: tuple[int, int] = (79_000_000, 36_600_000)) -> list[str]:
    """The events a run with these (step, val loss, val accuracy, perplexity) evals writes:
    a step event per step, an eval where given, an end event unless `status` is None."""
    max_step = max(step for step, *_ in evals)
    lines = [make_event("start", step=0, config=cfg.to_dict(), params_total=params[0], params_active=params[1],
                        device="cpu", dtype="fp32", world_size=1, tokens_per_step=cfg.tokens_per_step,
                        max_steps=cfg.train.max_steps, vocab_size=cfg.data.vocab_size, resumed=False)]
    by_step = {step: rest for step, *rest in evals}
    for step in range(1, max_step + 1):
        lines.append(make_event("step", step=step, loss=8.0 - step * 0.01, aux_loss=0.01, lr=0.01, grad_norm=1.0,
                                tokens_per_s=1000.0, tokens=step * cfg.tokens_per_step,
                                elapsed=round(wall_time * step / max_step, 3)))
        if step in by_step:
            loss, acc, ppl = by_step[step]
            lines.append(make_event("eval", step=step, val_loss=loss, val_accuracy=acc, val_perplexity=ppl))
    if status is not None:
        last = by_step[max_step]
        lines.append(make_event("end", step=max_step, status=status,
                                metrics={"val_loss": last[0], "tokens": max_step * cfg.tokens_per_step,
                                         "steps": max_step}, wall_time=wall_time))
    return [encode(e) + "\n" for e in lines]


def write_run(runs_dir: Path, run_id: str, cfg: Config, lines: list[str], *, name: str | None = None,
              study: str | None = None, variant: str | None = None, status: str = "completed",
              created: float = 0.0) -> Path:
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(cfg.to_toml())
    (run_dir / EVENTS_FILE).write_text("".join(lines))
    record = {"id": run_id, "name": name or run_id, "preset": "seed", "study": study, "variant": variant,
              "seed": cfg.train.seed, "status": status, "created": created}
    (run_dir / RUN_FILE).write_text(json.dumps(record))
    return run_dir


def write_seed_study(runs_dir: Path, study: str, table: list, created_from: float = 0.0) -> None:
    """A study's runs as run directories, evals at step 10 (loss + 0.5) and at the last step."""
    for i, (variant, loss, acc, ppl, overrides) in enumerate(table):
        cfg = config(overrides)
        ppl = ppl if ppl is not None else math.exp(loss)
        evals = [(10, loss + 0.5, acc - 0.01, math.exp(loss + 0.5)), (SEED_STEPS, loss, acc, ppl)]
        write_run(runs_dir, f"{study}-{variant}", cfg, events_lines(cfg, evals), study=study, variant=variant,
                  created=created_from + i)
