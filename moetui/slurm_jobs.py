"""What Slurm's commands print, read: job states from squeue/sacct, job ids from sbatch,
refusals, and the GPUs of a partition's nodes from sinfo. Pure functions of text, so
they are tested on Slurm's own output without a cluster; moetui/slurm_commands.py runs
the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moetui.status import Liveness

# `squeue --me --states=all -h -o` with this format: one job a line, fields by "|".
SQUEUE_FORMAT = "%i|%T|%r|%N"

# Waiting to start; a job requeued after a node failure waits again.
WAITING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
# Has nodes and a batch step (COMPLETING: its processes are being ended).
HOLDING_NODES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
# Why a job ended without the engine's `end`, for the states a person can act on.
_ENDINGS = {
    "TIMEOUT": "its time limit passed before the engine stopped (raise [slurm] time or signal_before)",
    "CANCELLED": "cancelled (scancel, or an administrator)",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "out of memory on its node (raise [slurm] mem)",
    "PREEMPTED": "preempted by another job",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "its deadline passed",
    "FAILED": "the job script failed (see moetui logs: a setup line, or the engine killed)",
    "COMPLETED": "the job script ended without the engine's end (see moetui logs)",
}


@dataclass(frozen=True)
class JobView:
    job_id: str
    state: str  # Slurm's JOB_STATE, e.g. PENDING, RUNNING, TIMEOUT
    reason: str | None = None  # squeue's %r: Priority, Resources, JobHeldUser, ...
    nodes: str | None = None

    @property
    def liveness(self) -> str:
        if self.state in WAITING:
            return Liveness.PENDING
        return Liveness.ALIVE if self.state in HOLDING_NODES else Liveness.GONE

    def words(self) -> str:
        """The job as a person should read it beside the run's status."""
        if self.state in WAITING:
            return f"Slurm job {self.job_id} waits" + (f": {self.reason}" if self.reason else "")
        if self.state in HOLDING_NODES:
            return f"Slurm job {self.job_id} {self.state.lower()} on {self.nodes or 'its nodes'}"
        if self.state == FORGOTTEN:
            return (f"Slurm job {self.job_id} ended and is no longer listed: killed, node failure or time limit "
                    "(see moetui logs)")
        return f"Slurm job {self.job_id} ended {self.state}: {_ENDINGS.get(self.state, 'see moetui logs')}"


FORGOTTEN = "FORGOTTEN"  # not Slurm's: a job it no longer lists (ended over MinJobAge ago, no sacct)


def forgotten(job_id: str) -> JobView:
    return JobView(job_id, FORGOTTEN)


def _field(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "None", "(null)", "n/a") else text


def parse_squeue(text: str) -> dict[str, JobView]:
    """Lines of SQUEUE_FORMAT -> job id -> view; lines that do not fit are skipped."""
    jobs = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != 4 or not parts[0].strip():
            continue
        job_id, state, reason, nodes = parts
        jobs[job_id.strip()] = JobView(job_id.strip(), state.strip(), _field(reason), _field(nodes))
    return jobs


def parse_sacct(job_id: str, text: str) -> JobView | None:
    """`sacct -j ID -X -n -P -o State,Reason,NodeList`: `CANCELLED by 0|None|node1`."""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].strip():
            return JobView(job_id, parts[0].split()[0], _field(parts[1]), _field(parts[2]))
    return None


def parse_job_id(text: str) -> str | None:
    """`sbatch --parsable` prints `ID` or `ID;CLUSTER`."""
    first = text.strip().split(";")[0]
    return first if re.fullmatch(r"\d+(_\d+)?", first) else None


def refusal(stderr: str) -> str:
    """sbatch's error lines as one line, without their `sbatch: error:` prefixes."""
    lines = [re.sub(r"^sbatch:\s*(error:\s*)?", "", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    return "; ".join(lines[-3:]) or "no reason given"


# What Slurm's clients say when there is no controller to ask (no slurm.conf here, slurmctld
# down or unreachable): no option could make such a job acceptable.
_UNREACHABLE = re.compile(r"could not establish a configuration source|unable to contact slurm controller",
                          re.IGNORECASE)


def unreachable(words: str) -> bool:
    """Whether a refusal (see `refusal`) says Slurm's controller cannot be reached."""
    return _UNREACHABLE.search(words) is not None


_GPU_ITEM = re.compile(r"gpu(?::([^:,()]+))?:(\d+)")


def gpus_per_node(sinfo_gres: str, gpu_type: str | None = None) -> int:
    """The most GPUs (of `gpu_type`, if given) any node has, from `sinfo -h -o %G` lines
    such as `gpu:a100:8(S:0-1)`, `gpu:4,mps:100` or `(null)`."""
    most = 0
    for line in sinfo_gres.splitlines():
        line = re.sub(r"\([^)]*\)", "", line)  # socket bindings: (S:0-1)
        count = sum(int(n) for kind, n in _GPU_ITEM.findall(line) if gpu_type is None or kind == gpu_type)
        most = max(most, count)
    return most
