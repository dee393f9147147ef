"""Launching, stopping and scheduling engines: a killed engine reads as crashed, a run never
starts twice, Ctrl-C in the foreground asks stop-or-detach, and the queue puts one run on
each GPU. Real engine on a shrunk `quick`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from moetui import launcher, scheduler
from moetui.history import load_history
from moetui.backends.local import engine_command, engine_env
from moetui.launcher import LaunchError
from moetui.presets import load_preset
from engine.identity import identify
from engine.rundir import read_run_json, write_run_json
from moetui.runs import RunRecord, RunStore
from tests.cli_helpers import FAST, fast_sets, moetui, wait_for, wait_for_step


@pytest.fixture
def store(runs_dir):
    return RunStore(runs_dir)


def _fast_config(cache_dir, steps):
    return load_preset("quick")[0].apply_overrides([*FAST, f"data.cache_dir={cache_dir}", f"train.max_steps={steps}"])


@pytest.mark.slow
def test_a_killed_engine_shows_as_crashed_and_cannot_be_stopped_or_started_twice(store, token_cache_dir):
    record = store.create(_fast_config(token_cache_dir, 5000), name="victim", preset="quick")
    process = launcher.launch(store, record.id, pipe=False)
    try:
        wait_for_step(store, record.id, 1)
        with pytest.raises(LaunchError, match="already running"):
            launcher.launch(store, record.id, resume=True)
        os.kill(store.get(record.id).pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert store.get(record.id).status == "crashed"
    assert "crashed" in moetui("ls").stdout
    stop = moetui("stop", "victim")
    assert stop.exit_code == 1 and "not running (status crashed)" in stop.stderr
    resume = moetui("resume", "victim")  # killed before its first checkpoint
    assert resume.exit_code == 1 and "no checkpoint to resume from" in resume.stderr


def _foreground(token_cache_dir, steps):
    """`moetui run` in a terminal-less subprocess, its stdin open for the stop-or-detach answer."""
    return subprocess.Popen([sys.executable, "-m", "moetui", "run", "quick",
                             *fast_sets(token_cache_dir, f"train.max_steps={steps}")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["s", "d"])
def test_ctrl_c_in_the_foreground_asks_stop_or_detach(store, token_cache_dir, answer):
    cli = _foreground(token_cache_dir, 1000)  # long enough that the Ctrl-C lands mid-run on a fast, idle machine
    try:
        wait_for_step(store, _only_run(store).id, 1)
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(answer + "\n", timeout=90)
    finally:
        cli.kill()
    assert cli.returncode == 0, err
    assert "stop the run (it checkpoints) or detach" in out
    run_id = _only_run(store).id
    if answer == "s":
        record = wait_for(store, run_id, ("stopped",))
        assert "quick stopped:" in out and (record.path / "checkpoint.pt").is_file()
        return
    assert "detached; quick keeps training" in out
    assert store.get(run_id).status == "running"  # the CLI is gone, the engine is not ...
    detached_at = load_history(store.path(run_id) / "events.jsonl").last_step
    wait_for_step(store, run_id, detached_at + 5)  # ... and it trains on (not to its 1000th step: minutes under load)
    assert moetui("stop", run_id).exit_code == 0
    assert wait_for(store, run_id, ("stopped",)).status == "stopped"


def _only_run(store) -> RunRecord:
    for _ in range(150):
        runs = store.list()
        if runs:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the CLI created no run")


@pytest.mark.slow
def test_the_queue_puts_one_run_on_each_gpu(store, token_cache_dir, monkeypatch):
    """CUDA_VISIBLE_DEVICES is all a run sees of its GPU, so this holds on a CPU machine too."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two CPU engines at two threads each thrash 2 cores (19 s vs 3 s)
    ids = [store.create(_fast_config(token_cache_dir, 4), name=f"q{i}").id for i in range(3)]
    scheduler.Scheduler(store, ["0", "1"], poll=0.1).run()  # returns once nothing is queued
    done = [wait_for(store, run_id, ("completed", "failed")) for run_id in ids]
    assert [r.status for r in done] == ["completed"] * 3
    assert {done[0].gpu, done[1].gpu} == {"0", "1"}  # the first two start together, one per GPU
    assert done[2].gpu in ("0", "1")


def test_a_run_being_started_cannot_be_taken_from_the_queue(store):
    """`start_new` holds the new run's lock from creation to claim: a scheduler trying to
    launch it meanwhile waits, then finds it running."""
    outcome = []

    def scheduler_claim(run_id):
        try:
            launcher.launch(store, run_id, pipe=False)
        except LaunchError as e:
            outcome.append(str(e))

    with store.creating(load_preset("quick")[0], name="mine") as record:
        assert [r.status for r in store.list()] == ["queued"]  # visible, but locked
        thief = threading.Thread(target=scheduler_claim, args=(record.id,))
        thief.start()
        thief.join(0.5)
        assert thief.is_alive()  # waiting for the lock
        write_run_json(record.path, {**read_run_json(record.path), "status": "running",
                                   **identify(os.getpid()).record()})
    thief.join(10)
    assert len(outcome) == 1 and outcome[0].startswith(f"run mine is already running (pid {os.getpid()}")


def test_a_queued_run_can_be_cancelled_and_the_scheduler_skips_it(store):
    record = store.create(load_preset("quick")[0], name="waiting")
    result = moetui("stop", "waiting")
    assert result.exit_code == 0 and "took waiting off the queue" in result.stderr
    assert store.get(record.id).status == "cancelled" and store.queued() == []
    assert scheduler.main(["--runs-dir", str(store.root)]) == 0  # nothing queued: exits at once


def test_one_scheduler_per_store(store):
    held = scheduler._try_lock(store.root)
    try:
        assert scheduler.scheduler_running(store)
        assert scheduler.ensure_scheduler(store) is None  # no second scheduler started
    finally:
        held.close()
    assert not scheduler.scheduler_running(store)


def _record(gpu=None, host="here"):
    return RunRecord(id="x", name="x", path=None, status="running", gpu=gpu, host=host)


def test_busy_slots_count_runs_on_this_host_only():
    assert scheduler.busy_slots([scheduler.CPU], [_record()], "here") == {scheduler.CPU}
    assert scheduler.busy_slots([scheduler.CPU], [_record(host="other")], "here") == set()
    assert scheduler.busy_slots(["0", "1", "2"], [_record("1"), _record("0,2", "other")], "here") == {"1"}
    assert scheduler.busy_slots(["0", "1"], [_record("0,1")], "here") == {"0", "1"}


def test_visible_gpus_come_from_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert scheduler.detect_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert scheduler.detect_gpus() == []


def test_the_engine_command_and_environment_per_gpu_count(tmp_path):
    assert engine_command(tmp_path, False, 1)[1:4] == ["-P", "-m", "engine"]
    multi = engine_command(tmp_path, True, 2)
    assert multi[1:6] == ["-P", "-m", "engine.torchrun", "--standalone", "--nproc_per_node=2"]
    assert multi[-1] == "--resume"
    assert engine_env(["0", "1"])["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert launcher.parse_gpus("0, 1") == ["0", "1"] and launcher.parse_gpus(None) == []
    with pytest.raises(LaunchError, match="'x' is not a device index"):
        launcher.parse_gpus("0,x")
