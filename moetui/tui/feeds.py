"""Background feeds: where live metrics come from. They run in worker threads and talk to
the app only by posting messages (`post` is `App.post_message`, which is thread-safe).

- `follow_pipe`: an engine this TUI launched: its events file, read whenever its stdout
  pipe says it wrote (no polling delay; the pipe itself may drop lines, the file never).
- `watch_store`: every run in the store, by listing it and following each `events.jsonl`;
  this is how runs started by the CLI, the scheduler or an earlier TUI appear live.
- `sample_hardware`: GPUs, CPU, RAM and the engines' processes (moetui/hardware.py).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from engine.rundir import EVENTS_FILE
from moetui.hardware import Sampler
from moetui.history import EventTail
from moetui.live import tail_from_now, woken_events
from moetui.tui.messages import EngineExited, HardwareSampled, RunEvents, StoreScanned
from moetui.status import ACTIVE

Post = Callable[[Any], object]
_POLL_S = 0.2  # how often a blocked pipe read looks at the stop flag


def follow_pipe(run_id: str, events_path: Path, process: subprocess.Popen, post: Post,
                stop: threading.Event) -> None:
    """Forward the run's new events as the engine writes them, then report its exit.

    Every wake-up reads all the file's new lines at once, so a fast engine's events arrive
    as one batch instead of one message per line. On `stop` (the TUI is quitting) the pipe
    is closed and the engine is left running; the next TUI follows its file."""
    tail = tail_from_now(events_path)
    for events in woken_events(process.stdout, tail, _POLL_S):
        if stop.is_set():
            process.stdout.close()  # as if this process had exited: the engine carries on, file only
            return
        reset, tail.reset = tail.reset, False
        if events or reset:
            post(RunEvents(run_id, events, reset))
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


def sample_hardware(sampler: Sampler, engines: Callable[[], Iterable[int]], post: Post, interval: float,
                    stop: threading.Event) -> None:
    """Sample the hardware every `interval` seconds, the first time at once. `engines` gives
    the PIDs of this host's live engines (read from the app's state, which the handlers
    replace whole and never change in place, so reading it from this thread is safe)."""
    while not stop.is_set():
        post(HardwareSampled(sampler(list(engines()))))
        stop.wait(interval)
