"""Runs handed to a real Slurm cluster (scripts/slurm_local.sh: two nodes on this host,
munge, slurmctld, slurmd), watched and driven from the run store as a login node would:
a study completes and reports, stop checkpoints and resume finishes, a killed engine is
crashed with Slurm's reason, a pending job is cancelled, and two ranks under srun and
torchrun -- on one node, and across two -- train exactly as one process does.

Skipped where `sinfo` does not answer, unless MOETUI_REQUIRE_SLURM is set (.ci/run sets
it: there a cluster that failed to start is a failure, not a skip)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine.config import Config
from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE
from engine_helpers import ROOT, of_type, quick_config, read_events, write_run
from moetui import slurm_commands
from moetui.backends.local import engine_command
from moetui.history import load_history
from moetui.runs import RunStore
from moetui.scheduler import Scheduler
from tests.cli_helpers import fast_sets, moetui, wait_for, wait_for_step
from tests.slurm_fixtures import cluster, store  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _submit(*args: str) -> str:
    result = moetui("run", "quick", "--slurm", "--detach", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def _job_field(job_id: str, field: str = "%T") -> str:
    """squeue's `field` (default: the state) of a job, ended ones included."""
    return subprocess.run(["squeue", "-h", "-j", job_id, "--states=all", "-o", field], capture_output=True,
                          text=True).stdout.strip()


def _losses(run_dir: Path) -> list[float]:
    return [e["loss"] for e in of_type(read_events(run_dir), "step")]


STUDY = """description = "three learning rates, on Slurm"
base = "quick"
seeds = [1]
baseline = "mid"

[[variant]]
name = "low"
description = "lower Muon lr"
overrides = ["optim.muon_lr=0.02"]

[[variant]]
name = "mid"
description = "the preset's"
overrides = []

[[variant]]
name = "high"
description = "higher Muon lr"
overrides = ["optim.muon_lr=0.08"]
"""


def test_a_study_submitted_to_slurm_runs_each_variant_as_a_job_and_reports(store, token_cache_dir, monkeypatch,
                                                                           tmp_path):
    presets = tmp_path / "presets"
    (presets / "studies").mkdir(parents=True)
    (presets / "studies" / "lrs.toml").write_text(STUDY)
    monkeypatch.setenv("MOETUI_PRESETS", str(presets))
    result = moetui("study", "lrs", "--slurm", *fast_sets(token_cache_dir, "train.max_steps=20", "eval.eval_every=10"))
    assert result.exit_code == 0, result.stderr
    assert "3 runs submitted to Slurm, one job each" in result.stderr
    assert "is under /tmp, which each node has its own of" in result.stderr  # pytest's store: warned, still fine here
    records = store.list()
    assert sorted(r.variant for r in records) == ["high", "low", "mid"]
    assert all(r.backend == "slurm" and r.job_id for r in records) and len({r.job_id for r in records}) == 3
    for record in records:
        assert wait_for(store, record.id, ("completed", "failed", "crashed"), timeout=150).status == "completed"
        assert load_history(record.path / "events.jsonl").last_step == 20
    report = moetui("report", "--study", "lrs", "--format", "csv")
    assert report.exit_code == 0, report.stderr
    assert all(variant in report.stdout for variant in ("low", "mid", "high"))


def test_a_login_node_that_still_sees_the_old_run_json_does_not_call_a_finished_job_crashed(store,
                                                                                           token_cache_dir):
    """Over NFS the login node may read the run.json a node has replaced for up to a minute
    after the job ended, while events.jsonl (appended, revalidated at each open) already
    ends with `end`: the run is not crashed meanwhile. Without that `end`, it is."""
    run_id = _submit(*fast_sets(token_cache_dir, "train.max_steps=3"))
    record = wait_for(store, run_id, ("completed", "failed", "crashed"), timeout=120)
    assert record.status == "completed"
    while _job_field(record.job_id) not in ("COMPLETED", ""):  # the job winds down after the engine's end
        time.sleep(0.2)
    slurm_commands.forget()  # this process's squeue snapshot (2 s) may still show it running
    run_json = record.path / "run.json"
    stale = json.loads(run_json.read_text()) | {"status": "running", "ended": None}
    run_json.write_text(json.dumps(stale))
    assert store.get(run_id).status == "running"
    events = record.path / "events.jsonl"
    events.write_text("".join(events.read_text().splitlines(keepends=True)[:-1]))  # no `end`: killed before it
    crashed = store.get(run_id)
    assert crashed.status == "crashed" and crashed.exit_reason.startswith(f"Slurm job {record.job_id} ended COMPLETED")


