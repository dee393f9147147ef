"""A run's history rebuilt from its events: the series that charts and reports read.

Live views feed events one by one (`RunHistory.add`, usually from an `EventTail`);
everything else calls `load_history(path)`, which parses a file once per (size, mtime)
and keeps the result in-process, continuing from the last complete line when the file
has only grown. Pure Python on purpose: the TUI imports this at start-up, so no torch,
no textual; plain lists of floats are fast enough for charts of a few thousand points.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.protocol import parse_line

_STEP_SERIES = ("loss", "aux_loss", "lr", "grad_norm", "tokens_per_s", "elapsed")
_EVAL_SERIES = ("val_loss", "val_accuracy", "val_perplexity")
_NAN = float("nan")
# Expert load and text samples are kept as series too, but bounded: past this many, every
# other one is dropped (the latest always kept), so a long run keeps its whole span at a
# coarser grain instead of only its recent past. A step series needs no bound (a float a step).
EXPERTS_KEPT = 256
SAMPLES_KEPT = 64


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float:
    """Events write NaN/inf as null; a chart needs a float in every slot, so null -> NaN."""
    return float(value) if _is_number(value) else _NAN


def _finite(value: Any) -> float | None:
    """A time or count a view formats as a clock or an integer, which NaN and inf cannot be."""
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _is_samples(value: Any) -> bool:
    """Text samples as the view shows them: a list of {prompt, text} strings."""
    return isinstance(value, list) and all(
        isinstance(s, dict) and isinstance(s.get("prompt"), str) and isinstance(s.get("text"), str) for s in value)


def _thin(steps: list[int], values: list[Any], kept: int) -> None:
    """Past `kept` entries, drop every other one but the latest (in place, both lists alike)."""
    if len(steps) > kept:
        steps[:-1], values[:-1] = steps[:-1:2], values[:-1:2]


def _is_load(value: Any) -> bool:
    """Expert load as the view draws it: per layer, a non-empty list of finite shares."""
    return isinstance(value, list) and all(
        isinstance(layer, list) and layer and all(_is_number(s) and math.isfinite(s) for s in layer)
        for layer in value)


# The type of every field of the events other than step and eval (engine/protocol.py
# names them; step and eval events are folded field by field through `_number`, so any
# value there is safe). A value of another type is dropped as the event is read: a damaged
# line then reads like one the engine wrote without that field, which every view handles,
# rather than a value that breaks whoever formats it ("x" as a parameter count, [] as the
# config, a string as the time an error was raised).
_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    **dict.fromkeys(("t", "wall_time", "tokens_per_s"), _is_number),
    **dict.fromkeys(("step", "params_total", "params_active", "world_size", "tokens_per_step", "max_steps",
                     "vocab_size", "done", "total"), _is_int),
    **dict.fromkeys(("device", "dtype", "stage", "status", "kind", "message", "hint", "path"),
                    lambda value: isinstance(value, str)),
    **dict.fromkeys(("config", "metrics"), lambda value: isinstance(value, dict)),
    "resumed": lambda value: isinstance(value, bool),
    "load": _is_load,
    "samples": _is_samples,
}
_FOLDED_BY_FIELD = ("step", "eval")


def _trusted(event: dict[str, Any]) -> dict[str, Any]:
    """`event` without the fields whose values have the wrong type (see `_FIELD_CHECKS`), null
    included: `event.get(key, default)` then gives the default."""
    if event.get("type") in _FOLDED_BY_FIELD:
        return event
    return {key: value for key, value in event.items() if key not in _FIELD_CHECKS or _FIELD_CHECKS[key](value)}


@dataclass
class RunHistory:
    """Everything one run's events say, as parallel lists (index i of each step series
    belongs to `steps[i]`, likewise for the eval series)."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    aux_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_perplexity: list[float] = field(default_factory=list)
    experts_steps: list[int] = field(default_factory=list)  # bounded: EXPERTS_KEPT
    experts_loads: list[list[list[float]]] = field(default_factory=list)  # per event, per layer, per expert
    sample_steps: list[int] = field(default_factory=list)  # bounded: SAMPLES_KEPT
    samples: list[list[dict[str, str]]] = field(default_factory=list)  # per event, {prompt, text} per prompt
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    prepare: dict[str, Any] | None = None
    events: int = 0

    # ---- feeding ------------------------------------------------------------------------
    def add(self, event: dict[str, Any]) -> None:
        """Fold one protocol event in; unknown or malformed events are ignored, never raised on,
        and a field of the wrong type is left out (`_trusted`)."""
        self.events += 1
        event = _trusted(event)
        kind = event.get("type")
        if kind == "step" and _is_int(event.get("step")):
            self.steps.append(event["step"])
            for name in _STEP_SERIES:
                getattr(self, name).append(_number(event.get(name)))
            tokens = event.get("tokens")
            self.tokens.append(tokens if _is_int(tokens) else (self.tokens[-1] if self.tokens else 0))
        elif kind == "eval" and _is_int(event.get("step")):
            self.eval_steps.append(event["step"])
            for name in _EVAL_SERIES:
                getattr(self, name).append(_number(event.get(name)))
        elif kind == "experts" and event.get("load") is not None and _is_int(event.get("step")):
            self.experts_steps.append(event["step"])
            self.experts_loads.append(event["load"])
            _thin(self.experts_steps, self.experts_loads, EXPERTS_KEPT)
        elif kind == "sample" and event.get("samples") is not None and _is_int(event.get("step")):
            self.sample_steps.append(event["step"])
            self.samples.append(event["samples"])
            _thin(self.sample_steps, self.samples, SAMPLES_KEPT)
        elif kind == "start":
            self._restart(event)
        elif kind == "end":
            self.end = event
        elif kind == "error":
            self.errors.append(event)
        elif kind == "prepare":
            self.prepare = event

    def _restart(self, event: dict[str, Any]) -> None:
        """A resumed run starts again from its checkpoint's step: the steps logged after that
        checkpoint were redone, so drop them (and the previous segment's end) to keep one
        value per step."""
        self.start, self.end = event, None
        resumed_from = event.get("step")
        if not event.get("resumed") or resumed_from is None:
            return
        keep = _count_at_or_before(self.steps, resumed_from)
        for name in ("steps", "tokens", *_STEP_SERIES):
            del getattr(self, name)[keep:]
        for steps, *series in (("eval_steps", *_EVAL_SERIES), ("experts_steps", "experts_loads"),
                               ("sample_steps", "samples")):
            keep = _count_at_or_before(getattr(self, steps), resumed_from)
            for name in (steps, *series):
                del getattr(self, name)[keep:]

    def copy(self) -> "RunHistory":
        """A snapshot whose lists the caller may keep while the original goes on growing."""
        fields = {name: (list(value) if isinstance(value, list) else value) for name, value in vars(self).items()}
        return RunHistory(**fields)

    # ---- what the views ask -------------------------------------------------------------
    @property
    def last_step(self) -> int:
        candidates = [self.steps[-1] if self.steps else 0, self.eval_steps[-1] if self.eval_steps else 0]
        if self.end and self.end.get("step") is not None:
            candidates.append(self.end["step"])
        return max(candidates)

    @property
    def experts_step(self) -> int | None:
        """The step of the latest expert load (None before the first)."""
        return self.experts_steps[-1] if self.experts_steps else None

    @property
    def experts_load(self) -> list[list[float]] | None:
        """The latest expert load: per MoE layer, each expert's share of the routed tokens."""
        return self.experts_loads[-1] if self.experts_loads else None

    @property
    def max_steps(self) -> int | None:
        return self.start.get("max_steps") if self.start else None

    @property
    def tokens_seen(self) -> int:
        metrics = self.final_metrics
        if _is_int(metrics.get("tokens")):
            return metrics["tokens"]
        return self.tokens[-1] if self.tokens else 0

    @property
    def wall_time(self) -> float | None:
        """Seconds of training: the end event's wall time, else the last step's elapsed (None
        when neither is a finite number)."""
        if self.end and _finite(self.end.get("wall_time")) is not None:
            return _finite(self.end["wall_time"])
        return _finite(self.elapsed[-1]) if self.elapsed else None

    @property
    def params_total(self) -> int | None:
        return self.start.get("params_total") if self.start else None

    @property
    def params_active(self) -> int | None:
        return self.start.get("params_active") if self.start else None

    @property
    def config(self) -> dict[str, Any] | None:
        """The resolved config the engine ran with (from the start event)."""
        return self.start.get("config") if self.start else None

    @property
    def final_metrics(self) -> dict[str, Any]:
        return (self.end or {}).get("metrics") or {}

    @property
    def status_from_events(self) -> str | None:
        """The end event's status; None while the run has not ended (or never wrote one)."""
        return self.end.get("status") if self.end else None

    @property
    def last_error(self) -> dict[str, Any] | None:
        return self.errors[-1] if self.errors else None

    def eval_index_at(self, step: int | None = None) -> int | None:
        """Index of the last eval at or before `step` (the last eval overall when None)."""
        count = len(self.eval_steps) if step is None else _count_at_or_before(self.eval_steps, step)
        return count - 1 if count else None

    def step_index_at(self, step: int | None = None) -> int | None:
        """Index of the last step event at or before `step` (the last one when None)."""
        count = len(self.steps) if step is None else _count_at_or_before(self.steps, step)
        return count - 1 if count else None


