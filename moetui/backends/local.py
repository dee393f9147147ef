"""The local backend: an engine is a process on this host, in a session of its own.

A process is named by PID + start time + host + boot time (engine/identity.py), never by
PID alone: after a crash or a reboot the recorded PID may belong to an unrelated
process, which is then neither `alive` nor ever signalled. Runs recorded by another host
(a restarted container, a shared store) cannot be probed from here: their liveness is
unknown and their heartbeat decides.
"""

from __future__ import annotations

import contextlib
import os
import signal as signals
import subprocess
from pathlib import Path
from typing import Any, Iterator

import psutil

from engine.heartbeat import touch
from engine.identity import from_record, identify, same_process, this_host
from engine.rundir import CONFIG_FILE, HEARTBEAT_FILE, LOG_FILE
from moetui.backends import BackendError, Submission
from moetui.spawn import python_command, spawn
from moetui.status import Liveness


def engine_command(run_dir: Path, resume: bool, ranks: int, nodes: int = 1) -> list[str]:
    """`python -P -m engine ...`, or torchrun (engine/torchrun.py) with `ranks` processes (one
    per GPU) when there are several or the run spans `nodes` machines. On one machine
    torchrun makes its own rendezvous (--standalone); across machines it reads one from
    the environment (PET_*: the Slurm job script sets them, moetui/slurm_script.py)."""
    args = ["--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)] + (["--resume"] if resume else [])
    if ranks > 1 or nodes > 1:
        rendezvous = ["--standalone"] if nodes == 1 else []
        return python_command("engine.torchrun", *rendezvous, f"--nproc_per_node={ranks}", "-m", "engine", *args)
    return python_command("engine", *args)


def engine_env(gpus: list[str]) -> dict[str, str]:
    env = {"CUDA_VISIBLE_DEVICES": ",".join(gpus)} if gpus else {}
    return {**env, **rank_env(len(gpus))}


def rank_env(ranks: int) -> dict[str, str]:
    """What an engine of several ranks needs in its environment wherever it runs."""
    if ranks <= 1:
        return {}
    # torchrun kills ranks still busy this long after a stop (default 30 s): room to checkpoint
    return {"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": os.environ.get("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", "300")}


class LocalBackend:
    name = "local"

    def submit(self, record: dict[str, Any], run_dir: Path, resume: bool, gpus: list[str],
               pipe: bool) -> Submission:
        touch(run_dir / HEARTBEAT_FILE)  # the engine's first beat comes after torch loads
        held = _stop_signals_held() if len(gpus) <= 1 else contextlib.nullcontext()  # torchrun's agent has its own
        with open(run_dir / LOG_FILE, "ab") as log, held:
            process = spawn(engine_command(run_dir, resume, len(gpus)),
                            stdout=subprocess.PIPE if pipe else subprocess.DEVNULL, stderr=log, env=engine_env(gpus))
        identity = identify(process.pid)
        fields: dict[str, Any] = {"backend": self.name, "pid": process.pid, "host": this_host()}
        if identity is not None:  # None: it died at once; the engine's own record or liveness tells
            fields.update(identity.record())
        return Submission(fields, process)

    def is_remote(self, record: dict[str, Any]) -> bool:
        return record.get("host") not in (None, this_host())

    def withdraw(self, record: dict[str, Any], run_dir: Path) -> None:
        """A local run waits in the store's own queue: taking it off is the caller's record change."""

    def detail(self, record: dict[str, Any], run_dir: Path) -> str | None:
        return None  # the record's pid and host say it all

    def liveness(self, record: dict[str, Any], run_dir: Path) -> str:
        if self.is_remote(record):
            return Liveness.UNKNOWN
        identity = from_record(record)
        if identity is not None:
            return Liveness.ALIVE if same_process(identity) else Liveness.GONE
        return Liveness.ALIVE if _runs_in(record.get("pid"), run_dir) else Liveness.GONE

    def signal(self, record: dict[str, Any], run_dir: Path, signum: int) -> None:
        name = record.get("name") or run_dir.name
        if self.is_remote(record):
            raise BackendError(f"run {name} runs on {record.get('host')}", "stop it from that machine")
        if self.liveness(record, run_dir) != Liveness.ALIVE:
            raise BackendError(f"run {name}'s engine is gone (pid {record.get('pid')} is not its process any more)",
                               "nothing was signalled")
        pid = int(record["pid"])
        try:
            _send(pid, signum)
            if signum != signals.SIGCONT:  # a paused (Ctrl-Z'd) engine handles nothing until continued
                _send(pid, signals.SIGCONT)
        except ProcessLookupError:
            raise BackendError(f"run {name} ended before it could be signalled") from None


def _send(pid: int, signum: int) -> None:
    """The engine leads its own session: signal the group. Under torchrun the agent leads
    it and forwards the signal to every rank (each rank has a session of its own)."""
    if os.getpgid(pid) == pid:
        os.killpg(pid, signum)
    else:
        os.kill(pid, signum)


_STOP_SIGNALS = {signals.SIGTERM, signals.SIGINT}


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Spawn with SIGTERM/SIGINT blocked: the child inherits the mask, so a stop sent while
    its interpreter starts waits until the engine has its handlers and unblocks them
    (engine/__main__.py), instead of killing it before it can say so. Not for torchrun,
    whose agent installs its handlers only once torch has loaded."""
    previous = signals.pthread_sigmask(signals.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signals.pthread_sigmask(signals.SIG_SETMASK, previous)


def _runs_in(pid: Any, run_dir: Path) -> bool:
    """For records written before start times were recorded: the PID is the run's engine
    only if its command line names the run directory."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(run_dir) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