def test_stop_checkpoints_a_slurm_run_and_resume_submits_a_job_that_finishes(store, token_cache_dir):
    run_id = _submit(*fast_sets(token_cache_dir, "train.max_steps=5000"))
    first_job = store.get(run_id).job_id
    wait_for_step(store, run_id, 3, timeout=120)
    running = store.get(run_id)
    assert running.status == "running" and running.exit_reason.startswith(f"Slurm job {first_job} running on ")
    stopped = moetui("stop", run_id)
    assert stopped.exit_code == 0 and "stopped with a checkpoint" in stopped.stdout, stopped.stderr
    record = store.get(run_id)
    at_stop = load_history(record.path / "events.jsonl").last_step
    assert (record.path / CHECKPOINT_FILE).is_file() and 3 <= at_stop < 5000

    nearer_end = Config.from_toml(record.path / CONFIG_FILE).apply_overrides([f"train.max_steps={at_stop + 3}"])
    (record.path / CONFIG_FILE).write_text(nearer_end.to_toml())
    resumed = moetui("resume", run_id, "--detach")
    assert resumed.exit_code == 0, resumed.stderr
    assert store.get(run_id).job_id != first_job and "--resume" in (record.path / "slurm.sbatch").read_text()
    assert wait_for(store, run_id, ("completed", "failed", "crashed"), timeout=120).status == "completed"
    history = load_history(record.path / "events.jsonl")
    assert history.start["resumed"] and history.steps == list(range(1, at_stop + 4))

    more = moetui("continue", run_id, "--steps", "2", "--detach")  # a new run, in a job with the same options
    assert more.exit_code == 0, more.stderr
    child = store.get(more.stdout.strip())
    assert child.backend == "slurm" and child.parent == run_id and child.job_id not in (None, first_job)
    assert wait_for(store, child.id, ("completed", "failed", "crashed"), timeout=120).status == "completed"


def test_a_killed_engine_shows_crashed_with_slurms_reason_and_an_outside_scancel_lets_it_checkpoint(store,
                                                                                                    token_cache_dir):
    """kill -9 on its node (the OOM killer) leaves no `end`: crashed, and Slurm says how the
    job ended. `scancel --signal=KILL` from outside cancels the job, which Slurm does with
    SIGTERM first and KillWait (10 s here) before SIGKILL: the engine checkpoints and stops."""
    run_id = _submit(*fast_sets(token_cache_dir, "train.max_steps=5000", "train.checkpoint_every=2"))
    wait_for_step(store, run_id, 3, timeout=120)
    job_id = store.get(run_id).job_id
    os.kill(store.get(run_id).pid, signal.SIGKILL)
    crashed = wait_for(store, run_id, ("crashed",), timeout=60)
    assert crashed.exit_reason.startswith(f"Slurm job {job_id} ended FAILED: "), crashed.exit_reason
    assert (crashed.path / CHECKPOINT_FILE).is_file()

    assert moetui("resume", run_id, "--detach").exit_code == 0
    at_crash = load_history(crashed.path / "events.jsonl").last_step
    wait_for_step(store, run_id, at_crash + 3, timeout=120)
    subprocess.run(["scancel", "--signal=KILL", store.get(run_id).job_id], check=True)
    record = wait_for(store, run_id, ("stopped", "crashed"), timeout=60)
    assert record.status == "stopped" and record.exit_reason == "stop requested"


