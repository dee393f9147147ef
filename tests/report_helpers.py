"""Runs built from known numbers -- the seed reports' own published figures -- for the report tests.

The seed tables run on the built-in studies' own configs (`study_config`: the study's base
preset with the variant's overrides, validated as `moetui study` would, without the
machine checks), so a test compares what those studies would really train: seed 000's
accumulation-2 variants make 10 optimizer steps where its baseline makes 5, over the same
tokens. `study_summaries` makes them as `RunSummary` values (pure tests); `write_seed_study`
writes them as run directories (config.toml, run.json, events.jsonl) for tests that go
through the run store and the command. `summary(...)` makes one ad-hoc run on the schema
defaults for the unit tests of the arithmetic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.config import Config
from engine.protocol import encode, make_event
from engine.rundir import CONFIG_FILE, EVENTS_FILE, RUN_FILE
from engine.sizing import size_of
from moetui.presets import load_preset, load_study
from moetui.report.summary import RunSummary

SMOLLM_VOCAB = 49152  # HuggingFaceTB/SmolLM-135M, the tokenizer of every seed preset but components-base

# Seed tables as (variant, val loss, val accuracy or None, perplexity or None, wall seconds).
# Seed 000, "Performance Ranking"; every run took "0.2 minutes".
ABLATION = [
    ("baseline", 7.2785, 0.1158, 1448.82, 12.0),
    ("grad_accum_2", 7.0003, 0.1318, None, 12.0),
    ("combo_grad_dropout", 6.8076, 0.1425, 904.73, 12.0),
    ("combo_grad_lr", 6.8987, 0.1374, None, 12.0),
    ("combo_grad_experts", 6.9446, 0.1404, None, 12.0),
    ("ultimate_combo", 7.1692, 0.1430, None, 12.0),
]
# Seed 001, phase 2 (the lr-schedule study, run on the ablation winner): 6.8625 -> 6.7518.
LR_SCHEDULE = [
    ("baseline", 6.8625, 0.1299, 955.71, 12.0),
    ("cosine_warmup_05", 6.7518, 0.1512, 855.57, 12.0),
]
# Seed 001's cumulative table ends on 6.7358: a separate run of the optimized config.
OPTIMIZED = ("optimized", 6.7358, 0.1497, 841.98, 12.0)
# Seed 003, "Results Ranking" (times in minutes there).
ARCHITECTURE = [
    ("SmallBatch", 6.7803, 0.1602, None, 1.8 * 60),
    ("Deeper", 7.2196, 0.1632, None, 3.1 * 60),
    ("Baseline", 7.2204, 0.1555, None, 2.1 * 60),
    ("MoreExperts", 7.2210, 0.1570, None, 3.0 * 60),
    ("Top3Experts", 7.2596, 0.1600, None, 2.1 * 60),
    ("LowDropout", 7.2654, 0.1617, None, 2.1 * 60),
    ("Wider", 7.4342, 0.1503, None, 2.1 * 60),
    ("HighLR", 7.5273, 0.1606, None, 2.1 * 60),
    ("LongSeq", 7.5511, 0.1507, None, 2.2 * 60),
]
# Seed 002: every figure it prints (no accuracies; 12_recursive_vlow_lr has none at all, and
# times only for four runs: the others are given the baseline's 10.7 s).
REASONING = [
    ("1_baseline", 7.08, None, None, 10.7),
    ("2_recursive", 7.64, None, None, 36.2),
    ("3_low_lr", 8.35, None, None, 10.7),
    ("4_high_lr", 6.67, None, 787.0, 10.3),
    ("5_long_warmup", 7.02, None, None, 10.7),
    ("6_no_warmup", 6.92, None, 1008.0, 10.7),
    ("7_small_model", 7.70, None, None, 6.6),
    ("8_few_experts", 7.07, None, None, 10.7),
    ("9_more_topk", 7.10, None, None, 10.7),
    ("10_low_grad_clip", 6.99, None, 1083.0, 10.7),
    ("11_high_grad_clip", 7.08, None, None, 10.7),
    ("13_vlow_lr", 9.46, None, 12868.0, 10.7),
    ("14_no_dropout", 6.93, None, 1017.0, 10.7),
    ("15_low_dropout", 6.99, None, 1090.0, 10.7),
]
# Seed 004 (validation loss only; "~2 hours per experiment").
COMPONENTS = [
    ("baseline", 1.3902, None, None, 7200.0),
    ("post_norm", 1.3897, None, None, 7200.0),
    ("no_pos_emb", 1.3902, None, None, 7200.0),
    ("no_norm", 1.3985, None, None, 7200.0),
    ("silu_ffn", 1.4101, None, None, 7200.0),
]
SEED_TABLES = {"ablation": ABLATION, "lr-schedule": LR_SCHEDULE, "architecture": ARCHITECTURE,
               "reasoning": REASONING, "components": COMPONENTS}


def study_config(study: str, variant: str, seed: int = 42) -> Config:
    found = load_study(study)
    overrides = next(v.overrides for v in found.variants if v.name == variant)
    return load_preset(found.base)[0].apply_overrides([*overrides, f"train.seed={seed}"]).validate()


def vocab_of(cfg: Config) -> int:
    return cfg.data.vocab_size if cfg.data.tokenizer == "bpe" else SMOLLM_VOCAB


def eval_points(cfg: Config, loss: float, acc: float | None, ppl: float | None) -> list[tuple]:
    """(step, val loss, val accuracy, perplexity) at every eval the config makes, falling to
    the published figures at the last one, which is the eval the seed reports give."""
    last = cfg.train.max_steps
    steps = [s for s in range(cfg.eval.eval_every, last, cfg.eval.eval_every)] + [last]
    points = []
    for step in steps:
        left = 1 - step / last
        value = loss + left
        points.append((step, value, None if acc is None else acc - 0.05 * left,
                       ppl if step == last and ppl is not None else math.exp(value)))
    return points


def events_lines(cfg: Config, evals: list[tuple], status: str | None = "completed", wall_time: float = 12.0,
                 vocab: int | None = None) -> list[str]:
    """The events a run with these (step, val loss, val accuracy, perplexity) evals writes: a
    start, a step event and an eval at each eval step (as with train.log_every at the eval
    cadence), and an end unless `status` is None."""
    vocab = vocab or vocab_of(cfg)
    size = size_of(cfg, vocab)
    per_step, last = cfg.tokens_per_step, max(step for step, *_ in evals)
    lines = [make_event("start", step=0, config=cfg.to_dict(), params_total=size.total, params_active=size.active,
                        device="cpu", dtype="fp32", world_size=1, tokens_per_step=per_step,
                        max_steps=cfg.train.max_steps, vocab_size=vocab, resumed=False)]
    for step, loss, acc, ppl in evals:
        lines.append(make_event("step", step=step, loss=loss + 0.1, aux_loss=0.01, lr=0.01, grad_norm=1.0,
                                tokens_per_s=1000.0, tokens=step * per_step,
                                elapsed=round(wall_time * step / cfg.train.max_steps, 3)))
        lines.append(make_event("eval", step=step, val_loss=loss, val_accuracy=acc, val_perplexity=ppl))
    if status is not None:
        lines.append(make_event("end", step=last, status=status,
                                metrics={"val_loss": evals[-1][1], "tokens": last * per_step, "steps": last},
                                wall_time=wall_time))
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


def write_seed_study(runs_dir: Path, study: str, table: list | None = None, created_from: float = 0.0,
                     seeds: tuple[int, ...] = (42,)) -> None:
    """A study's runs as run directories, one per variant and seed, with the table's figures."""
    for i, (variant, loss, acc, ppl, seconds) in enumerate(table or SEED_TABLES[study]):
        for seed in seeds:
            cfg = study_config(study, variant, seed)
            write_run(runs_dir, f"{study}-{variant}-{seed}", cfg,
                      events_lines(cfg, eval_points(cfg, loss, acc, ppl), wall_time=seconds),
                      name=f"{study}-{variant}-s{seed}", study=study, variant=variant, created=created_from + i)


def write_optimized_run(runs_dir: Path, created: float = 1000.0) -> Path:
    """Seed 001's final figure: one run of the `optimized` preset, outside any study."""
    name, loss, acc, ppl, seconds = OPTIMIZED
    cfg = load_preset("optimized")[0]
    return write_run(runs_dir, name, cfg, events_lines(cfg, eval_points(cfg, loss, acc, ppl), wall_time=seconds),
                     created=created)


