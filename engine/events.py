"""Where the engine's events go: one protocol line to events.jsonl (flushed) and to stdout.

The file is the record the UI re-attaches to, so it is written first and always. Stdout
is the live pipe to whoever launched the run; when that reader goes away (TUI closed,
SSH dropped) the write raises BrokenPipeError, and the sink drops stdout for good and
points fd 1 at /dev/null so that the interpreter's exit-time flush cannot fail either.
Training carries on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any, Callable

from engine.heartbeat import Heartbeat
from engine.protocol import encode


class EventSink:
    def __init__(self, events_path: Path | None, stdout: IO[str] | None = None,
                 listeners: list[Callable[[dict[str, Any]], None]] | None = None,
                 heartbeat: Heartbeat | None = None) -> None:
        """`events_path` None: no file; `stdout` None: no pipe; `listeners` are called with
        every event in-process (the benchmark, tests that stop a run at a given step);
        `heartbeat` is beaten by every event and by `beat()` (the loop, between events)."""
        self._file = open(events_path, "a", encoding="utf-8") if events_path is not None else None
        self._stdout = stdout
        self.listeners = list(listeners or [])
        self.heartbeat = heartbeat or Heartbeat(None)

    def beat(self) -> None:
        self.heartbeat.beat()

    def emit(self, event: dict[str, Any]) -> None:
        self.heartbeat.beat()
        line = encode(event) + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        if self._stdout is not None:
            try:
                self._stdout.write(line)
                self._stdout.flush()
            except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
                self._drop_stdout()
        for listener in self.listeners:
            listener(event)

    def _drop_stdout(self) -> None:
        if self._stdout is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        self._stdout = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def log(message: str) -> None:
    """Human-readable progress to stderr (engine.log); stdout carries protocol lines only.
    Under torchrun every rank writes to the one engine.log, so ranks past 0 name themselves."""
    rank = os.environ.get("RANK", "0")  # torchrun's, as engine.distributed.World reads it
    if rank != "0":
        message = "\n".join(f"[rank {rank}] {line}" for line in message.splitlines())
    try:
        print(message, file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):
        pass  # nobody is reading the log any more; training matters more than the message
