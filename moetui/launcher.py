"""Start and stop engine processes for runs in the store.

A run's engine runs in its own process session, so closing the terminal, the TUI or the
SSH connection that started it neither signals nor stops it; its stdout is a pipe the
launcher's caller may read (the engine keeps training when the pipe closes) and its
stderr goes to the run's engine.log. Claiming a run (status -> running, pid) happens
under the run.json lock, so the TUI, the CLI and the scheduler never start one twice.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import engine
from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE, LOG_FILE, RUN_FILE, locked, read_run_json
from moetui.errors import MoetuiError
from engine.config import Config
from moetui.runs import RunRecord, RunStore, effective_status, write_record

# The directory that holds the `engine` package: put on PYTHONPATH so that the child finds
# the same engine as this process even when running from an uninstalled checkout.
_ENGINE_ROOT = str(Path(engine.__file__).resolve().parent.parent)


_GPU = re.compile(r"\d+|(GPU|MIG)-[0-9A-Za-z/-]+")  # what CUDA_VISIBLE_DEVICES accepts


class LaunchError(MoetuiError):
    """A run cannot be started or stopped in its current state."""


def engine_command(run_dir: Path, resume: bool, gpus: list[str]) -> list[str]:
    """`python -m engine ...`, or torchrun (engine/torchrun.py) with one process per GPU when given several."""
    args = ["-m", "engine", "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)]
    if resume:
        args.append("--resume")
    if len(gpus) > 1:
        return [sys.executable, "-m", "engine.torchrun", "--standalone", f"--nproc_per_node={len(gpus)}", *args]
    return [sys.executable, *args]


def engine_env(gpus: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ENGINE_ROOT, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    if len(gpus) > 1:  # torchrun kills ranks still busy this long after a stop (default 30 s): room to checkpoint
        env.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", "300")
    return env


def parse_gpus(gpu: str | int | list[str] | None) -> list[str]:
    """`"0,1"`, `1` or `["0", "1"]` -> ["0", "1"]; None -> [] (the engine's own device choice)."""
    if gpu is None:
        return []
    items = gpu if isinstance(gpu, list) else str(gpu).split(",")
    gpus = [str(g).strip() for g in items if str(g).strip()]
    bad = [g for g in gpus if not _GPU.fullmatch(g)]
    if bad:
        raise LaunchError(f"GPU {bad[0]!r} is not a device index or UUID", "give GPU numbers like 0 or 0,1")
    return gpus


def _check_startable(record: dict[str, Any], run_dir: Path, resume: bool) -> None:
    status = effective_status(record)
    name = record.get("name") or run_dir.name
    if status == "running":
        raise LaunchError(f"run {name} is already running (pid {record.get('pid')})")
    again = shlex.join(["moetui", "run", str(run_dir / CONFIG_FILE), "--name", name])
    if resume and status == "completed":  # its checkpoint is at max_steps: a resume would only rewrite its record
        raise LaunchError(f"run {name} already completed; nothing to resume",
                          f"to train longer, start a new run from its config: {again} --set train.max_steps=N")
    if resume and not (run_dir / CHECKPOINT_FILE).is_file():
        raise LaunchError(f"run {name} has no checkpoint to resume from (status {status})",
                          f"start a new run from its config: {again}")
    if not resume and status != "queued":
        raise LaunchError(f"run {name} has already run (status {status})",
                          f"resume it (moetui resume {run_dir.name}) or start a new run")


def launch(store: RunStore, run_id: str, resume: bool = False, gpu: str | int | list[str] | None = None,
           pipe: bool = True) -> subprocess.Popen:
    """Start the engine for a stored run; returns the process, with its stdout pipe when
    `pipe` (a caller that will not read it passes False: a full pipe would stall training)."""
    run_dir = store.path(run_id)
    if not (run_dir / RUN_FILE).is_file():
        raise LaunchError(f"no run {run_id!r} in {store.root}")
    gpus = parse_gpus(gpu)
    with locked(run_dir / RUN_FILE):
        return _claim_and_spawn(run_dir, resume, gpus, pipe)


def start_new(store: RunStore, config: Config, gpu: str | int | list[str] | None = None, pipe: bool = True,
              **fields: Any) -> tuple[RunRecord, subprocess.Popen]:
    """Create a run and start it at once, with no moment in which the scheduler could take
    it from the queue (`fields` as for `RunStore.create`)."""
    gpus = parse_gpus(gpu)
    with store.creating(config, **fields) as record:
        process = _claim_and_spawn(record.path, False, gpus, pipe)
    return store.get(record.id), process


def _claim_and_spawn(run_dir: Path, resume: bool, gpus: list[str], pipe: bool) -> subprocess.Popen:
    """Check, spawn and record the engine; the caller holds the run.json lock. A resume
    without GPUs named goes back to the run's own: a two-GPU run continues on two, with
    the global batch it started with."""
    record = read_run_json(run_dir)
    _check_startable(record, run_dir, resume)
    if resume and not gpus:
        gpus = parse_gpus(record.get("gpu"))
    with open(run_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(engine_command(run_dir, resume, gpus), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE if pipe else subprocess.DEVNULL, stderr=log,
                                   env=engine_env(gpus), start_new_session=True)
    record.update(status="running", pid=process.pid, host=socket.gethostname(), gpu=",".join(gpus) or None,
                  ended=None, exit_reason=None, exit_code=None)
    write_record(run_dir, record)
    return process


def stop(store: RunStore, run_id: str) -> str:
    """Ask a running run to stop (SIGTERM: it checkpoints, then ends as stopped), or take a
    queued run off the queue. Returns what was done, for the caller to tell the person."""
    run_dir = store.path(run_id)
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise LaunchError(f"no run {run_id!r} in {store.root}")
    with locked(path):
        record = read_run_json(run_dir)
        status, name = effective_status(record), record.get("name") or run_id
        if status == "queued":
            record.update(status="stopped", exit_reason="cancelled before it started", ended=time.time())
            write_record(run_dir, record)
            return f"took {name} off the queue"
        if status != "running":
            raise LaunchError(f"run {name} is not running (status {status})", "nothing to stop")
        if record.get("host") != socket.gethostname():
            raise LaunchError(f"run {name} runs on {record.get('host')}", "stop it from that machine")
        pid = int(record["pid"])
    # The engine's session; under torchrun the agent's (each rank has a session of its own),
    # and the agent forwards the signal to every rank.
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    except ProcessLookupError:
        raise LaunchError(f"run {name} ended before it could be stopped") from None
    return f"asked {name} to stop (pid {pid}); it saves a checkpoint first"


def wait_until_ended(store: RunStore, run_id: str, timeout: float, poll: float = 0.2) -> RunRecord | None:
    """The run's record once it is no longer running, or None if `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        record = store.get(run_id)
        if record.status != "running":
            return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
