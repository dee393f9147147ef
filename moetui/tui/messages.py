"""Messages from the background feeds to the app. Workers post these and never touch
widgets; the app's handlers fold them into `RunState`, which the screens redraw from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class RunEvents(Message):
    """New protocol events of one run, in order (from its stdout pipe or its events file).
    `reset`: the events file was replaced, so earlier events of this run no longer hold."""

    run_id: str
    events: list[dict[str, Any]]
    reset: bool = False


@dataclass
class StoreScanned(Message):
    """The run store as it is now: every record, newest listing (statuses, crashed runs)."""

    records: list[Any] = field(default_factory=list)

    def can_replace(self, message: Message) -> bool:
        # Only the newest listing matters; a backlog of scans is dropped, not replayed.
        return isinstance(message, StoreScanned)


@dataclass
class EngineExited(Message):
    """A run this TUI launched ended its process (its stdout pipe closed)."""

    run_id: str
    returncode: int | None



@dataclass
class HardwareSampled(Message):
    """GPUs, host and the engines of this host's live runs, as the hardware sampler saw them."""

    sample: Any

    def can_replace(self, message: Message) -> bool:
        # A UI too busy to take one sample gains nothing from replaying the backlog.
        return isinstance(message, HardwareSampled)
