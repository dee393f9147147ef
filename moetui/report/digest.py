"""What the report needs from one run's events, small enough to cache for a thousand runs.

A digest keeps the eval series (with the tokens and wall seconds at each eval: what a
comparison at that eval spent), the start event's counts, vocab and config, and the end
event's status and time.
It is built from a `RunHistory` fed only the events a digest reads: of the step events,
only the last one before each other event and the very last (an eval reads the tokens and
time at its step, a resumed start cuts back the steps before it, an end closes the series);
expert loads are never decoded. Those lines are found by a regular expression over the
whole file, not a Python loop over its lines, and decoded by one `json.loads` call.
Measured on 1,000 steps with an eval every 10: 1.0 ms per file, against 1.6 ms picking
the lines in a Python loop and decoding each alone, and 8.7 ms decoding every line.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.protocol import PROTOCOL_VERSION, parse_line
from moetui.history import RunHistory

# How `engine.protocol.encode` starts a line (`make_event` puts `v` and `type` first). A line
# written some other way is decoded whatever its type: still right, only without the shortcut.
_START = b'{"v":%d,"type":"' % PROTOCOL_VERSION
# A step line, with the newline before it.
_STEP_LINE = b"\n" + _START + b'step"'
# Every line but the step and expert-load lines, each with the newline before it.
_OTHER_LINE = re.compile(rb"\n(?!" + re.escape(_START) + rb'(?:step|experts)")([^\n]+)')


@dataclass
class RunDigest:
    """One run, as the report reads it; every list is parallel to `eval_steps`."""

    eval_steps: list[int]
    val_loss: list[float]
    val_accuracy: list[float]
    val_perplexity: list[float]
    eval_tokens: list[int]
    eval_elapsed: list[float | None]
    last_step: int
    tokens: int
    wall_time: float | None
    max_steps: int | None
    params_total: int | None
    params_active: int | None
    vocab_size: int | None
    config: dict[str, Any] | None
    end_status: str | None
    error: str | None
    started: bool

    @classmethod
    def from_history(cls, h: RunHistory) -> "RunDigest":
        start = h.start or {}
        tokens, elapsed = [], []
        for step in h.eval_steps:
            i = h.step_index_at(step)
            tokens.append(_tokens_at(h, i, step, start.get("tokens_per_step")))
            elapsed.append(h.elapsed[i] if i is not None else None)
        error = h.last_error
        return cls(list(h.eval_steps), list(h.val_loss), list(h.val_accuracy), list(h.val_perplexity),
                   tokens, elapsed, h.last_step, h.tokens_seen, h.wall_time, h.max_steps, h.params_total,
                   h.params_active, start.get("vocab_size"), h.config, h.status_from_events,
                   f"{error.get('kind')}: {error.get('message')}" if error else None, h.start is not None)

    def to_dict(self) -> dict[str, Any]:
        """Shallow on purpose (`dataclasses.asdict` deep-copies the config: 0.5 s per 1,000 runs);
        the lists are shared, so the caller serialises the dict rather than mutating it."""
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunDigest":
        return cls(**data)


def _tokens_at(h: RunHistory, i: int | None, step: int, tokens_per_step: int | None) -> int:
    """Tokens trained by `step`: its step event's count, else (a step that did not log, with
    train.log_every > 1) the step times the start event's tokens per optimizer step."""
    if i is not None and h.steps[i] == step:
        return h.tokens[i]
    if tokens_per_step:
        return step * tokens_per_step
    return h.tokens[i] if i is not None else 0


def read_digest(events_path: Path) -> RunDigest:
    """Digest an events file (missing: an empty digest; a partial last line is ignored)."""
    text = _read_after_newline(Path(events_path))
    history = RunHistory()
    for event in _decode(_lines_read(text, text.rfind(b"\n") + 1)):
        history.add(event)
    return RunDigest.from_history(history)


def _read_after_newline(path: Path) -> bytearray:
    """The file after a newline, so that every line starts where a newline ends. Read straight
    into a buffer made for it: the copies this saves (putting the newline in front, cutting
    off a partial last line) took 0.2 ms per quarter-megabyte file, ten times the read itself,
    each new buffer being fresh memory to fault in."""
    try:
        with open(path, "rb") as handle:
            text = bytearray(os.fstat(handle.fileno()).st_size + 1)
            size = handle.readinto(memoryview(text)[1:])
    except FileNotFoundError:
        return bytearray(b"\n")
    text[0] = ord("\n")
    del text[size + 1:]  # the file shrank since fstat
    return text


def _lines_read(text: bytearray, end: int) -> list[bytearray]:
    """The lines a digest reads of `text[:end]` (its complete lines), in file order: every
    line but the step and expert-load ones, each preceded by the last step line between it
    and the line read before it, and at the end the file's last step line."""
    lines, since = [], 0
    for match in _OTHER_LINE.finditer(text, 0, end):
        line_start, line_end = match.span(1)
        _append_last_step(lines, text, since, line_start)
        lines.append(match.group(1))
        since = line_end
    _append_last_step(lines, text, since, end)
    return lines


def _append_last_step(lines: list[bytearray], text: bytearray, start: int, end: int) -> None:
    found = text.rfind(_STEP_LINE, start, end)
    if found >= 0:
        lines.append(text[found + 1: text.index(b"\n", found + 1)])


def _decode(lines: list[bytearray]) -> list[dict[str, Any]]:
    """The events of `lines`, decoded as one JSON array: less than half the time of a call a
    line. Should any line be broken, the array is too (or comes out the wrong length): then
    each line is decoded alone and the broken ones are skipped, as `parse_line` does."""
    try:
        events = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:  # UnicodeDecodeError included
        events = []
    if len(events) != len(lines):
        events = [parse_line(line) for line in lines]
    return [event for event in events if isinstance(event, dict)]
