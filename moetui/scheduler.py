"""The queue: runs with status `queued`, started in `queue_order` as devices free up.

The queue lives on disk (each run's run.json), so the TUI reorders or cancels runs by
editing records and a restarted scheduler carries on where the last one stopped. The
scheduler is a detached process (`python -m moetui.scheduler --runs-dir DIR [--gpus 0,1]`),
one per store (an flock on `DIR/.scheduler.lock`), that runs one engine per GPU (its
CUDA_VISIBLE_DEVICES set to that GPU) or, without GPUs, one run at a time, and exits once
nothing is queued. `ensure_scheduler` starts it when it is not already running.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from engine.config import Config
from moetui import launcher, status
from moetui.errors import MoetuiError
from moetui.runs import RunRecord, RunStore, in_queue_order
from moetui.spawn import python_command, spawn

LOCK_FILE = ".scheduler.lock"
LOG_FILE = ".scheduler.log"
CPU = "cpu"  # the one slot when there is no GPU


def study_run_name(study: str, variant: str, seed: int) -> str:
    """The name of one run of a study, wherever it runs (the local queue or Slurm)."""
    return f"{study}-{variant}-s{seed}"


def enqueue(store: RunStore, study: str, preset: str, runs: list[tuple[str, int, Config]]) -> list[RunRecord]:
    """Queue a study's expanded runs (see `presets.study_configs`), in the given order."""
    return [store.create(config, name=study_run_name(study, variant, seed), preset=preset, study=study,
                         variant=variant, seed=seed, status="queued") for variant, seed, config in runs]


def detect_gpus() -> list[str]:
    """Visible GPUs without importing torch: CUDA_VISIBLE_DEVICES when set, else nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def busy_slots(slots: list[str], running: list[RunRecord], host: str) -> set[str]:
    """Slots taken by runs already running on this host, whoever started them. On CPU any
    local run takes the one slot; on GPUs a run takes the GPUs in its record. A Slurm job
    on this host (a workstation that is also a node) holds what Slurm gave it, not a slot."""
    local = [r for r in running if r.host == host and (r.backend or "local") == "local"]
    if slots == [CPU]:
        return {CPU} if local else set()
    taken = {g for r in local for g in (r.gpu or "").split(",") if g}
    return taken & set(slots)


class Scheduler:
    def __init__(self, store: RunStore, gpus: list[str], poll: float = 0.3) -> None:
        self.store = store
        self.slots = gpus or [CPU]
        self.poll = poll
        self.host = socket.gethostname()
        self.children: dict[str, subprocess.Popen] = {}  # slot -> engine it started there

    def tick(self) -> bool:
        """Start what fits; False once nothing is queued (time to exit). Only runs of the
        local backend are this scheduler's; a damaged run is no run to it."""
        for slot, process in list(self.children.items()):
            if process.poll() is not None:
                del self.children[slot]
        records = self.store.list()
        queued = [r for r in in_queue_order(records) if (r.backend or "local") == "local"]
        if not queued:
            return False
        live = [r for r in records if r.status in status.LIVE]
        taken = busy_slots(self.slots, live, self.host) | set(self.children)
        for record, slot in zip(queued, [s for s in self.slots if s not in taken]):
            self._start(record, slot)
        return True

    def _start(self, record: RunRecord, slot: str) -> None:
        """Start one run; whatever happens to it, the scheduler carries on with the others."""
        try:
            process = launcher.launch(self.store, record.id, gpu=None if slot == CPU else slot, pipe=False)
        except MoetuiError as e:  # taken, cancelled, deleted or damaged meanwhile: the next tick sees the new state
            _log(f"skipped {record.id}: {e}")
            return
        except OSError as e:
            _log(f"failed to start {record.id}: {e}")
            with contextlib.suppress(MoetuiError, OSError):
                self.store.update(record.id, status="failed", exit_reason=f"could not start the engine: {e}",
                                  ended=time.time())
            return
        self.children[slot] = process
        _log(f"started {record.id} on {slot} (pid {process.pid})")

    def run(self) -> None:
        while self.tick():
            time.sleep(self.poll)
        _log("queue empty; exiting")


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _try_lock(root: Path) -> IO | None:
    """The store's scheduler lock, held until the handle closes; None when another holds it."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / LOCK_FILE, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def scheduler_running(store: RunStore) -> bool:
    handle = _try_lock(store.root)
    if handle is None:
        return True
    handle.close()
    return False


def ensure_scheduler(store: RunStore, gpus: list[str] | str | None = None) -> int | None:
    """Start the store's scheduler unless one runs; returns the new process id, or None.
    Two callers racing both start one; the loser finds the lock taken and exits."""
    if scheduler_running(store):
        return None
    chosen = launcher.parse_gpus(gpus if not isinstance(gpus, list) else ",".join(gpus))
    command = python_command("moetui.scheduler", "--runs-dir", str(store.root),
                             *(["--gpus", ",".join(chosen)] if chosen else []))
    with open(store.root / LOG_FILE, "ab") as log:
        return spawn(command, stdout=log, stderr=log).pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moetui.scheduler", description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, required=True, help="the run store whose queue to run")
    parser.add_argument("--gpus", default=None, help="comma-separated GPU indices (default: all visible)")
    args = parser.parse_args(argv)
    store = RunStore(args.runs_dir)
    lock = _try_lock(store.root)
    if lock is None:
        _log("another scheduler owns this store; exiting")
        return 0
    gpus = launcher.parse_gpus(args.gpus) if args.gpus else detect_gpus()
    _log(f"scheduler pid {os.getpid()} on {', '.join(gpus) or 'cpu (one run at a time)'}")
    scheduler = Scheduler(store, gpus)
    while lock is not None:
        with lock:
            scheduler.run()
        # A run queued between the last look and the unlock found the lock held and
        # started no scheduler: look once more now that the lock is free.
        lock = _try_lock(store.root) if store.queued() else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
