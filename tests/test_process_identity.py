"""A recorded PID is trusted only with its start time, host and boot: after a crash or a
reboot it may belong to someone else's process, which must never look like our engine and
never be signalled. Runs of other hosts are judged by their heartbeat; a paused engine
shows as stalled. Real processes throughout (an unrelated `sleep`, a real engine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from textual.widgets import DataTable

from engine.identity import identify, this_host
from engine.rundir import HEARTBEAT_FILE, update_run_json
from moetui import launcher, scheduler, status
from moetui.launcher import LaunchError
from moetui.presets import load_preset
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.confirm import Confirm
from tests.cli_helpers import FAST, moetui, wait_for, wait_for_step
from tests.tui_pilot import scenario, until


@pytest.fixture
def store(runs_dir):
    return RunStore(runs_dir)


@pytest.fixture
def stranger():
    """Someone else's long-lived process, in a session of its own like an engine's."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _config(cache_dir, steps=5000):
    return load_preset("quick")[0].apply_overrides([*FAST, f"data.cache_dir={cache_dir}", f"train.max_steps={steps}"])


def _age(path, seconds):
    """Make the heartbeat `seconds` old, as if the engine had shown no progress since."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_reused_pid_is_crashed_and_stop_never_signals_it(store, stranger, token_cache_dir):
    record = store.create(_config(token_cache_dir), name="ghost")
    identity = identify(stranger.pid).record()
    update_run_json(record.path, status="running", **{**identity, "pid_started": identity["pid_started"] - 3600})
    seen = store.get(record.id)
    assert seen.status == "crashed" and "gone" in seen.exit_reason
    result = moetui("stop", record.id)
    assert result.exit_code == 1 and "not running (status crashed)" in result.stderr
    assert stranger.poll() is None  # the stranger lives on
    assert "crashed" in moetui("ls").stdout


def test_a_pid_recorded_without_its_start_time_is_ours_only_if_it_runs_in_the_run_dir(store, stranger,
                                                                                   token_cache_dir):
    record = store.create(_config(token_cache_dir), name="old")
    update_run_json(record.path, status="running", pid=stranger.pid, host=this_host())  # written by an older moetui
    assert store.get(record.id).status == "crashed"
    with pytest.raises(LaunchError, match="not running"):
        launcher.stop(store, record.id)
    assert stranger.poll() is None


def test_after_a_reboot_every_recorded_pid_is_gone(store, stranger, token_cache_dir):
    record = store.create(_config(token_cache_dir), name="rebooted")
    identity = identify(stranger.pid).record()
    update_run_json(record.path, status="running", **{**identity, "boot": identity["boot"] - 86400})
    assert store.get(record.id).status == "crashed"
    update_run_json(record.path, boot=identity["boot"])
    assert store.get(record.id).status == "running"  # the same process, same boot: ours


def test_the_queue_is_not_held_up_by_a_stale_pid(store, stranger, token_cache_dir):
    stale = store.create(_config(token_cache_dir), name="stale")
    identity = identify(stranger.pid).record()
    update_run_json(stale.path, status="running", **{**identity, "pid_started": 1.0})
    waiting = store.create(_config(token_cache_dir, steps=2), name="waiting")
    worker = scheduler.Scheduler(store, [])
    assert worker.tick()
    try:
        assert wait_for(store, waiting.id, ("completed",)).status == "completed"
    finally:
        for process in worker.children.values():
            process.wait(timeout=60)


def test_a_run_of_another_host_is_stalled_when_its_heartbeat_is_old_and_resumes_only_with_force(
        store, token_cache_dir):
    record = store.create(_config(token_cache_dir, steps=2), name="node7")
    process = launcher.launch(store, record.id, pipe=False)
    process.wait(timeout=90)
    assert store.get(record.id).status == "completed"
    # As if the run had been taken over by another host (a cluster node) that then died:
    update_run_json(record.path, status="running", host="node7.cluster", pid=1, pid_started=1.0)
    assert store.get(record.id).status == "running"  # fresh heartbeat: trusted
    _age(record.path / HEARTBEAT_FILE, status.DEFAULT_STALL_AFTER_S + 10)
    assert store.get(record.id).status == "running"  # within the network-filesystem grace
    _age(record.path / HEARTBEAT_FILE, status.DEFAULT_STALL_AFTER_S + status.REMOTE_GRACE_S + 10)
    seen = store.get(record.id)
    assert seen.status == "stalled" and "no sign of progress" in seen.exit_reason
    refused = moetui("resume", record.id, "--detach")
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert "runs on node7.cluster" in moetui("stop", record.id).stderr  # never signalled from here
    resumed = moetui("resume", record.id, "--detach", "--force")
    assert resumed.exit_code == 0, resumed.stderr
    ended = wait_for(store, record.id, ("completed", "failed"))
    assert ended.status == "completed" and ended.host == this_host()


@pytest.mark.slow
def test_a_paused_engine_is_stalled_and_stop_wakes_it_to_checkpoint(store, token_cache_dir):
    record = store.create(_config(token_cache_dir), name="paused")
    process = launcher.launch(store, record.id, pipe=False)
    try:
        wait_for_step(store, record.id, 2)
        os.killpg(process.pid, signal.SIGSTOP)  # what Ctrl-Z does to a foreground job
        _age(record.path / HEARTBEAT_FILE, status.DEFAULT_STALL_AFTER_S + 1)
        assert store.get(record.id).status == "stalled"
        assert "stalled" in moetui("ls").stdout
        assert "asked paused to stop" in launcher.stop(store, record.id)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    ended = store.get(record.id)
    assert ended.status == "stopped" and (record.path / "checkpoint.pt").is_file()


def test_a_stop_shows_stopping_until_the_engine_has_ended(store, token_cache_dir):
    record = store.create(_config(token_cache_dir), name="stopping")
    process = launcher.launch(store, record.id, pipe=False)
    try:
        wait_for_step(store, record.id, 1)
        os.killpg(process.pid, signal.SIGSTOP)  # hold it between the request and its checkpoint
        launcher.stop(store, record.id)  # SIGTERM, then SIGCONT: it resumes and stops
        seen = store.get(record.id).status
        assert seen in ("stopping", "stopped")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert store.get(record.id).status == "stopped"


def test_code_in_the_working_directory_never_replaces_the_engine(store, token_cache_dir, tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "engine").mkdir(parents=True)
    (project / "engine" / "__init__.py").write_text("raise SystemExit('the wrong engine was imported')\n")
    (project / "engine" / "__main__.py").write_text("raise SystemExit('the wrong engine ran')\n")
    (project / "numpy.py").write_text("raise SystemExit('the wrong numpy was imported')\n")
    monkeypatch.chdir(project)
    record = store.create(_config(token_cache_dir, steps=2), name="cwd")
    process = launcher.launch(store, record.id, pipe=False)
    assert process.wait(timeout=90) == 0, (record.path / "engine.log").read_text()
    assert store.get(record.id).status == "completed"


@scenario
async def test_the_tui_resumes_a_stalled_run_of_another_host_only_after_asking(store, token_cache_dir):
    record = store.create(_config(token_cache_dir, steps=2), name="node7")
    launcher.launch(store, record.id, pipe=False).wait(timeout=90)
    update_run_json(record.path, status="running", host="node7.cluster", pid=1, pid_started=1.0)
    _age(record.path / HEARTBEAT_FILE, status.DEFAULT_STALL_AFTER_S + status.REMOTE_GRACE_S + 10)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: table.row_count == 1 and table.get_row_at(0)[3].plain == "stalled",
                    what="the stalled run")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: store.get(record.id).status == "completed", timeout=90, what="the resumed run")
    assert store.get(record.id).host == this_host()
