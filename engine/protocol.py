"""The engine -> UI event protocol: the one module that knows its names.

One JSON object per line on the engine's stdout and in `events.jsonl`. Pure Python (no
torch) so that the CLI, the TUI and the report parse exactly what the engine writes.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Iterator

PROTOCOL_VERSION = 1

EVENT_TYPES = ("start", "prepare", "step", "eval", "experts", "checkpoint", "end", "error", "sample")
ERROR_KINDS = ("config", "data", "oom", "nan", "diverged", "interrupted", "disk", "checkpoint", "internal")
# Final statuses an `end` event may carry; every run status is in moetui/status.py.
END_STATUSES = ("completed", "stopped", "failed", "diverged")

# Fields each event carries besides v/type/t (documented here, checked in tests).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("step", "config", "params_total", "params_active", "device", "dtype", "world_size",
              "tokens_per_step", "max_steps", "vocab_size", "resumed", "expert_path"),  # expert_path: {name, reason}
    "prepare": ("stage", "done", "total"),  # optional: tokens_per_s, message
    "step": ("step", "loss", "aux_loss", "lr", "grad_norm", "tokens_per_s", "tokens", "elapsed"),
    "eval": ("step", "val_loss", "val_accuracy", "val_perplexity"),
    "experts": ("step", "load"),  # load: list per MoE layer of per-expert token shares
    "checkpoint": ("step", "path"),
    "end": ("step", "status", "metrics", "wall_time"),
    "error": ("kind", "message", "hint"),
    "sample": ("step", "samples"),  # samples: [{prompt, text}], continuations generated at an eval
}


def make_event(type: str, **fields: Any) -> dict[str, Any]:
    assert type in EVENT_TYPES, type
    return {"v": PROTOCOL_VERSION, "type": type, "t": time.time(), **fields}


def encode(event: dict[str, Any]) -> str:
    """One line, no trailing newline. NaN/inf become null so every reader can parse it."""
    return json.dumps(_finite(event), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def parse_line(line: str | bytes) -> dict[str, Any] | None:
    """Parse one protocol line; None for blank, partial or foreign lines (never raises)."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES:
        return None
    return event


def parse_lines(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        event = parse_line(line)
        if event is not None:
            yield event