def _count_at_or_before(sorted_steps: list[int], step: int) -> int:
    """How many entries are <= step; steps are logged in increasing order."""
    return bisect_right(sorted_steps, step)


class EventTail:
    """Follow an events file: each `read_new()` returns the events of lines completed since
    the last call. A partial last line (the engine is mid-write) waits for its newline; a
    file that does not exist yet, or that cannot be read (a directory, no permission),
    reads as no events -- one odd run directory must not take a live view down; a file
    that shrank or was replaced (a new run in the same directory) is read again from the
    start. Events come through `_trusted`: a field read has the protocol's type or is absent."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.offset = 0
        self._identity: tuple[int, int] | None = None
        # True once the tail had to start over (file replaced or truncated): the owner should
        # rebuild whatever it folded the earlier events into, then clear the flag.
        self.reset = False

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                identity = (stat.st_dev, stat.st_ino)
                if identity != self._identity or stat.st_size < self.offset:
                    self.reset = self._identity is not None
                    self._identity, self.offset = identity, 0
                if stat.st_size == self.offset:
                    return []
                handle.seek(self.offset)
                data = handle.read(stat.st_size - self.offset)
        except OSError:
            return []
        complete = data.rfind(b"\n") + 1
        self.offset += complete
        events = []
        for line in data[:complete].splitlines():
            event = parse_line(line)
            if event is not None:
                events.append(_trusted(event))
        return events


@dataclass
class _Cached:
    size: int
    mtime_ns: int
    tail: EventTail
    history: RunHistory


_CACHE: dict[Path, _Cached] = {}


def load_history(events_path: Path | str) -> RunHistory:
    """The history of an events file, parsed once per (size, mtime) in this process.

    A file that only grew is continued from the last complete line rather than reparsed.
    The result is a snapshot the caller owns. A missing file gives an empty history (a
    queued run has none yet); a truncated last line is left out until it is completed."""
    path = Path(events_path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        _CACHE.pop(path, None)
        return RunHistory()
    cached = _CACHE.get(path)
    if cached is not None and (cached.size, cached.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return cached.history.copy()
    if cached is None:
        cached = _CACHE[path] = _Cached(0, 0, EventTail(path), RunHistory())
    new_events = cached.tail.read_new()
    if cached.tail.reset:
        cached.tail.reset, cached.history = False, RunHistory()
    for event in new_events:
        cached.history.add(event)
    cached.size, cached.mtime_ns = stat.st_size, stat.st_mtime_ns
    return cached.history.copy()
