"""`rm`, `stop`, `resume` and the scheduler claim a run under one lock: racing them against
each other never kills the scheduler, never starts a run twice or after its deletion, and
never brings a deleted run back as a ghost. The claims are the real ones; only the
program started for a run is a short sleep instead of an engine (75 races in seconds)."""

from __future__ import annotations

import sys
import threading

import pytest

from moetui import launcher, scheduler
from moetui.backends import local
from moetui.errors import MoetuiError
from moetui.presets import load_preset
from moetui.runs import RunStore

RACES = 75


@pytest.fixture
def started(monkeypatch):
    """Every run directory a program was started for, checked at the moment of the start."""
    runs = []

    def command(run_dir, resume, gpus):
        assert (run_dir / "run.json").is_file(), f"started {run_dir.name} after its deletion"
        runs.append(run_dir.name)
        return [sys.executable, "-c", "import time; time.sleep(0.05)"]

    monkeypatch.setattr(local, "engine_command", command)
    return runs


def test_rm_stop_resume_and_the_scheduler_racing_for_one_run(runs_dir, started):
    store = RunStore(runs_dir)
    config = load_preset("quick")[0]
    worker = scheduler.Scheduler(store, [])
    unexpected: list[BaseException] = []

    def attempt(action, refusals=(MoetuiError,)):
        try:
            action()
        except refusals:
            pass  # refused: deleted, already claimed, not running -- each a correct answer
        except BaseException as error:  # anything else is a crash of that command
            unexpected.append(error)

    def tick():
        attempt(worker.tick, refusals=())  # the scheduler refuses nothing: it carries on

    for _ in range(RACES):
        run_id = store.create(config, name="contested").id
        actions = [tick, lambda: store.delete(run_id), lambda: launcher.stop(store, run_id),
                   lambda: launcher.launch(store, run_id, resume=True, pipe=False)]
        threads = [threading.Thread(target=attempt, args=(action,)) for action in actions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for process in worker.children.values():
            process.wait(10)
        tick()  # whatever is left in the queue starts; the scheduler is alive
        for process in worker.children.values():
            process.wait(10)
        attempt(lambda: store.delete(run_id))
    assert unexpected == []
    assert 0 < len(started) < RACES  # some runs were claimed first, some deleted or cancelled first
    assert len(started) == len(set(started))  # no run started twice
    assert [r.name for r in store.list()] == []  # no ghosts came back
    assert [p.name for p in runs_dir.iterdir() if p.name.startswith(".deleting")] == []
