"""One run reduced to the numbers a report row compares, at its last eval or at a given step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from moetui.report.digest import RunDigest


@dataclass
class RunSummary:
    """A run's identity and metrics. `step` is the eval compared (the last one, or the last
    at or before `--at-step`); `tokens` and `wall_time` are what the run had spent by that
    eval, so runs are compared at what they cost there, not at their end. `reached` is the
    last step the run got to, eval or not. `flops` (training FLOPs by that eval) needs the
    parsed config: the ranking fills it in."""

    id: str
    name: str
    study: str | None = None
    variant: str | None = None
    seed: int | None = None
    status: str = "completed"
    created: float | None = None
    config: dict[str, Any] | None = None
    step: int | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_perplexity: float | None = None
    tokens: int = 0
    reached: int = 0
    wall_time: float | None = None
    flops: float | None = None
    params_total: int | None = None
    params_active: int | None = None
    vocab_size: int | None = None
    curve_steps: list[int] = field(default_factory=list)
    curve_loss: list[float] = field(default_factory=list)
    problem: str | None = None

    def metric(self, name: str) -> float | None:
        value = getattr(self, name)
        return value if value is not None and math.isfinite(value) else None


def summarize(digest: RunDigest, *, at_step: int | None = None, **identity: Any) -> RunSummary:
    """Summary of a digested run; `identity` carries the run-store fields (id, name, study...).
    The run-store status wins over the events' (only the store knows a run crashed)."""
    if not identity.get("status"):
        identity["status"] = digest.end_status or ("running" if digest.started else "queued")
    summary = RunSummary(**identity, config=digest.config, reached=digest.last_step,
                         params_total=digest.params_total, params_active=digest.params_active,
                         vocab_size=digest.vocab_size, curve_steps=digest.eval_steps, curve_loss=digest.val_loss)
    if not digest.started:
        summary.problem = "no events"
    i = _eval_index(digest.eval_steps, at_step)
    if i is None:
        summary.problem = summary.problem or (f"no eval at or before step {at_step}" if at_step is not None
                                              else "no eval yet")
        summary.tokens, summary.wall_time = digest.tokens, digest.wall_time
        return summary
    summary.step = digest.eval_steps[i]
    summary.val_loss, summary.val_accuracy = digest.val_loss[i], digest.val_accuracy[i]
    summary.val_perplexity = digest.val_perplexity[i]
    summary.tokens, summary.wall_time = digest.eval_tokens[i], digest.eval_elapsed[i]
    return summary


def _eval_index(eval_steps: list[int], at_step: int | None) -> int | None:
    candidates = [i for i, step in enumerate(eval_steps) if at_step is None or step <= at_step]
    return candidates[-1] if candidates else None
