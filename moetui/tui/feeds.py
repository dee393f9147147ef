"""Background feeds: where live metrics come from. They run in worker threads and talk to
the app only by posting messages (`post` is `App.post_message`, which is thread-safe).

- `follow_pipe`: the stdout pipe of an engine this TUI launched (no file polling delay).
- `watch_store`: every run in the store, by listing it and following each `events.jsonl`;
  this is how runs started by the CLI, the scheduler or an earlier TUI appear live.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
from typing import Any, Callable

from engine.protocol import parse_line
from engine.rundir import EVENTS_FILE
from moetui.history import EventTail
from moetui.tui.messages import EngineExited, RunEvents, StoreScanned
from moetui.status import ACTIVE

Post = Callable[[Any], object]
_POLL_S = 0.2  # how often a blocked pipe read looks at the stop flag


def follow_pipe(run_id: str, process: subprocess.Popen, post: Post, stop: threading.Event) -> None:
    """Forward the engine's protocol lines as they arrive, then report its exit.

    Reads whatever is available in one go (os.read), so a fast engine's lines arrive as
    one batch per read instead of one message per line. On `stop` (the TUI is quitting)
    the pipe is closed and the engine is left running; the next TUI follows its file."""
    fd = process.stdout.fileno()
    pending = b""
    while True:
        if stop.is_set():
            process.stdout.close()  # as if this process had exited: the engine carries on, file only
            return
        ready, _, _ = select.select([fd], [], [], _POLL_S)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break  # the engine closed its stdout: it has exited
        pending += chunk
        complete = pending.rfind(b"\n") + 1
        lines, pending = pending[:complete].splitlines(), pending[complete:]
        events = [event for event in map(parse_line, lines) if event is not None]
        if events:
            post(RunEvents(run_id, events))
    process.stdout.close()
    post(EngineExited(run_id, process.wait()))


class StoreWatcher:
    """One scan of the store per `poll()`; keeps a tail per run it follows.

    A run's file is read in full the first time it is seen, then followed while it is
    queued or running, and once more whenever its status changes (its last events, or a
    resume by someone else). Runs in `piped` are fed by their pipe instead."""

    def __init__(self, store: Any, piped: set[str], post: Post) -> None:
        self.store, self.piped, self.post = store, piped, post
        self._tails: dict[str, EventTail] = {}
        self._status: dict[str, str] = {}

    def poll(self) -> None:
        records = self.store.list()
        self.post(StoreScanned(records))
        for record in records:
            seen = self._status.get(record.id)
            self._status[record.id] = record.status
            if record.id in self.piped:
                continue
            if seen is not None and seen == record.status and record.status not in ACTIVE:
                continue
            tail = self._tails.get(record.id)
            if tail is None:
                tail = self._tails[record.id] = EventTail(self.store.path(record.id) / EVENTS_FILE)
            events = tail.read_new()
            reset, tail.reset = tail.reset, False
            if events or reset:
                self.post(RunEvents(record.id, events, reset))
        for gone in set(self._status) - {record.id for record in records}:
            self._status.pop(gone)
            self._tails.pop(gone, None)


def watch_store(watcher: StoreWatcher, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        watcher.poll()
        stop.wait(interval)
