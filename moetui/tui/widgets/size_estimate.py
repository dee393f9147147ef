"""One line over the launch form: how big and how slow the edited config will be, redrawn
on every edit. Parameters come from engine/sizing.py (exact for a BPE trained here);
memory and time are estimates and say so, time per step from earlier runs of the same
shape in the store once a worker has read them (`moetui.estimate`), a labelled guess until
then or without any."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.message import Message
from textual.widgets import Static

from engine.config import Config
from engine.sizing import size_of
from moetui import estimate, scheduler
from moetui.report.cells import count


@dataclass
class Measured(Message):
    """What the store and the machine say about speed: tokens/s by shape, the GPUs here."""

    rates: estimate.Rates
    gpus: list[str]


def measure(store: Any, post: Any) -> None:
    """In a worker thread: read earlier runs' throughput (and look for GPUs, which may run
    nvidia-smi), then post the result; the widget's handler keeps it."""
    post(Measured(estimate.measured_rates(store.list(), store.root), scheduler.detect_gpus()))


class SizeEstimate(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.rates: estimate.Rates = {}
        self.gpus: list[str] = []
        self.config: Config | None = None

    def on_mount(self) -> None:
        self.run_worker(partial(measure, self.app.store, self.post_message), thread=True, name="throughput",
                        exit_on_error=False)

    def on_measured(self, message: Measured) -> None:
        self.rates, self.gpus = message.rates, message.gpus
        if self.config is not None:
            self.show(self.config)

    def show(self, config: Config) -> None:
        self.config = config
        size = size_of(config, config.data.vocab_size)
        rate = estimate.throughput(config, self.rates, bool(self.gpus))
        memory = estimate.memory(config, rate.device == "gpu")
        step = estimate.step_seconds(config, rate)
        # "≈" on each: all three are estimates (the sizes at the config's own vocab); "(guess)"
        # when no earlier run of this shape timed a step here.
        per_step = estimate.seconds_text(step).replace(" ", "")  # `0.77s/step`: one word, where the line wraps
        self.update(f"≈ {count(size.total)} params ({count(size.active)} active), "
                    f"{estimate.gigabytes(memory.total)}, {per_step}/step" + (" (guess)" if rate.guess else ""))
        self.tooltip = (f"weights {estimate.gigabytes(memory.weights)} + grads {estimate.gigabytes(memory.grads)} + "
                        f"optimizer {estimate.gigabytes(memory.optimizer)} + activations "
                        f"{estimate.gigabytes(memory.activations)} (rough); time: {rate.source}")
