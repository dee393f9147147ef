"""The numbers beside a run's charts, as plain data: every figure a person reads at a
glance (status, step, ETA, losses, perplexity, accuracy, rates, tokens, time), formatted.
No widgets here, so what the panel says is tested without an app."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from moetui import status as statuses
from moetui.history import RunHistory
from moetui.report.cells import count
from moetui.tui.progress import clock, eta_seconds, number

# A stop was asked for; the engine is checkpointing (run.json says stopping until it ends).
STOPPING_LABEL = "stopping…"


@dataclass(frozen=True)
class Figure:
    label: str  # "" for the run's name and status, which need none
    value: str
    style: str = ""


def _last(values: list[float]) -> float | None:
    return values[-1] if values else None


def _fixed(value: float | None, spec: str) -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def status_style(status: str) -> str:
    if status in statuses.BAD:
        return "bold red"
    if status in (statuses.STOPPING, statuses.STALLED):
        return "bold yellow"
    return "bold green" if status in (statuses.RUNNING, statuses.COMPLETED) else "bold"


def figures(record: Any, history: RunHistory) -> list[Figure]:
    """What the numbers panel shows for a run (`record` None: deleted from under the view)."""
    status = record.status if record else "deleted"
    step, max_steps = history.last_step, history.max_steps
    first = (history.start or {}).get("step") or 0
    eta = eta_seconds(step, max_steps, history.wall_time, first) if status == statuses.RUNNING else None
    tps = _last(history.tokens_per_s)
    device = (history.start or {}).get("device") or (record.device if record else None) or "–"
    why = [Figure("", record.exit_reason, "red")] if record and status in statuses.BAD and record.exit_reason else []
    return [
        Figure("", record.name if record else "?", "bold"),
        Figure("", STOPPING_LABEL if status == statuses.STOPPING else status, status_style(status)),
        Figure("step", f"{step}/{max_steps}" if max_steps else str(step)),
        Figure("ETA", clock(eta)),
        Figure("loss", number(_last(history.loss))),
        Figure("val loss", number(_last(history.val_loss))),
        Figure("ppl", number(_last(history.val_perplexity), 2)),
        Figure("acc", _fixed(_last(history.val_accuracy), ".1%")),
        Figure("tok/s", count(round(tps)) if tps is not None and math.isfinite(tps) else "–"),
        Figure("lr", _fixed(_last(history.lr), ".3g")),
        Figure("grad", _fixed(_last(history.grad_norm), ".3g")),
        Figure("aux", _fixed(_last(history.aux_loss), ".4g")),
        Figure("tokens", count(history.tokens_seen)),
        Figure("elapsed", clock(history.wall_time)),
        Figure("device", device),
        Figure("params", f"{count(history.params_total)} ({count(history.params_active)} active)"
               if history.params_total else "–"),
        *why,
    ]
