"""The Slurm backend: each run is one sbatch job whose engine writes into the shared run store.

Submitting writes the job script into the run directory (moetui/slurm_script.py) and
hands it to sbatch; run.json then says `queued` with the job id until the engine, once
started on a node, records itself `running` there. From then on the engine's own record
and events say how the run goes, exactly as for a local one; Slurm is asked (squeue,
cached: moetui/slurm_commands.py) only whether the job still waits, runs, or is gone,
and why. Stop is `scancel --signal=TERM` (the engine checkpoints and ends `stopped`), a
pending job is withdrawn with `scancel --state=PENDING`, resume submits a new job.
"""

from __future__ import annotations

import os
import signal as signals
import time
from pathlib import Path
from typing import Any

from engine.config import Config
from engine.protocol import parse_line
from engine.rundir import CONFIG_FILE, EVENTS_FILE, atomic_write_text
from moetui import slurm_commands
from moetui.backends import BackendError, Submission
from moetui.slurm_config import from_record
from moetui.slurm_script import SCRIPT_FILE, job_for, render
from moetui.status import LIVE, QUEUED, Liveness

_TAIL_BYTES = 65536  # more than an `end` event with its final metrics


class SlurmBackend:
    name = "slurm"

    def submit(self, record: dict[str, Any], run_dir: Path, resume: bool, gpus: list[str],
               pipe: bool) -> Submission:
        """Write the job script and sbatch it; the run is `queued` until its engine starts."""
        name = record.get("name") or run_dir.name
        if gpus:
            raise BackendError(f"--gpus {','.join(gpus)} names GPUs of this machine; run {name} gets its GPUs "
                               "from Slurm", "set gpus_per_node in [slurm] or pass --gpus-per-node")
        previous = record.get("job_id")
        # An engine that recorded its end is done even while its job winds down; one that did
        # not (a stalled run resumed with --force) may still train in a job Slurm runs.
        view = slurm_commands.job(previous) if previous and record.get("status") in LIVE else None
        if view is not None and view.liveness != Liveness.GONE:
            raise BackendError(f"run {name} still has {view.words()}", f"wait for it or cancel it: scancel {previous}")
        job = job_for(run_dir, name, from_record(record), Config.from_toml(run_dir / CONFIG_FILE), resume)
        script = run_dir / SCRIPT_FILE
        atomic_write_text(script, render(job))
        job_id = slurm_commands.sbatch(script)
        # The previous engine's identity goes: the next one records its own, on its node.
        return Submission({"backend": self.name, "job_id": job_id, "status": QUEUED, "submitted": time.time(),
                           "pid": None, "pid_started": None, "host": None, "boot": None})

    def signal(self, record: dict[str, Any], run_dir: Path, signum: int) -> None:
        """scancel --signal: Slurm delivers it to the job step, the engine (or each node's torchrun)."""
        job_id, name = record.get("job_id"), record.get("name") or run_dir.name
        liveness, words = self._look(record, run_dir)
        if job_id is None or liveness == Liveness.GONE:
            raise BackendError(f"run {name}'s engine is gone ({words or 'never submitted'})", "nothing was signalled")
        slurm_commands.scancel(job_id, f"--signal={signals.Signals(signum).name.removeprefix('SIG')}")

    def withdraw(self, record: dict[str, Any], run_dir: Path) -> None:
        """Cancel the job only while it is pending; one that started meanwhile is stopped instead."""
        job_id = record.get("job_id")
        if job_id is None:
            return
        slurm_commands.scancel(job_id, "--state=PENDING")
        view = slurm_commands.job(job_id)
        if view is not None and view.liveness == Liveness.ALIVE:
            name = record.get("name") or run_dir.name
            raise BackendError(f"run {name}'s {view.words()}: it has just started",
                               f"stop it instead: moetui stop {run_dir.name}")

    def liveness(self, record: dict[str, Any], run_dir: Path) -> str:
        return self._look(record, run_dir)[0]

    def detail(self, record: dict[str, Any], run_dir: Path) -> str | None:
        return self._look(record, run_dir)[1]

    def is_remote(self, record: dict[str, Any]) -> bool:
        return True  # the engine runs on a compute node; its heartbeat comes over the shared filesystem

    def _look(self, record: dict[str, Any], run_dir: Path) -> tuple[str, str | None]:
        """Slurm's view of the run's job as (liveness, words). A job gone after its engine
        wrote `end` ended well: over NFS the login node can see events.jsonl (appended, read
        anew at each open) before the replaced run.json, which says how once it shows."""
        job_id = record.get("job_id")
        if job_id is None:
            return Liveness.GONE, None
        view = slurm_commands.job(job_id)
        if view is None:
            return Liveness.UNKNOWN, "Slurm cannot be asked from here: judged by its heartbeat"
        if view.liveness == Liveness.GONE and _ended_since(run_dir / EVENTS_FILE, record.get("submitted")):
            return Liveness.UNKNOWN, f"Slurm job {job_id} ended after the engine's end; run.json catches up"
        return view.liveness, view.words()


def _ended_since(events: Path, submitted: Any) -> bool:
    """True when the last event is an `end` written since the job was submitted."""
    if not isinstance(submitted, (int, float)):
        return False
    try:
        with open(events, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - _TAIL_BYTES))
            lines = handle.read().splitlines()
    except OSError:
        return False
    last = next((event for event in map(parse_line, reversed(lines)) if event is not None), {})
    written = last.get("t")
    return last.get("type") == "end" and isinstance(written, (int, float)) and written >= submitted
