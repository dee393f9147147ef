"""Slurm's client commands, run from here: sbatch, scancel, squeue, sacct, sinfo.

Every failure a person can fix is a SlurmError in one line: a command not on PATH, a
controller that does not answer, a submission Slurm refused (in Slurm's own words).

Job states are read in one `squeue --me` for all of this user's jobs and kept for a
moment (SNAPSHOT_S): `moetui ls` and the TUI ask about every live Slurm run at each
refresh, which must cost one squeue, not one per run. A job not among them (another
user's in a shared store, or one submitted since) is asked about by its id and kept in
the same snapshot. A job seen ended stays ended, so it is remembered for the life of the
process and never asked about again.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from moetui.backends import BackendError
from moetui.slurm_jobs import (SQUEUE_FORMAT, JobView, forgotten, gpus_per_node, parse_job_id, parse_sacct,
                               parse_squeue, refusal, unreachable)
from moetui.status import Liveness

SNAPSHOT_S = 2.0
UNREACHABLE_S = 60.0  # after squeue failed, ask again only this much later: a down controller answers slowly
TIMEOUT_S = 30.0  # for sbatch and scancel; squeue, asked at every refresh, gets a third of it

_snapshot: tuple[float, dict[str, JobView] | None] | None = None  # (monotonic time, jobs or None: no answer)
_ended: dict[str, JobView] = {}


class SlurmError(BackendError):
    """A Slurm command is missing, failed, or refused what was asked."""


def _run(args: list[str], stdin: str | None = None, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    if shutil.which(args[0]) is None:
        raise SlurmError(f"{args[0]} not found on PATH: Slurm's client commands are needed here",
                         "run moetui on the cluster's login node, or load them (e.g. module load slurm)")
    try:
        return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{args[0]} did not answer in {timeout:.0f}s", "is slurmctld up? try: sinfo") from None


def sbatch(script: Path) -> str:
    """Submit a job script; its job id. Slurm's refusal (bad partition, account, ...) as a SlurmError."""
    done = _run(["sbatch", "--parsable", str(script)])
    job_id = parse_job_id(done.stdout) if done.returncode == 0 else None
    if job_id is None:
        raise _refused("Slurm refused the job", done)
    forget()
    return job_id


def check_submission(script_text: str) -> None:
    """`sbatch --test-only`: would Slurm take this job? Nothing is queued."""
    done = _run(["sbatch", "--test-only"], stdin=script_text)
    if done.returncode != 0:
        raise _refused("Slurm would refuse the job", done)


def _refused(verdict: str, done: subprocess.CompletedProcess) -> SlurmError:
    """sbatch's refusal in one line: the job's options, or no controller to ask at all."""
    words = refusal(done.stderr or done.stdout)
    if unreachable(words):
        return SlurmError(f"Slurm's controller cannot be reached from here: {words}",
                          "run moetui on the cluster's login node, or check that slurmctld is up (sinfo)")
    return SlurmError(f"{verdict}: {words}",
                      "fix the [slurm] options or flags (moetui slurm show prints the job script)")


def scancel(job_id: str, *flags: str) -> None:
    done = _run(["scancel", *flags, job_id])
    forget()
    if done.returncode != 0:
        raise SlurmError(f"scancel of job {job_id} failed: {refusal(done.stderr)}")


def forget() -> None:
    """Drop the snapshot: the next question sees what was just changed."""
    global _snapshot
    _snapshot = None


def _jobs() -> dict[str, JobView] | None:
    """This user's jobs Slurm still lists (pending, running, recently ended); None: no answer."""
    global _snapshot
    now = time.monotonic()
    if _snapshot is not None and now - _snapshot[0] < (SNAPSHOT_S if _snapshot[1] is not None else UNREACHABLE_S):
        return _snapshot[1]
    try:
        done = _run(["squeue", "--me", "--states=all", "-h", "-o", SQUEUE_FORMAT], timeout=TIMEOUT_S / 3)
        jobs = parse_squeue(done.stdout) if done.returncode == 0 else None
    except SlurmError:
        jobs = None
    _snapshot = (now, jobs)
    return jobs


def job(job_id: str) -> JobView | None:
    """What Slurm says of a job; None when it cannot be asked from here (no Slurm, no answer)."""
    if job_id in _ended:
        return _ended[job_id]
    jobs = _jobs()
    if jobs is None:
        return None
    if job_id not in jobs:  # submitted since the snapshot, another user's (a shared store), or ended long ago
        jobs[job_id] = _one(job_id)
    view = jobs[job_id]
    if view.liveness == Liveness.GONE:
        _ended[job_id] = view
    return view


def _one(job_id: str) -> JobView:
    """A job asked about by its id: squeue, else sacct where accounting is kept, else forgotten."""
    try:
        done = _run(["squeue", "-h", "-j", job_id, "--states=all", "-o", SQUEUE_FORMAT], timeout=TIMEOUT_S / 3)
    except SlurmError:
        return _accounting(job_id)
    return parse_squeue(done.stdout).get(job_id) or _accounting(job_id)


def _accounting(job_id: str) -> JobView:
    try:
        done = _run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State,Reason,NodeList"])
    except SlurmError:
        return forgotten(job_id)
    return (parse_sacct(job_id, done.stdout) if done.returncode == 0 else None) or forgotten(job_id)


def partition_gpus(partition: str | None, gpu_type: str | None) -> int | None:
    """The most GPUs a node of the partition has (all partitions when None); None: unknown."""
    try:
        done = _run(["sinfo", "-h", "-o", "%G", *(["-p", partition] if partition else [])])
    except SlurmError:
        return None
    return gpus_per_node(done.stdout, gpu_type) if done.returncode == 0 and done.stdout.strip() else None
