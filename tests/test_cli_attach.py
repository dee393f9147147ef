"""`moetui attach`: the foreground view of a run started with --detach, with the same Ctrl-C
question as `moetui run` (detach again, or stop it)."""

from __future__ import annotations

import pytest

from moetui import live
from moetui.runs import RunStore
from tests.cli_helpers import fast_sets, moetui, wait_for_step

pytestmark = pytest.mark.slow


@pytest.fixture
def ctrl_c_once(monkeypatch):
    """Ctrl-C after the view's first read of the events file (the view, not a signal's timing,
    is under test here; `moetui run`'s real SIGINT is tested in test_launcher)."""
    real = live.polled_events
    pending = [KeyboardInterrupt]

    def interrupted(*args, **kwargs):
        for events in real(*args, **kwargs):
            yield events
            if pending:
                raise pending.pop()

    monkeypatch.setattr(live, "polled_events", interrupted)
    return pending


def test_attach_to_a_detached_run_then_detach_again_or_stop_it(runs_dir, token_cache_dir, ctrl_c_once):
    started = moetui("run", "quick", "--detach", *fast_sets(token_cache_dir, "train.max_steps=5000"))
    assert started.exit_code == 0, started.stderr
    run_id = started.stdout.strip()
    assert f"watch it with: moetui attach {run_id}" in started.stderr
    store = RunStore(runs_dir)
    wait_for_step(store, run_id, 1)

    detached = moetui("attach", "quick", input="d\n")
    assert detached.exit_code == 0, detached.stderr
    assert "stop the run (it checkpoints) or detach" in detached.stdout
    assert f"detached; quick keeps training. Watch it again with: moetui attach {run_id}" in detached.stdout
    assert store.get(run_id).status == "running"

    ctrl_c_once.append(KeyboardInterrupt)
    stopped = moetui("attach", run_id, input="s\n")
    assert stopped.exit_code == 0, stopped.stderr
    assert "asked quick to stop" in stopped.stdout
    assert "quick stopped: " in stopped.stdout  # followed until the engine had checkpointed and ended
    record = store.get(run_id)
    assert record.status == "stopped" and (record.path / "checkpoint.pt").is_file()

    again = moetui("attach", run_id)  # a finished run: its last frame and how it ended
    assert again.exit_code == 0 and "quick stopped: " in again.stdout