def test_a_pending_job_is_cancelled_never_started_and_the_local_queue_leaves_it_alone(store, token_cache_dir):
    held = _submit("--sbatch=--hold", *fast_sets(token_cache_dir))
    record = store.get(held)
    assert record.status == "queued" and record.exit_reason == f"Slurm job {record.job_id} waits: JobHeldUser"
    assert not Scheduler(store, []).tick()  # nothing in the store's own queue: a Slurm run is not the scheduler's
    assert store.get(held).status == "queued" and store.get(held).pid is None
    again = moetui("resume", held)
    assert again.exit_code == 1 and "is already submitted" in again.stderr

    stopped = moetui("stop", held)
    assert stopped.exit_code == 0 and "took quick off the queue" in stopped.stderr
    assert store.get(held).status == "cancelled" and _job_field(record.job_id) == "CANCELLED"
    deleted = _submit("--sbatch=--hold", *fast_sets(token_cache_dir))
    job = store.get(deleted).job_id
    assert moetui("rm", deleted, "--yes").exit_code == 0  # deleting a pending run takes its job back too
    assert _job_field(job) == "CANCELLED"
    assert not (record.path / "events.jsonl").exists()


def test_refusals_are_one_line_and_leave_the_store_empty(store, runs_dir):
    bad = moetui("run", "quick", "--slurm", "--partition", "nope", "--detach")
    assert bad.exit_code == 1
    assert bad.stderr.splitlines()[-1].startswith("moetui: Slurm would refuse the job: invalid partition specified: "
                                                  "nope")
    gpus = moetui("run", "quick", "--slurm", "--gpus-per-node", "2", "--detach")  # train.device auto: asks for GPUs
    assert gpus.exit_code == 1
    assert gpus.stderr.splitlines()[-1] == ("moetui: this cluster has at most 0 GPUs per node (sinfo %G), 2 per node "
                                            "were asked for; lower gpus_per_node (--gpus-per-node) or pick another "
                                            "partition")
    assert list(runs_dir.iterdir()) == []


WHOLE_BATCH = ["train.max_steps=4", "model.dropout=0", "moe.load_balancing_weight=0",
               "train.gradient_accumulation_steps=2", "train.device=cpu"]


def test_two_ranks_under_srun_and_torchrun_train_as_one_process_on_one_node_and_across_two(store, token_cache_dir,
                                                                                           tmp_path):
    """As tests/test_engine_distributed.py: 2 ranks x 2 sequences = 1 process x 4, to float
    rounding; here the ranks are started by Slurm (srun, then torchrun on each node)."""
    halves = fast_sets(token_cache_dir, *WHOLE_BATCH, "train.batch_size=2")
    one_node = _submit("--gpus-per-node", "2", *halves, "--name", "one-node")
    two_nodes = _submit("--nodes", "2", *halves, "--name", "two-nodes")
    whole = tmp_path / "whole"
    write_run(whole, quick_config(token_cache_dir, *WHOLE_BATCH, "train.batch_size=4"))
    local = subprocess.run(engine_command(whole, False, 1), capture_output=True, text=True, timeout=180, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert local.returncode == 0, local.stderr[-2000:]
    assert len(_losses(whole)) == 4 and _losses(whole)[-1] != _losses(whole)[0]
    for run_id in (one_node, two_nodes):
        record = wait_for(store, run_id, ("completed", "failed", "crashed"), timeout=180)
        assert record.status == "completed", (record.exit_reason, (record.path / "engine.log").read_text()[-2000:])
        (start,) = of_type(read_events(record.path), "start")
        assert start["world_size"] == 2 and start["tokens_per_step"] == 2 * 2 * 2 * 32  # 2 ranks x 2 x accum 2 x 32
        assert _losses(record.path) == pytest.approx(_losses(whole), rel=1e-5)
    assert "PET_RDZV_BACKEND=c10d" in (store.path(two_nodes) / "slurm.sbatch").read_text()
    assert _job_field(store.get(two_nodes).job_id, "%D") == "2"  # nodes: the rendezvous joined two torchruns