def study_summaries(study: str, table: list | None = None) -> list[RunSummary]:
    """The seed table of `study` as summaries at each run's last eval (pure tests)."""
    return [_seed_summary(study_config(study, variant), f"{study}-{variant}-42", f"{study}-{variant}-s42",
                          study, variant, row, float(i))
            for i, (variant, *row) in enumerate(table or SEED_TABLES[study])]


def optimized_summary() -> RunSummary:
    """Seed 001's separate run of the `optimized` preset, as a summary."""
    name, *row = OPTIMIZED
    return _seed_summary(load_preset("optimized")[0], name, name, None, None, row, 1000.0)


def _seed_summary(cfg: Config, run_id: str, name: str, study: str | None, variant: str | None, row: list,
                  created: float) -> RunSummary:
    loss, acc, ppl, seconds = row
    steps, size = cfg.train.max_steps, size_of(cfg, vocab_of(cfg))
    return RunSummary(
        id=run_id, name=name, study=study, variant=variant, seed=cfg.train.seed, created=created,
        config=cfg.to_dict(), step=steps, val_loss=loss, val_accuracy=acc,
        val_perplexity=ppl if ppl is not None else math.exp(loss), tokens=steps * cfg.tokens_per_step,
        reached=steps, wall_time=seconds, params_total=size.total, params_active=size.active,
        vocab_size=vocab_of(cfg), curve_steps=[steps], curve_loss=[loss])


def config(overrides: list[str] = (), seed: int = 42) -> Config:
    """The schema defaults trained for 20 steps, with `overrides`: the ad-hoc runs' config."""
    return Config().apply_overrides([*overrides, f"train.seed={seed}", "train.max_steps=20"])


def summary(variant: str, loss: float | None, acc: float | None = 0.1, overrides: list[str] = (), *,
            study: str | None = "s", seed: int = 42, status: str = "completed", steps: int = 20,
            reached: int | None = None, wall_time: float = 12.0, created: float | None = None,
            run_id: str | None = None) -> RunSummary:
    """One run at its eval at `steps` (None loss: no eval), on `config(overrides, seed)`; a study
    run is named `variant-sSEED`, a run outside a study `variant`."""
    cfg = config(overrides, seed)
    return RunSummary(
        id=run_id or f"{study}-{variant}-{seed}", name=f"{variant}-s{seed}" if study else variant, study=study,
        variant=variant if study else None, seed=seed, status=status,
        created=float(seed) if created is None else created, config=cfg.to_dict(),
        step=steps if loss is not None else None, val_loss=loss, val_accuracy=acc if loss is not None else None,
        val_perplexity=math.exp(loss) if loss is not None else None, tokens=steps * cfg.tokens_per_step,
        reached=steps if reached is None else reached, wall_time=wall_time, vocab_size=cfg.data.vocab_size,
        curve_steps=[10, steps] if loss is not None else [], curve_loss=[loss + 0.5, loss] if loss is not None else [])
