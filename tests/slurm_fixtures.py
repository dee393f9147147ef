"""The Slurm tests' cluster and store: skipped where `sinfo` does not answer, unless
MOETUI_REQUIRE_SLURM is set (.ci/run sets it: there a cluster that failed to start is a
failure, not a skip). Import both names into a test module to use them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from moetui.runs import RunStore


def _cluster_problem() -> str | None:
    conf = os.environ.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    if not Path(conf).is_file():  # sinfo would retry for a minute before saying so
        return f"no {conf}"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"sinfo: {e}"
    if done.returncode != 0 or "idle" not in done.stdout and "mix" not in done.stdout:
        return f"sinfo: {(done.stderr or done.stdout).strip() or 'no idle node'}"
    return None


@pytest.fixture(scope="module", autouse=True)
def cluster():
    problem = _cluster_problem()
    if problem and os.environ.get("MOETUI_REQUIRE_SLURM"):
        pytest.fail(f"no Slurm cluster ({problem}); .ci/run starts one with scripts/slurm_local.sh start")
    if problem:
        pytest.skip(f"no Slurm cluster here ({problem}); start one with: sudo scripts/slurm_local.sh start")


@pytest.fixture
def store(runs_dir, monkeypatch, tmp_path):
    """A run store for Slurm jobs: [slurm] asks for no GPUs (this cluster has none), one CPU a
    job, one thread per process (jobs inherit this environment) on a busy 2-core machine."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("[slurm]\ngpus_per_node = 0\ncpus_per_task = 1\nsignal_before = 0\n")
    monkeypatch.setenv("MOETUI_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    store = RunStore(runs_dir)
    yield store
    jobs = [record.job_id for record in store.list() if record.job_id]
    if jobs:  # a test that failed halfway must not leave the next ones waiting behind its jobs
        subprocess.run(["scancel", *jobs], capture_output=True)
