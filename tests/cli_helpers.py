"""Shared by the store/CLI tests: the `moetui` command in-process, tiny quick-preset runs,
and waiting for a run to reach a status."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from moetui.cli import app
from moetui.history import load_history
from moetui.runs import RunRecord, RunStore

# quick, shrunk until a step takes milliseconds on a busy CPU (the engine start dominates).
FAST = ["model.d_model=64", "model.n_heads=2", "model.d_ff=128", "model.max_seq_len=32", "train.batch_size=4",
        "eval.eval_every=1000", "eval.eval_steps=2", "train.experts_every=1000"]


def fast_sets(cache_dir: Path, *overrides: str) -> list[str]:
    """`--set` arguments for a fast quick run using the session's token cache."""
    args = []
    for item in (*FAST, f"data.cache_dir={cache_dir}", *overrides):
        args += ["--set", item]
    return args


def moetui(*args: str, input: str | None = None):
    """Run the CLI in-process, as a person would type it; stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def wait_for(store: RunStore, run_id: str, statuses: tuple[str, ...], timeout: float = 90) -> RunRecord:
    deadline = time.monotonic() + timeout
    while True:
        record = store.get(run_id)
        if record.status in statuses:
            return record
        assert time.monotonic() < deadline, f"{record.name} still {record.status} after {timeout}s"
        time.sleep(0.2)


def wait_for_step(store: RunStore, run_id: str, step: int, timeout: float = 90) -> None:
    """Until the run's events show at least `step` optimizer steps."""
    deadline = time.monotonic() + timeout
    while load_history(store.path(run_id) / "events.jsonl").last_step < step:
        assert time.monotonic() < deadline, f"run never reached step {step}"
        time.sleep(0.2)
