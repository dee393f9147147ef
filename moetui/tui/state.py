"""What the TUI knows about every run: store records plus histories rebuilt from events.

Owned by the app's message handlers (one thread), read by the screens when they redraw.
`version` grows on every change, so a screen redraws only when something moved, at
most as often as its own timer fires (the throttle that keeps typing responsive).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from moetui.hardware import RunUsage, Sample, gpu_holders, local_engines, run_usage
from moetui.history import RunHistory

USAGE_POINTS = 600  # per run: 20 minutes at one sample every 2 s, more than a sparkline is wide


class RunState:
    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.histories: dict[str, RunHistory] = {}
        self.version = 0
        self.loaded = False  # True after the first store scan: an empty table then means an empty store
        # Hardware moves every sample: it has its own counter, so that the run screens' charts
        # are not redrawn for it; the hardware widgets watch `hardware_version` instead.
        self.hardware: Sample | None = None
        self.gpu_holders: dict[int, list[str]] = {}  # GPU index -> run ids
        self.usage: dict[str, deque[RunUsage]] = {}  # run id -> its recent usage, while the TUI watched it
        self.hardware_version = 0

    def set_records(self, records: list[Any]) -> None:
        fresh = {record.id: record for record in records}
        if fresh != self.records or not self.loaded:
            self.records = fresh
            for gone in set(self.histories) - set(fresh):
                del self.histories[gone]
            self.loaded = True
            self.version += 1

    def add_events(self, run_id: str, events: list[dict[str, Any]], reset: bool = False) -> None:
        history = self.histories.get(run_id)
        if history is None or reset:
            history = self.histories[run_id] = RunHistory()
        for event in events:
            history.add(event)
        self.version += 1

    def add_hardware(self, sample: Sample, host: str) -> None:
        records = list(self.records.values())
        self.hardware = sample
        self.gpu_holders = gpu_holders(sample, records, host)
        for run_id, pid in local_engines(records, host).items():
            usage = run_usage(sample, self.gpu_holders, run_id, pid)
            if usage is not None:
                self.usage.setdefault(run_id, deque(maxlen=USAGE_POINTS)).append(usage)
        for gone in set(self.usage) - set(self.records):
            del self.usage[gone]
        self.hardware_version += 1

    def history(self, run_id: str) -> RunHistory:
        return self.histories.get(run_id) or RunHistory()

    def ordered(self) -> list[Any]:
        """Records newest first (the order a fresh runs table shows)."""
        return sorted(self.records.values(), key=lambda r: (r.created or 0, r.id), reverse=True)
